"""Binance test fixtures shared by the sandbox, connector and CLI tests: keys, a state, signing."""

from __future__ import annotations

import time
import urllib.request
from typing import Any
from urllib.parse import urlencode

from venue_support import DAY_MS, fetch, key_row, spot_fills
from venue_support import hmac_sha256_hex as sign

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
T0 = 1_700_000_000_000  # 2023-11-14


def binance_state() -> dict[str, Any]:
    """Every Binance source, the LD mirror trap (LDBTC, LDUSDT) beside a real LDO, history."""
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
            key_row(BN_READ),
            key_row(BN_TRADE, perm="read_only,trade,withdraw"),
            key_row(BN_IP, ip="203.0.113.9"),
            key_row(BN_BOB, account="bob"),
        ],
        "accounts": {
            "alice": {
                "spot": {"BTC": "0.5", "USDT": "1000", "LDO": "300", "ABC": "50"},
                "funding": {"USDT": "40", "BNB": "2"},
                "earn_flexible": {"BTC": "0.25", "USDT": "500"},
                "earn_locked": {"SOL": "10"},
                "fills": spot_fills(T0),
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
