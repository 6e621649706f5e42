"""USD prices for assets from OKX spot tickers, and values of amounts. Decimal only.

Rules, first match wins:

1. USDT, USDC and USD count 1:1 (source ``par``).
2. ``ASSET-USDT`` last price.
3. ``ASSET-USDC`` last price.
4. ``ASSET-BTC`` last x ``BTC-USDT`` last (source ``okx:ASSET-BTC*BTC-USDT``).
5. Otherwise the asset is unpriced: it maps to ``None`` and is never dropped.

A market whose last price is zero or empty counts as absent, so the next rule is tried.
``open24h_usd`` is computed along the same route from ``open24h``; it is ``None`` when any
leg has no usable ``open24h``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from keyfolio.domain.money import multiply
from keyfolio.domain.records import Price
from keyfolio.pricing.okx_tickers import Ticker

__all__ = ["BTC_USDT", "PAR_ASSETS", "PAR_SOURCE", "price_assets", "value_of"]

PAR_ASSETS = frozenset({"USDT", "USDC", "USD"})
PAR_SOURCE = "par"
BTC_USDT = "BTC-USDT"
_ONE = Decimal(1)


@dataclass(frozen=True)
class _Quote:
    usd: Decimal
    open24h_usd: Decimal | None
    source: str


def price_assets(
    assets: Iterable[str], tickers: Mapping[str, Ticker], *, as_of: datetime
) -> dict[str, Price | None]:
    """The USD price of each asset (``None`` if unpriced), keyed by the asset as given.

    Every asset appears in the result, in the order first seen. ``as_of`` stamps each price
    (normally the time the tickers were fetched). Asset codes are matched case-insensitively.
    """
    result: dict[str, Price | None] = {}
    for asset in assets:
        if asset in result:
            continue
        quote = _quote(asset.strip().upper(), tickers)
        result[asset] = (
            None
            if quote is None
            else Price(
                asset=asset,
                usd=quote.usd,
                source=quote.source,
                as_of=as_of,
                open24h_usd=quote.open24h_usd,
            )
        )
    return result


def value_of(amount: Decimal, price: Price | None) -> Decimal | None:
    """``amount`` in USD at ``price``, exactly (no rounding); ``None`` if unpriced."""
    if price is None:
        return None
    return multiply(amount, price.usd)


def _quote(code: str, tickers: Mapping[str, Ticker]) -> _Quote | None:
    if not code:
        return None
    if code in PAR_ASSETS:
        return _Quote(usd=_ONE, open24h_usd=_ONE, source=PAR_SOURCE)
    for quote_ccy in ("USDT", "USDC"):
        inst_id = f"{code}-{quote_ccy}"
        direct = _usable(tickers.get(inst_id))
        if direct is not None:
            return _Quote(
                usd=direct.last, open24h_usd=_positive(direct.open24h), source=f"okx:{inst_id}"
            )
    via_btc = _usable(tickers.get(f"{code}-BTC"))
    btc = _usable(tickers.get(BTC_USDT))
    if via_btc is not None and btc is not None:
        open_leg, open_btc = _positive(via_btc.open24h), _positive(btc.open24h)
        return _Quote(
            usd=multiply(via_btc.last, btc.last),
            open24h_usd=None
            if open_leg is None or open_btc is None
            else multiply(open_leg, open_btc),
            source=f"okx:{code}-BTC*{BTC_USDT}",
        )
    return None


def _usable(ticker: Ticker | None) -> Ticker | None:
    """The ticker if it has a positive last price; a zero or empty last counts as absent."""
    if ticker is None or not ticker.last > 0:
        return None
    return ticker


def _positive(value: Decimal | None) -> Decimal | None:
    return value if value is not None and value > 0 else None
