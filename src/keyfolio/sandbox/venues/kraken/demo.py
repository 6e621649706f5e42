"""The Kraken sandbox's demo state (served without ``--state``) and its public demo keys.

Account ``demo`` holds Kraken's traps side by side: legacy codes (``XXBT``, ``XETH``, ``ZUSD``),
an Auto Earn balance (``SOL`` beside ``SOL.F``), staked ETH under two legacy codes (``ETH2`` and
``ETH2.S``), staked DOT (``DOT.S``) and opt-in rewards (``XBT.M``); spot fills in three pairs,
deposits and a withdrawal. The credentials are public demo values for a local fake exchange.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_ACCOUNT", "DEMO_READ_ONLY_KEY", "DEMO_TRADING_KEY", "demo_state_data"]

DEMO_ACCOUNT = "demo"

DEMO_READ_ONLY_KEY: dict[str, str] = {
    "apiKey": "demoKrakenReadOnlyKey+keyfolio/0000000000000000000000001",
    "secret": (
        "a2V5Zm9saW8ga3Jha2VuIGRlbW8gcmVhZC1vbmx5IHByaXZhdGUga2V5Li4uLi4uLi4uLi4uLi4uLi4uLi4uLg=="
    ),
}
"""``perm: read_only`` on account ``demo`` (Query Funds, Query Orders & Trades, Query Ledger)."""

DEMO_TRADING_KEY: dict[str, str] = {
    "apiKey": "demoKrakenTradeWithdrawKey+keyfolio/00000000000000000002",
    "secret": (
        "a2V5Zm9saW8ga3Jha2VuIGRlbW8gdHJhZGUrd2l0aGRyYXcgcHJpdmF0ZSBrZXkuLi4uLi4uLi4uLi4uLi4uLg=="
    ),
}
"""``perm: read_only,trade,withdraw``: keyfolio must refuse it."""

_DAY_MS = 86_400_000
_BASE_TS = 1_761_955_200_000  # 2025-11-01T00:00:00Z


def _fill(symbol: str, side: str, price: str, amount: str, fee: str, day: int) -> dict[str, Any]:
    quote = symbol.split("-")[1]
    return {"symbol": symbol, "side": side, "price": price, "amount": amount, "fee": fee,
            "feeAsset": quote, "ts": _BASE_TS + day * _DAY_MS}  # fmt: skip


def demo_state_data() -> dict[str, Any]:
    """The demo state as a JSON-ready dict (what a ``--state`` file would hold)."""
    return {
        "exchange": "kraken",
        "tickers": {
            "BTC-USD": {"last": "64180.4", "open24h": "63510.1", "vol24h": "2412.7"},
            "ETH-USD": {"last": "3122.51", "open24h": "3190.02", "vol24h": "31877.2"},
            "BTC-USDT": {"last": "64201.1", "open24h": "63522.9"},
            "ETH-USDT": {"last": "3123.9", "open24h": "3189.4"},
            "SOL-USD": {"last": "148.21", "open24h": "141.3", "vol24h": "120345.5"},
            "DOT-USD": {"last": "6.4215", "open24h": "6.3102"},
            "USDT-USD": {"last": "1.0002", "open24h": "1.0001"},
            "ETH-BTC": {"last": "0.04866", "open24h": "0.05021"},
        },
        "keys": [
            {**DEMO_READ_ONLY_KEY, "perm": "read_only", "account": DEMO_ACCOUNT,
             "label": "keyfolio demo (read-only)"},
            {**DEMO_TRADING_KEY, "perm": "read_only,trade,withdraw", "account": DEMO_ACCOUNT,
             "label": "demo trading bot"},
        ],  # fmt: skip
        "accounts": {
            DEMO_ACCOUNT: {
                "balances": {
                    "XXBT": "0.0521",
                    "XBT.M": "0.01",
                    "XETH": "0.75",
                    "ETH2": "0.1",
                    "ETH2.S": "1.2",
                    "ZUSD": "1830.42",
                    "USDT": "950",
                    "SOL": "0",
                    "SOL.F": "25",
                    "DOT.S": "120",
                },
                "fills": [
                    _fill("BTC-USD", "buy", "58210.4", "0.05", "7.27630", 2),
                    _fill("ETH-USD", "buy", "2890.15", "2", "14.45075", 4),
                    _fill("SOL-USD", "buy", "131.2", "25", "8.2", 6),
                    _fill("ETH-USD", "sell", "3210.7", "0.15", "1.203", 20),
                ],
                "deposits": [
                    {"id": "d1", "asset": "ZUSD", "amount": "12000", "txid": "demo-wire-1",
                     "ts": _BASE_TS - 3 * _DAY_MS, "network": "Bank Frick (SEPA)"},
                    {"id": "d2", "asset": "DOT", "amount": "120", "txid": "0xdemo-dot-2",
                     "ts": _BASE_TS + 10 * _DAY_MS, "network": "Polkadot"},
                ],
                "withdrawals": [
                    {"id": "w1", "asset": "USDT", "amount": "500", "fee": "2.5",
                     "txid": "0xdemo-wd-1", "ts": _BASE_TS + 25 * _DAY_MS,
                     "network": "Tether USD (ERC20)"},
                ],
            }
        },
    }  # fmt: skip
