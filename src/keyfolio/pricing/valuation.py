"""USD prices for assets from the spot tickers of the linked venues, and values. Decimal only.

Rules on one venue's tickers, first match wins:

1. USDT, USDC and USD count 1:1 (source ``par``).
2. ``ASSET-USDT``, then ``ASSET-USDC``, then ``ASSET-USD`` last price.
3. ``ASSET-BTC`` last x ``BTC-USDT`` (or ``BTC-USDC``, ``BTC-USD``) last
   (source ``<venue>:ASSET-BTC*BTC-USDT``).
4. Otherwise the asset is unpriced on that venue.

Across venues (:func:`price_across`), an asset is priced first on the venues that hold it, then on
the other linked venues, in the order given; an asset no venue prices maps to ``None`` and is
never dropped. A market whose last price is zero counts as absent. ``open24h_usd`` follows the same
route from each leg's ``open24h``; it is ``None`` when a leg has none. ``open_basis`` is the
ticker's (``utc_day`` when a leg's open is today's at 00:00 UTC, as on Kraken).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from keyfolio.domain.money import multiply
from keyfolio.domain.records import Price, Ticker

__all__ = ["PAR_ASSETS", "PAR_SOURCE", "price_across", "price_assets", "value_of"]

PAR_ASSETS = frozenset({"USDT", "USDC", "USD"})
PAR_SOURCE = "par"
_USD_QUOTES = ("USDT", "USDC", "USD")
_ONE = Decimal(1)

Market = Mapping[str, Ticker]
"""One venue's spot tickers, keyed by ``BASE-QUOTE``."""


@dataclass(frozen=True)
class _Quote:
    usd: Decimal
    open24h_usd: Decimal | None
    source: str
    open_basis: str = "24h"


def price_assets(
    assets: Iterable[str], tickers: Market, *, as_of: datetime, venue: str = "okx"
) -> dict[str, Price | None]:
    """The USD price of each asset on one venue's tickers (``None`` if unpriced)."""
    return price_across(assets, {venue: tickers}, as_of=as_of)


def price_across(
    assets: Iterable[str],
    venues: Mapping[str, Market],
    *,
    as_of: datetime,
    holders: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Price | None]:
    """The USD price of each asset across the linked venues' tickers.

    ``venues`` maps a venue id to its tickers, in preference order; ``holders`` maps an asset to
    the venues that hold it, tried first. Every asset appears in the result once, in the order
    first seen; codes are matched case-insensitively. ``as_of`` stamps each price.
    """
    result: dict[str, Price | None] = {}
    for asset in assets:
        if asset in result:
            continue
        code = asset.strip().upper()
        first = [v for v in (holders or {}).get(asset, ()) if v in venues]
        order = [*first, *(v for v in venues if v not in first)]
        quote = _par(code)
        for venue in order if quote is None else ():
            quote = _quote(code, venues[venue], venue)
            if quote is not None:
                break
        result[asset] = (
            None
            if quote is None
            else Price(
                asset=asset,
                usd=quote.usd,
                source=quote.source,
                as_of=as_of,
                open24h_usd=quote.open24h_usd,
                open_basis=quote.open_basis,
            )
        )
    return result


def value_of(amount: Decimal, price: Price | None) -> Decimal | None:
    """``amount`` in USD at ``price``, exactly (no rounding); ``None`` if unpriced."""
    if price is None:
        return None
    return multiply(amount, price.usd)


def _par(code: str) -> _Quote | None:
    if code in PAR_ASSETS:
        return _Quote(usd=_ONE, open24h_usd=_ONE, source=PAR_SOURCE)
    return None


def _quote(code: str, tickers: Market, venue: str) -> _Quote | None:
    if not code:
        return None
    for quote_ccy in _USD_QUOTES:
        symbol = f"{code}-{quote_ccy}"
        direct = _usable(tickers.get(symbol))
        if direct is not None:
            return _Quote(
                direct.last, _positive(direct.open24h), f"{venue}:{symbol}", direct.open_basis
            )
    via_btc = _usable(tickers.get(f"{code}-BTC"))
    if via_btc is None:
        return None
    for quote_ccy in _USD_QUOTES:
        btc = _usable(tickers.get(f"BTC-{quote_ccy}"))
        if btc is None:
            continue
        open_leg, open_btc = _positive(via_btc.open24h), _positive(btc.open24h)
        return _Quote(
            usd=multiply(via_btc.last, btc.last),
            open24h_usd=None
            if open_leg is None or open_btc is None
            else multiply(open_leg, open_btc),
            source=f"{venue}:{code}-BTC*BTC-{quote_ccy}",
            open_basis=next((b for b in (via_btc.open_basis, btc.open_basis) if b != "24h"), "24h"),
        )
    return None


def _usable(ticker: Ticker | None) -> Ticker | None:
    """The ticker if it has a positive last price; a zero or empty last counts as absent."""
    if ticker is None or not ticker.last > 0:
        return None
    return ticker


def _positive(value: Decimal | None) -> Decimal | None:
    return value if value is not None and value > 0 else None
