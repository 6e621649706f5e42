"""Kraken test fixtures shared by the sandbox, connector and CLI tests: keys, a state, signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from typing import Any
from urllib.parse import urlencode

import venue_support
from venue_support import DAY_MS, key_row

KR_READ = {
    "apiKey": "krReadKey+0000000000000000000000000000000000000000000001",
    "secret": (
        "UExBTlRFRCBrcmFrZW4gcmVhZCBzZWNyZXQjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIw=="
    ),
}
KR_TRADE = {
    "apiKey": "krTradeKey+000000000000000000000000000000000000000000002",
    "secret": (
        "UExBTlRFRCBrcmFrZW4gdHJhZGUgc2VjcmV0IyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIw=="
    ),
}
KR_IP = {
    "apiKey": "krIpKey+00000000000000000000000000000000000000000000003",
    "secret": (
        "UExBTlRFRCBrcmFrZW4gaXAgc2VjcmV0IyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIw=="
    ),
}
KR_BOB = {
    "apiKey": "krBobKey+0000000000000000000000000000000000000000000004",
    "secret": (
        "UExBTlRFRCBrcmFrZW4gYm9iIHNlY3JldCMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIw=="
    ),
}
KR_WATCH = {
    "apiKey": "krWatchKey+000000000000000000000000000000000000000000005",
    "secret": (
        "UExBTlRFRCBrcmFrZW4gd2F0Y2ggc2VjcmV0IyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIw=="
    ),
}
KR_SECRETS = [key["secret"] for key in (KR_READ, KR_TRADE, KR_IP, KR_BOB, KR_WATCH)]
T0 = 1_700_000_000_000  # 2023-11-14
SMALL_FILLS = 52  # with the 3 below: 55 trades, two pages of TradesHistory


def kraken_state(small_fills: int = SMALL_FILLS) -> dict[str, Any]:
    """Every Kraken trap: legacy codes, Auto Earn beside a zero base row, ETH2 and ETH2.S, bonded
    and staked sub-balances, a fee-credit code without a market; history over several pages
    (``small_fills=0``: one page each, for the CLI journeys)."""

    fills = [
        {"symbol": "BTC-USD", "side": "buy", "price": "40000", "amount": "0.5", "fee": "20",
         "feeAsset": "USD", "ts": T0},
        {"symbol": "ETH-USD", "side": "buy", "price": "2000", "amount": "3", "fee": "6",
         "feeAsset": "USD", "ts": T0 + DAY_MS},
        {"symbol": "ETH-USD", "side": "sell", "price": "2500", "amount": "1", "fee": "2.5",
         "feeAsset": "USD", "ts": T0 + 10 * DAY_MS},
    ] + [
        {"symbol": "BTC-USD", "side": "buy", "price": "41000", "amount": "0.001", "fee": "0.041",
         "feeAsset": "USD", "ts": T0 + 2 * DAY_MS + i * 60_000}
        for i in range(small_fills)
    ]  # fmt: skip
    return {
        "exchange": "kraken",
        "tickers": {
            "BTC-USD": {"last": "60000", "open24h": "58000"},
            "ETH-USD": {"last": "3000", "open24h": "3100"},
            "BTC-USDT": {"last": "60010"},
            "SOL-USD": {"last": "150"},
            "DOT-USD": {"last": "6"},
            "ETH-BTC": {"last": "0.05"},
            "USDT-USD": {"last": "1.0001"},
        },
        "keys": [
            key_row(KR_READ),
            key_row(KR_TRADE, perm="read_only,trade,withdraw"),
            key_row(KR_IP, ip="203.0.113.9"),
            key_row(KR_BOB, account="bob"),
            key_row(KR_WATCH),
        ],
        "accounts": {
            "alice": {
                "balances": {
                    "XXBT": "0.5", "XBT.M": "0.1", "XETH": "2", "ETH2": "0.5", "ETH2.S": "1.5",
                    "ETH.B": "1", "ZUSD": "1000", "USDT": "500", "SOL": "0", "SOL.F": "10",
                    "DOT.S": "100", "KFEE": "250",
                },
                "fills": fills,
                "deposits": [
                    {"id": "d1", "asset": "ZUSD", "amount": "5000", "txid": "wire-d1",
                     "ts": T0 - 400 * DAY_MS},
                    {"id": "d2", "asset": "XETH", "amount": "1", "txid": "0xd2", "ts": T0},
                ],
                "withdrawals": [
                    {"id": "w1", "asset": "USDT", "amount": "100", "fee": "1", "txid": "0xw1",
                     "ts": T0 + 20 * DAY_MS},
                ],
            },
            "bob": {"balances": {"XXBT": "2"}},
        },
    }  # fmt: skip


_last_nonce = [0]


def next_nonce() -> int:
    """A millisecond nonce, strictly increasing in this process (as careful clients make it)."""
    _last_nonce[0] = max(time.time_ns() // 1_000_000, _last_nonce[0] + 1)
    return _last_nonce[0]


def sign(secret: str, path: str, nonce: str, body: str) -> str:
    """Kraken's API-Sign, computed here independently of the sandbox and of the clients."""
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def private(
    url: str,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    key: dict[str, str] = KR_READ,
    nonce: int | None = None,
    secret: str | None = None,
    as_json: bool = False,
) -> tuple[int, Any]:
    """One signed private call (form body, or JSON): (HTTP status, decoded body)."""
    path = f"/0/private/{method}"
    fields = {"nonce": str(nonce if nonce is not None else next_nonce()), **(params or {})}
    body = json.dumps(fields) if as_json else urlencode(fields)
    headers = {
        "API-Key": key["apiKey"],
        "API-Sign": sign(secret or key["secret"], path, fields["nonce"], body),
        "Content-Type": "application/json" if as_json else "application/x-www-form-urlencoded",
    }
    request = urllib.request.Request(url + path, data=body.encode(), headers=headers)
    return fetch(request)


def public(url: str, method: str, query: str = "") -> tuple[int, Any]:
    return fetch(f"{url}/0/public/{method}" + (f"?{query}" if query else ""))


def fetch(request: urllib.request.Request | str) -> tuple[int, Any]:
    """(status, decoded JSON or text) of one request, errors included."""
    status, body, _headers = venue_support.fetch(request)
    return status, body
