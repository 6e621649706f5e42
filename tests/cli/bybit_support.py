"""Bybit test fixtures shared by the sandbox, connector and CLI tests: keys, a state, signing."""

from __future__ import annotations

import time
import urllib.request
from typing import Any
from urllib.parse import urlencode

from venue_support import DAY_MS, fetch, key_row, spot_fills
from venue_support import hmac_sha256_hex as sign

BY_READ = {"apiKey": "byReadKey000000001", "secret": "byReadSecretPLANTED00000000000000001"}
BY_TRADE = {"apiKey": "byTradeKey00000002", "secret": "byTradeSecretPLANTED0000000000000002"}
BY_IP = {"apiKey": "byIpKey00000000003", "secret": "byIpSecretPLANTED0000000000000000003"}
BY_BOB = {"apiKey": "byBobKey0000000004", "secret": "byBobSecretPLANTED000000000000000004"}
BY_SECRETS = [value for key in (BY_READ, BY_TRADE, BY_IP, BY_BOB) for value in key.values()]
T0 = (int(time.time() * 1000) // DAY_MS - 40) * DAY_MS  # 40 days ago, at midnight UTC
OLD_DEPOSIT_MS = 1_559_347_200_000  # 2019-06-01: older than the 2 years of trades and the log


def bybit_state() -> dict[str, Any]:
    """Every Bybit source and its traps: an LST-mode OnChain position (SOL) beside its token
    (BBSOL) in Funding, zero rows, a leveraged token; history inside and beyond 2 years."""
    return {
        "exchange": "bybit",
        "tickers": {
            "BTC-USDT": {"last": "60000", "open24h": "58000"},
            "ETH-USDT": {"last": "3000"},
            "SOL-USDT": {"last": "150"},
            "BBSOL-USDT": {"last": "160"},
            "ABC-BTC": {"last": "0.0001"},
        },
        "keys": [
            key_row(BY_READ),
            key_row(BY_TRADE, perm="read_only,trade,withdraw"),
            key_row(BY_IP, ip="203.0.113.9"),
            key_row(BY_BOB, account="bob"),
        ],
        "accounts": {
            "alice": {
                "unified": {"BTC": "0.5", "USDT": "1000", "ABC": "50", "BTC3L": "10"},
                "fund": {"USDT": "40", "BBSOL": "9.5", "ETH": "0"},
                "earn": {"BTC": "0.25", "USDT": "500", "ETH": "0"},
                "earn_onchain": {"SOL": "10", "ETH": "1"},
                "fills": spot_fills(T0),
                "deposits": [
                    {"id": "d1", "asset": "USDT", "amount": "5000", "txid": "0xd1",
                     "ts": T0 - 400 * DAY_MS},
                    {"id": "d2", "asset": "ETH", "amount": "1", "txid": "0xd2", "ts": T0},
                    {"id": "d3", "asset": "BTC", "amount": "0.1", "txid": "0xd3",
                     "ts": OLD_DEPOSIT_MS},
                    {"id": "d4", "asset": "SOL", "amount": "10", "txid": "0xd4",
                     "ts": T0 + DAY_MS, "status": "pending"},
                ],
                "withdrawals": [
                    {"id": "w1", "asset": "USDT", "amount": "100", "fee": "1", "txid": "0xw1",
                     "ts": T0 + 20 * DAY_MS, "network": "TRX"},
                    {"id": "w2", "asset": "USDT", "amount": "20", "txid": "internal-w2",
                     "ts": T0 + 21 * DAY_MS, "network": "internal"},
                ],
            },
            "bob": {"unified": {"BTC": "2"}},
        },
    }  # fmt: skip


def signed(
    url: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    key: dict[str, str] = BY_READ,
    timestamp: int | None = None,
    secret: str | None = None,
    recv_window: str | None = "5000",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One signed Bybit GET (headers as Bybit documents them): (status, JSON, headers)."""
    query = urlencode(params or {})
    stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
    prehash = stamp + key["apiKey"] + (recv_window or "") + query
    sent = {
        "X-BAPI-API-KEY": key["apiKey"],
        "X-BAPI-TIMESTAMP": stamp,
        "X-BAPI-SIGN": sign(secret or key["secret"], prehash),
        **({"X-BAPI-RECV-WINDOW": recv_window} if recv_window is not None else {}),
        **(headers or {}),
    }
    return fetch(urllib.request.Request(f"{url}{path}?{query}", headers=sent))
