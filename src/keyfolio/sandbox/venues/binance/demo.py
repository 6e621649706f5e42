"""The Binance sandbox's demo state (served without ``--state``) and its public demo keys.

Account ``demo`` holds every Binance source: spot (with ``LDO``, a real asset whose code merely
starts with ``LD``), funding, flexible Simple Earn (mirrored in spot as ``LDBTC``/``LDUSDT`` by
the server, as Binance does) and locked Simple Earn; it has spot fills in three markets, deposits
and a withdrawal. The credentials are public demo values for a local fake exchange, not secrets.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_ACCOUNT", "DEMO_READ_ONLY_KEY", "DEMO_TRADING_KEY", "demo_state_data"]

DEMO_ACCOUNT = "demo"

DEMO_READ_ONLY_KEY: dict[str, str] = {
    "apiKey": "demoBinanceReadOnlyKey0000000000000000000000000000000000000000001",
    "secret": "demoBinanceReadOnlySecret000000000000000000000000000000000000001",
}
"""``perm: read_only`` on account ``demo``."""

DEMO_TRADING_KEY: dict[str, str] = {
    "apiKey": "demoBinanceTradeWithdrawKey00000000000000000000000000000000000002",
    "secret": "demoBinanceTradeWithdrawSecret0000000000000000000000000000000002",
}
"""``perm: read_only,trade,withdraw``: keyfolio must refuse it."""

_DAY_MS = 86_400_000
_BASE_TS = 1_761_955_200_000  # 2025-11-01T00:00:00Z


def demo_state_data() -> dict[str, Any]:
    """The demo state as a JSON-ready dict (what a ``--state`` file would hold)."""
    return {
        "exchange": "binance",
        "tickers": {
            "BTC-USDT": {"last": "64250.5", "open24h": "63100.2", "vol24h": "18123.4"},
            "ETH-USDT": {"last": "3125.42", "open24h": "3201.1", "vol24h": "195321.8"},
            "BNB-USDT": {"last": "598.3", "open24h": "590.1", "vol24h": "88412.5"},
            "LDO-USDT": {"last": "1.842", "open24h": "1.9", "vol24h": "4410023"},
            "SOL-USDT": {"last": "148.37", "open24h": "141.02", "vol24h": "1203345.1"},
            "ETH-BTC": {"last": "0.04864", "open24h": "0.05073"},
            "USDC-USDT": {"last": "0.9998", "open24h": "1.0001"},
        },
        "keys": [
            {
                **DEMO_READ_ONLY_KEY,
                "perm": "read_only",
                "account": DEMO_ACCOUNT,
                "label": "keyfolio demo (read-only)",
            },
            {
                **DEMO_TRADING_KEY,
                "perm": "read_only,trade,withdraw",
                "account": DEMO_ACCOUNT,
                "label": "demo trading bot",
            },
        ],  # fmt: skip
        "accounts": {
            DEMO_ACCOUNT: {
                "spot": {
                    "BTC": "0.0499",  # + 0.05 in Simple Earn: the 0.1 bought less its fee
                    "ETH": "1.2485",  # 1.5 bought, less its fee, 0.25 sold
                    "USDT": "2150.5",
                    "BNB": "3.1968",  # 3.2 bought less its fee
                    "LDO": "400",
                },
                "funding": {"USDT": "300", "USDC": "125.5"},
                "earn_flexible": {"BTC": "0.05", "USDT": "1000"},
                "earn_locked": {"SOL": "20"},
                "fills": [
                    {
                        "symbol": "BTC-USDT",
                        "side": "buy",
                        "price": "58210.4",
                        "amount": "0.1",
                        "fee": "0.0001",
                        "feeAsset": "BTC",
                        "ts": _BASE_TS + 2 * _DAY_MS,
                    },
                    {
                        "symbol": "ETH-USDT",
                        "side": "buy",
                        "price": "2890.15",
                        "amount": "1.5",
                        "fee": "0.0015",
                        "feeAsset": "ETH",
                        "ts": _BASE_TS + 4 * _DAY_MS,
                    },
                    {
                        "symbol": "BNB-USDT",
                        "side": "buy",
                        "price": "570",
                        "amount": "3.2",
                        "fee": "0.0032",
                        "feeAsset": "BNB",
                        "ts": _BASE_TS + 6 * _DAY_MS,
                    },
                    {
                        "symbol": "ETH-USDT",
                        "side": "sell",
                        "price": "3210.7",
                        "amount": "0.25",
                        "fee": "0.802675",
                        "feeAsset": "USDT",
                        "ts": _BASE_TS + 20 * _DAY_MS,
                    },
                ],  # fmt: skip
                "deposits": [
                    {
                        "id": "d1",
                        "asset": "USDT",
                        "amount": "12000",
                        "txid": "0xdemo-dep-1",
                        "ts": _BASE_TS - 3 * _DAY_MS,
                        "network": "ETH",
                    },
                    {
                        "id": "d2",
                        "asset": "LDO",
                        "amount": "400",
                        "txid": "0xdemo-dep-2",
                        "ts": _BASE_TS + 10 * _DAY_MS,
                        "network": "ETH",
                    },
                ],  # fmt: skip
                "withdrawals": [
                    {
                        "id": "w1",
                        "asset": "USDT",
                        "amount": "500",
                        "fee": "1",
                        "txid": "0xdemo-wd-1",
                        "ts": _BASE_TS + 25 * _DAY_MS,
                        "network": "TRX",
                    },
                ],  # fmt: skip
            }
        },
    }
