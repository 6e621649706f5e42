"""Binance test fixtures shared by the sandbox, connector and CLI tests: keys, a state, signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

BN_READ = {
    "apiKey": "bnReadKey0000000000000000000000000000000000000000000000000000001",
    "secret": "bnReadSecretPLANTED00000000000000000000000000000000000000000001",
}
BN_TRADE = {
    "apiKey": "bnTradeKey000000000000000000000000000000000000000000000000000002",
    "secret": "bnTradeSecretPLANTED0000000000000000000000000000000000000000002",
}
BN_IP = {
    "apiKey": "bnIpKey000000000000000000000000000000000000000000000000000000003",
    "secret": "bnIpSecretPLANTED000000000000000000000000000000000000000000003",
}
BN_BOB = {
    "apiKey": "bnBobKey00000000000000000000000000000000000000000000000000000004",
    "secret": "bnBobSecretPLANTED00000000000000000000000000000000000000000004",
}
BN_SECRETS = [value for key in (BN_READ, BN_TRADE, BN_IP, BN_BOB) for value in key.values()]
DAY_MS = 86_400_000
T0 = 1_700_000_000_000  # 2023-11-14


def binance_state() -> dict[str, Any]:
    """Every Binance source, the LD mirror trap (LDBTC, LDUSDT) beside a real LDO, history."""

    def key(creds: dict[str, str], **extra: Any) -> dict[str, Any]:
        return {**creds, "perm": "read_only", "account": "alice", "label": "tracker", **extra}

    fills = [
        {"symbol": "BTC-USDT", "side": "buy", "price": "40000", "amount": "0.5", "fee": "0.0005",
         "feeAsset": "BTC", "ts": T0 + i * DAY_MS}
        for i in range(3)
    ] + [
        {"symbol": "ETH-USDT", "side": "sell", "price": "2000", "amount": "1", "fee": "2",
         "feeAsset": "USDT", "ts": T0 + 10 * DAY_MS},
    ]  # fmt: skip
    return {
        "exchange": "binance",
        "tickers": {
            "BTC-USDT": {"last": "60000", "open24h": "58000"},
            "ETH-USDT": {"last": "3000"},
            "LDO-USDT": {"last": "2"},
            "BNB-USDT": {"last": "600"},
            "SOL-USDT": {"last": "150"},
            "ABC-BTC": {"last": "0.0001"},
        },
        "keys": [
            key(BN_READ),
            key(BN_TRADE, perm="read_only,trade,withdraw"),
            key(BN_IP, ip="203.0.113.9"),
            key(BN_BOB, account="bob"),
        ],
        "accounts": {
            "alice": {
                "spot": {"BTC": "0.5", "USDT": "1000", "LDO": "300", "ABC": "50"},
                "funding": {"USDT": "40", "BNB": "2"},
                "earn_flexible": {"BTC": "0.25", "USDT": "500"},
                "earn_locked": {"SOL": "10"},
                "fills": fills,
                "deposits": [
                    {"id": "d1", "asset": "USDT", "amount": "5000", "txid": "0xd1",
                     "ts": T0 - 400 * DAY_MS},
                    {"id": "d2", "asset": "ETH", "amount": "1", "txid": "0xd2", "ts": T0},
                ],
                "withdrawals": [
                    {"id": "w1", "asset": "USDT", "amount": "100", "fee": "1", "txid": "0xw1",
                     "ts": T0 + 20 * DAY_MS},
                ],
            },
            "bob": {"spot": {"BTC": "2"}},
        },
    }  # fmt: skip


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed(
    url: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    key: dict[str, str] = BN_READ,
    method: str = "GET",
    timestamp: int | None = None,
    secret: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One signed Binance request (query for GET, form body for POST): (status, JSON, headers)."""
    query = dict(params or {})
    query.setdefault("timestamp", timestamp if timestamp is not None else int(time.time() * 1000))
    payload = urlencode(query)
    signature = sign(secret or key["secret"], payload)
    sent = {"X-MBX-APIKEY": key["apiKey"], **(headers or {})}
    if method == "GET":
        request = urllib.request.Request(
            f"{url}{path}?{payload}&signature={signature}", headers=sent
        )
    else:
        request = urllib.request.Request(
            f"{url}{path}",
            data=f"{payload}&signature={signature}".encode(),
            headers={**sent, "Content-Type": "application/x-www-form-urlencoded"},
            method=method,
        )
    return fetch(request)


def fetch(request: urllib.request.Request | str) -> tuple[int, Any, dict[str, str]]:
    """(status, decoded JSON or text, headers) of one request, errors included."""
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, _decode(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read()), dict(exc.headers)


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
