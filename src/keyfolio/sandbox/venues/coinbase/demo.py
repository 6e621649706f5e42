"""The Coinbase sandbox's demo state (served without ``--state``) and its public demo keys.

Account ``demo`` holds crypto wallets (one partly on hold), USD cash, Celo under Coinbase's old
code ``CGLD``, legacy staked ETH (``ETH2``) and a legacy ``Staked ADA`` wallet; it has
Advanced Trade fills, a bank deposit, a crypto deposit and a crypto withdrawal. The keys are
public demo values for a local fake exchange, not secrets: the read-only key is an Ed25519 key
in the portal's one-line form, the other an ECDSA key in PEM that can trade and transfer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_ACCOUNT", "DEMO_READ_ONLY_KEY", "DEMO_TRADING_KEY", "demo_state_data"]

DEMO_ACCOUNT = "demo"

DEMO_READ_ONLY_KEY: dict[str, str] = {
    "apiKey": "9f1c3a52-7d0e-4b8a-a1f4-0c2e6b5d7a10",
    "secret": "sx8ObnnhCCTq6RSwUKcbDfaRNaamcY+UBMQ4CdqVao8/"
    "MtmqZpJye2Cs+Jy6CZY08VrbEVm4gC4UAzX2j7pgyQ==",
}
"""``perm: read_only`` (View) on account ``demo``: an Ed25519 key (EdDSA JWTs)."""

DEMO_TRADING_KEY: dict[str, str] = {
    "apiKey": "organizations/demo-org-0000/apiKeys/demo-trading-key-0001",
    "secret": "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIJK7WVYWlKYb+2QVu3+r2TUatnDTApiolXcO+04iD5X2oAoGCCqGSM49\n"
    "AwEHoUQDQgAEuteQ/Hu3xdLIWdlHvS+tsFg2CntC0CafMd6mtPlhtcngy7AJXoBW\n"
    "5RzlKNKMq9ojtBPxm5dPh33Lg/Fe83OeIw==\n"
    "-----END EC PRIVATE KEY-----\n",
}
"""``perm: read_only,trade,withdraw`` (View, Trade, Transfer): keyfolio must refuse it. An ECDSA
P-256 key (ES256 JWTs)."""

_DAY_MS = 86_400_000
_BASE_TS = 1_761_955_200_000  # 2025-11-01T00:00:00Z


def demo_state_data() -> dict[str, Any]:
    """The demo state as a JSON-ready dict (what a ``--state`` file would hold)."""
    fills = [
        ("BTC-USD", "buy", "58210.4", "0.1", "5.82104", 2),
        ("ETH-USD", "buy", "2890.15", "1.5", "4.335225", 4),
        ("CGLD-USD", "buy", "0.62", "800", "0.496", 6),
        ("ETH-USD", "sell", "3210.7", "0.25", "0.802675", 20),
    ]
    return {
        "exchange": "coinbase",
        "tickers": {
            "BTC-USD": {"last": "64250.5", "open24h": "63100.2", "vol24h": "18123.4"},
            "ETH-USD": {"last": "3125.42", "open24h": "3201.1", "vol24h": "195321.8"},
            "SOL-USD": {"last": "148.37", "open24h": "141.02", "vol24h": "1203345.1"},
            "ADA-USD": {"last": "0.4512", "open24h": "0.4437"},
            "CGLD-USD": {"last": "0.6123", "open24h": "0.6011"},
            "ETH-BTC": {"last": "0.04864", "open24h": "0.05073"},
            "USDT-USD": {"last": "1.0002", "open24h": "0.9998"},
        },
        "keys": [
            {
                **DEMO_READ_ONLY_KEY,
                "perm": "read_only",
                "account": DEMO_ACCOUNT,
                "label": "keyfolio demo (View)",
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
                "wallets": {
                    "BTC": "0.1421",
                    "ETH": "1.25",
                    "USD": "2150.5",
                    "USDC": "300",
                    "SOL": "12",
                    "CGLD": "800",
                    "ETH2": "0.5",
                },  # fmt: skip
                "holds": {"BTC": "0.02", "USD": "150"},
                "staked": {"ADA": "1500"},
                "fills": [
                    {
                        "symbol": symbol,
                        "side": side,
                        "price": price,
                        "amount": amount,
                        "fee": fee,
                        "feeAsset": "USD",
                        "ts": _BASE_TS + day * _DAY_MS,
                    }
                    for symbol, side, price, amount, fee, day in fills
                ],  # fmt: skip
                "deposits": [
                    {"id": "d1", "asset": "USD", "amount": "12000", "ts": _BASE_TS - _DAY_MS},
                    {
                        "id": "d2",
                        "asset": "BTC",
                        "amount": "0.05",
                        "txid": "0xdemo-dep-2",
                        "ts": _BASE_TS + 10 * _DAY_MS,
                        "network": "bitcoin",
                    },
                ],  # fmt: skip
                "withdrawals": [
                    {
                        "id": "w1",
                        "asset": "USDC",
                        "amount": "500",
                        "fee": "1.5",
                        "txid": "0xdemo-wd-1",
                        "ts": _BASE_TS + 25 * _DAY_MS,
                        "network": "ethereum",
                        "address": "0x22d3aa0c5f6b1e9d8c7b6a5f4e3d2c1b0a998877",
                    },
                ],  # fmt: skip
            }
        },
    }
