"""The Bybit sandbox's demo state (served without ``--state``) and its public demo keys.

Account ``demo`` holds every Bybit source: the Unified wallet (with ``MNT``, Bybit's own token),
Funding (with ``BBSOL``, the staked SOL an LST-mode OnChain position credits), Flexible Saving
and OnChain Earn (a ``SOL`` position in LST mode, counted as the ``BBSOL`` it credited, and an
``ETH`` position); it has spot fills in three markets, deposits, and two withdrawals (one
internal). The credentials are public demo values for a local fake exchange, not secrets.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_ACCOUNT", "DEMO_READ_ONLY_KEY", "DEMO_TRADING_KEY", "demo_state_data"]

DEMO_ACCOUNT = "demo"

DEMO_READ_ONLY_KEY: dict[str, str] = {
    "apiKey": "demoBybitReadOnly1",
    "secret": "demoBybitReadOnlySecret0000000000001",
}
"""``perm: read_only`` on account ``demo`` (Bybit keys are 18 characters, secrets 36)."""

DEMO_TRADING_KEY: dict[str, str] = {
    "apiKey": "demoBybitTrading02",
    "secret": "demoBybitTradingSecret00000000000002",
}
"""``perm: read_only,trade,withdraw``: keyfolio must refuse it."""

_DAY_MS = 86_400_000
_BASE_TS = 1_761_955_200_000  # 2025-11-01T00:00:00Z


def _fill(symbol: str, side: str, price: str, amount: str, fee: str, day: int) -> dict[str, Any]:
    base, quote = symbol.split("-")
    return {
        "symbol": symbol,
        "side": side,
        "price": price,
        "amount": amount,
        "fee": fee,
        "feeAsset": base if side == "buy" else quote,
        "ts": _BASE_TS + day * _DAY_MS,
    }


def demo_state_data() -> dict[str, Any]:
    """The demo state as a JSON-ready dict (what a ``--state`` file would hold)."""
    return {
        "exchange": "bybit",
        "tickers": {
            "BTC-USDT": {"last": "64310.2", "open24h": "63250.8", "vol24h": "9876.5"},
            "ETH-USDT": {"last": "3118.75", "open24h": "3190.4", "vol24h": "120345.2"},
            "SOL-USDT": {"last": "148.52", "open24h": "142.1", "vol24h": "850321.7"},
            "BBSOL-USDT": {"last": "156.31", "open24h": "149.6", "vol24h": "10234.4"},
            "MNT-USDT": {"last": "0.8123", "open24h": "0.7988", "vol24h": "21034567"},
            "ETH-BTC": {"last": "0.04849", "open24h": "0.05044"},
            "USDC-USDT": {"last": "0.9999", "open24h": "1.0002"},
        },
        "keys": [
            {**DEMO_READ_ONLY_KEY, "perm": "read_only", "account": DEMO_ACCOUNT,
             "label": "keyfolio demo (read-only)"},
            {**DEMO_TRADING_KEY, "perm": "read_only,trade,withdraw", "account": DEMO_ACCOUNT,
             "label": "demo trading bot"},
        ],
        "accounts": {
            DEMO_ACCOUNT: {
                "unified": {"BTC": "0.0352", "ETH": "0.8", "USDT": "1850.25", "MNT": "500"},
                "fund": {"USDT": "420", "USDC": "150", "BBSOL": "4.75"},
                "earn": {"USDT": "1000", "BTC": "0.02"},
                "earn_onchain": {"SOL": "5", "ETH": "0.3"},
                "fills": [
                    _fill("BTC-USDT", "buy", "58210.4", "0.05", "0.00005", 2),
                    _fill("ETH-USDT", "buy", "2890.15", "1", "0.001", 4),
                    _fill("MNT-USDT", "buy", "0.71", "500", "0.5", 6),
                    _fill("ETH-USDT", "sell", "3210.7", "0.2", "0.64214", 20),
                ],
                "deposits": [
                    {"id": "d1", "asset": "USDT", "amount": "8000", "txid": "0xdemo-dep-1",
                     "ts": _BASE_TS - 3 * _DAY_MS, "network": "ETH"},
                    {"id": "d2", "asset": "SOL", "amount": "5", "txid": "demo-dep-2",
                     "ts": _BASE_TS + 10 * _DAY_MS, "network": "SOL"},
                ],
                "withdrawals": [
                    {"id": "w1", "asset": "USDT", "amount": "500", "fee": "1",
                     "txid": "0xdemo-wd-1", "ts": _BASE_TS + 25 * _DAY_MS, "network": "TRX"},
                    {"id": "w2", "asset": "USDT", "amount": "20", "fee": "0",
                     "txid": "demo-internal-2", "ts": _BASE_TS + 26 * _DAY_MS,
                     "network": "internal"},
                ],
            }
        },
    }  # fmt: skip
