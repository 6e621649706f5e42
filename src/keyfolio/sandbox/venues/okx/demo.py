"""A realistic sandbox state for ``keyfolio demo`` and for tests.

Account ``demo`` holds assets in all four sources (trading, funding, savings, on-chain
earn), including ``ZZZ``, which has no market at all and so stays unpriced. ``XYZ`` is
priced only through ``XYZ-USDC`` and ``ABC`` only through ``ABC-BTC``.

The credentials below are public demo values for a local fake exchange, not secrets.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from keyfolio.sandbox.venues.okx.state import SandboxState, parse_state

__all__ = [
    "DEMO_ACCOUNT",
    "DEMO_READ_ONLY_KEY",
    "DEMO_TRADING_KEY",
    "demo_state",
    "demo_state_data",
]

DEMO_ACCOUNT = "demo"

DEMO_READ_ONLY_KEY: dict[str, str] = {
    "apiKey": "0f1e2d3c-demo-read-only-0000000000",
    "secret": "DEMO0READ0ONLY0SECRET0000000000AA",
    "passphrase": "Demo-Read-Only-1",
}
"""A key with ``perm: "read_only"`` on account ``demo`` (ccxt/python-okx ``password`` is the
passphrase)."""

DEMO_TRADING_KEY: dict[str, str] = {
    "apiKey": "9a8b7c6d-demo-trade-withdraw-00000",
    "secret": "DEMO0TRADE0WITHDRAW0SECRET000000BB",
    "passphrase": "Demo-Trade-1",
}
"""A key with ``perm: "read_only,withdraw,trade"``: keyfolio must refuse to store it."""

_DAY_MS = 86_400_000
_BASE_TS = 1_761_955_200_000  # 2025-11-01T00:00:00Z

_TICKERS: dict[str, dict[str, str]] = {
    "BTC-USDT": {"last": "64250.5", "open24h": "63100.2", "vol24h": "8123.4471"},
    "ETH-USDT": {"last": "3125.42", "open24h": "3201.1", "vol24h": "95321.88"},
    "SOL-USDT": {"last": "148.37", "open24h": "141.02", "vol24h": "1203345.1"},
    "OKB-USDT": {"last": "51.84", "open24h": "52.3", "vol24h": "88412.5"},
    "DOT-USDT": {"last": "6.412", "open24h": "6.5", "vol24h": "2301221.7"},
    "ETH-BTC": {"last": "0.04864", "open24h": "0.05073"},
    "XYZ-USDC": {"last": "0.8734", "open24h": "0.8511", "vol24h": "4410023"},
    "ABC-BTC": {"last": "0.00000412", "open24h": "0.00000405", "vol24h": "91000000"},
    "USDC-USDT": {"last": "0.9998", "open24h": "1.0001"},
}


_HOUR_MS = 3_600_000

# (instId, side, price, size, day, hour, fee): fee None = 0.1 % (in base for buys, quote for
# sells); an explicit fee is in base for buys; a negative one is a maker rebate.
_TRADES: list[tuple[str, str, str, str, int, int, str | None]] = [
    ("BTC-USDT", "buy", "58210.4", "0.25", 0, 9, None),
    ("ETH-USDT", "buy", "2890.15", "2.5", 3, 14, None),
    ("OKB-USDT", "buy", "47.9", "12.5125", 5, 11, "0.0125"),
    ("SOL-USDT", "buy", "131.8", "40", 9, 16, None),
    ("SOL-USDT", "sell", "125.1", "4.96", 12, 10, None),
    ("BTC-USDT", "sell", "61020", "0.05", 15, 8, None),
    ("ETH-BTC", "buy", "0.0492", "0.5005", 15, 8, "0.0005"),
    ("DOT-USDT", "buy", "7.35", "120.12", 20, 13, "0.12"),
    ("DOT-USDT", "buy", "6.91", "300", 21, 15, None),
    ("ETH-USDT", "sell", "3210.7", "0.5", 26, 17, "-0.160535"),
]


def _fills() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for number, (inst_id, side, px, sz, day, hour, explicit) in enumerate(_TRADES):
        base, quote = inst_id.split("-")
        notional = Decimal(px) * Decimal(sz)
        if explicit is not None and explicit.startswith("-"):
            fee = Decimal(explicit)  # a rebate, paid to the account (OKX: positive fee)
        elif explicit is not None:
            fee = Decimal(explicit)
        else:
            fee = Decimal(sz) * Decimal("0.001") if side == "buy" else notional * Decimal("0.001")
        rows.append(
            {
                "instId": inst_id,
                "side": side,
                "fillPx": px,
                "fillSz": sz,
                "fee": f"{-fee.normalize():f}",
                "feeCcy": base if side == "buy" else quote,
                "ts": str(_BASE_TS + day * _DAY_MS + hour * _HOUR_MS + 37_000 * (number + 1)),
            }
        )
    return rows


def demo_state_data() -> dict[str, Any]:
    """The demo state as a JSON-ready dict (the same document a state file would hold)."""
    return {
        "tickers": _TICKERS,
        "keys": [
            {
                **DEMO_READ_ONLY_KEY,
                "perm": "read_only",
                "account": DEMO_ACCOUNT,
                "label": "keyfolio demo (read-only)",
            },
            {
                **DEMO_TRADING_KEY,
                "perm": "read_only,withdraw,trade",
                "account": DEMO_ACCOUNT,
                "label": "demo trading bot",
            },
        ],  # fmt: skip
        "accounts": {
            DEMO_ACCOUNT: {
                "trading": {
                    "BTC": "0.1751254",
                    "ETH": "1.9975",
                    "USDT": "11843.2104",
                    "DOT": "299.7",
                    "ABC": "12500",
                },
                "funding": {"USDT": "250", "OKB": "12.5", "XYZ": "1500", "ZZZ": "4200"},
                "savings": {
                    "USDT": {"amt": "1000", "earnings": "3.1825", "rate": "0.035"},
                    "ETH": "0.5",
                },
                "onchain_earn": [
                    {
                        "ccy": "SOL",
                        "amt": "35",
                        "productId": "4321",
                        "protocol": "Solana staking",
                        "protocolType": "staking",
                        "apy": "0.0712",
                        "earnings": "0.4123",
                        "purchasedTime": str(_BASE_TS + 10 * _DAY_MS),
                    },
                    {
                        "ccy": "DOT",
                        "amt": "120",
                        "productId": "5501",
                        "protocol": "Polkadot staking",
                        "protocolType": "staking",
                        "apy": "0.118",
                        "earnings": "1.905",
                        "purchasedTime": str(_BASE_TS + 22 * _DAY_MS),
                    },
                ],
                "fills": _fills(),
                "deposits": [
                    {"ccy": "USDT", "amt": "5000", "ts": str(_BASE_TS - 2 * _DAY_MS)},
                    {"ccy": "ZZZ", "amt": "4200", "ts": str(_BASE_TS + 12 * _DAY_MS)},
                ],
                "withdrawals": [
                    {"ccy": "USDT", "amt": "300", "fee": "1", "ts": str(_BASE_TS + 30 * _DAY_MS)}
                ],
            }
        },
    }


def demo_state() -> SandboxState:
    """A validated :class:`SandboxState` for ``keyfolio demo``."""
    return parse_state(demo_state_data(), origin="<demo state>")
