"""What the venue fixture modules (binance_support, bybit_support, coinbase_support,
kraken_support) share: a key row of a sandbox state, the usual fills, HMAC signing and a
urllib client that returns HTTP errors instead of raising them."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

DAY_MS = 86_400_000


def key_row(creds: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A key of a sandbox state: read only, alice's, labelled "tracker", unless ``extra`` says."""
    return {**creds, "perm": "read_only", "account": "alice", "label": "tracker", **extra}


def spot_fills(
    t0: int,
    *,
    quote: str = "USDT",
    btc_fee: str = "0.0005",
    btc_fee_asset: str = "BTC",
    eth_fee_asset: str | None = "USDT",
) -> list[dict[str, Any]]:
    """Three buys of 0.5 BTC at 40000 on the days from ``t0``, then a sale of 1 ETH at 2000 on
    day 10 (fee 2, in ``eth_fee_asset``, or with no fee asset given when it is None)."""
    buys = [
        {"symbol": f"BTC-{quote}", "side": "buy", "price": "40000", "amount": "0.5",
         "fee": btc_fee, "feeAsset": btc_fee_asset, "ts": t0 + i * DAY_MS}
        for i in range(3)
    ]  # fmt: skip
    sale: dict[str, Any] = {"symbol": f"ETH-{quote}", "side": "sell", "price": "2000",
                            "amount": "1", "fee": "2", "ts": t0 + 10 * DAY_MS}  # fmt: skip
    if eth_fee_asset is not None:
        sale["feeAsset"] = eth_fee_asset
    return [*buys, sale]


def hmac_sha256_hex(secret: str, payload: str) -> str:
    """The signature Binance and Bybit document (hex HMAC-SHA256), computed independently."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


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
