"""USD prices for assets from the spot tickers of the linked venues, and values. Decimal only.

Every price is a chain of markets ending in USD. The units a market may be quoted in are priced
first, in this order (the circularity USDT <-> USDC is cut by the order):

1. ``USD`` is 1 (source ``usd``): the currency itself, not an assumption.
2. Each USD stablecoin (:data:`~keyfolio.domain.assets.USD_STABLECOINS`, in that order: USDT,
   USDC, DAI, ...) is priced from its ``S-USD`` market, else from its market against an
   earlier stablecoin (``USDC-USDT`` x the price of USDT), else **at par**: 1, source ``par``
   (assumed 1:1, only when no linked venue has a market for it).
3. Any other asset: ``ASSET-USDT``, then ``ASSET-USDC``, then ``ASSET-USD`` last price, times
   the USD price of the quote; else ``ASSET-BTC`` x ``BTC-USDT`` (or ``-USDC``, ``-USD``) on the
   same venue, times the quote's price.

Each market is looked up on the venues that hold the asset first, then on the other linked
venues, in the order given; a market whose last price is zero counts as absent; an asset no
venue prices maps to ``None`` and is never dropped. The source names the legs, the venue written
once per run of legs on it: ``okx:ABC-BTC*BTC-USDT``, ``kraken:USDC-USDT*USDT-USD``,
``binance:BTC-USDT*kraken:USDT-USD``. A quote at par adds no leg (``okx:BTC-USDT`` with USDT at
par). ``open24h_usd`` follows the same legs' ``open24h`` (1 for ``usd`` and ``par``); it is
``None`` when a leg has none. ``as_of`` is the oldest leg's ticker time (the venue's own ``ts``),
or the time of pricing for ``usd`` and ``par``. ``open_basis`` is ``utc_day`` when a leg's open
is today's at 00:00 UTC (as on Kraken), else ``24h``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from keyfolio.domain.assets import USD, USD_STABLECOINS
from keyfolio.domain.money import multiply
from keyfolio.domain.records import Price, Ticker

__all__ = [
    "PAR_SOURCE",
    "STABLECOINS",
    "USD_SOURCE",
    "price_across",
    "price_assets",
    "route_of",
    "value_of",
]

STABLECOINS = frozenset(USD_STABLECOINS)
PAR_SOURCE = "par"
"""The source of a stablecoin no linked venue has a market for: assumed 1:1 with USD."""
USD_SOURCE = "usd"
"""The source of USD itself."""
_QUOTES = ("USDT", "USDC", USD)
_ONE = Decimal(1)

Market = Mapping[str, Ticker]
"""One venue's spot tickers, keyed by ``BASE-QUOTE``."""

Leg = tuple[str, Ticker]
"""One market of a chain: (venue, ticker)."""


@dataclass(frozen=True)
class _Quote:
    usd: Decimal
    open24h_usd: Decimal | None
    legs: tuple[Leg, ...]
    source: str = ""

    def times(self, venue: str, ticker: Ticker) -> _Quote:
        """``ticker``'s last price in USD: this quote (the price of its quote unit) x last."""
        opened = _positive(ticker.open24h)
        return _Quote(
            usd=multiply(ticker.last, self.usd),
            open24h_usd=None
            if opened is None or self.open24h_usd is None
            else multiply(opened, self.open24h_usd),
            legs=((venue, ticker), *self.legs),
        )


_USD = _Quote(_ONE, _ONE, (), USD_SOURCE)
_PAR = _Quote(_ONE, _ONE, (), PAR_SOURCE)


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
    first seen; codes are matched case-insensitively. A market price is stamped with its oldest
    leg's ticker time; ``as_of`` stamps the prices of USD and of stablecoins at par.
    """
    resolver = _Resolver(venues, holders or {})
    result: dict[str, Price | None] = {}
    for asset in assets:
        if asset in result:
            continue
        quote = resolver.price(asset.strip().upper())
        result[asset] = None if quote is None else _price(asset, quote, as_of)
    return result


def value_of(amount: Decimal, price: Price | None) -> Decimal | None:
    """``amount`` in USD at ``price``, exactly (no rounding); ``None`` if unpriced."""
    if price is None:
        return None
    return multiply(amount, price.usd)


def route_of(source: str) -> tuple[tuple[str, str], ...]:
    """The (venue, market) legs a price's source names; none for ``usd`` and ``par``.

    ``binance:BTC-USDT*kraken:USDT-USD`` -> ``(("binance", "BTC-USDT"), ("kraken", "USDT-USD"))``.
    """
    legs: list[tuple[str, str]] = []
    venue = ""
    for part in source.split("*") if ":" in source else ():
        if ":" in part:
            venue, _, part = part.partition(":")
        legs.append((venue, part))
    return tuple(legs)


def _price(asset: str, quote: _Quote, as_of: datetime) -> Price:
    if not quote.legs:
        return Price(asset, quote.usd, quote.source, as_of, open24h_usd=quote.open24h_usd)
    parts: list[str] = []
    last_venue = None
    for venue, ticker in quote.legs:
        parts.append(ticker.symbol if venue == last_venue else f"{venue}:{ticker.symbol}")
        last_venue = venue
    return Price(
        asset=asset,
        usd=quote.usd,
        source="*".join(parts),
        as_of=min(ticker.ts for _, ticker in quote.legs),
        open24h_usd=quote.open24h_usd,
        open_basis=next((t.open_basis for _, t in quote.legs if t.open_basis != "24h"), "24h"),
    )


class _Resolver:
    """One pricing run: the units (USD, stablecoins) are priced once and reused."""

    def __init__(self, venues: Mapping[str, Market], holders: Mapping[str, Sequence[str]]):
        self._venues = venues
        self._holders = {key.strip().upper(): value for key, value in holders.items()}
        self._units: dict[str, _Quote] = {USD: _USD}

    def _order(self, code: str) -> list[str]:
        first = [v for v in self._holders.get(code, ()) if v in self._venues]
        return [*first, *(v for v in self._venues if v not in first)]

    def _market(self, code: str, symbol: str) -> tuple[str, Ticker] | None:
        """``symbol`` on the first venue (holders of ``code`` first) where it is usable."""
        for venue in self._order(code):
            ticker = _usable(self._venues[venue].get(symbol))
            if ticker is not None:
                return venue, ticker
        return None

    def unit(self, code: str) -> _Quote:
        """The USD price of USD or a stablecoin (at par when no market prices it)."""
        known = self._units.get(code)
        if known is not None:
            return known
        quote = _PAR
        earlier = USD_STABLECOINS[: USD_STABLECOINS.index(code)]
        for quote_ccy in (USD, *earlier):
            found = self._market(code, f"{code}-{quote_ccy}")
            if found is not None:
                quote = self.unit(quote_ccy).times(*found)
                break
        self._units[code] = quote
        return quote

    def price(self, code: str) -> _Quote | None:
        if not code:
            return None
        if code in self._units or code in STABLECOINS:
            return self.unit(code)
        for venue in self._order(code):
            quote = self._on(venue, code)
            if quote is not None:
                return quote
        return None

    def _on(self, venue: str, code: str) -> _Quote | None:
        tickers = self._venues[venue]
        for quote_ccy in _QUOTES:
            direct = _usable(tickers.get(f"{code}-{quote_ccy}"))
            if direct is not None:
                return self.unit(quote_ccy).times(venue, direct)
        via_btc = _usable(tickers.get(f"{code}-BTC"))
        if via_btc is None:
            return None
        for quote_ccy in _QUOTES:
            btc = _usable(tickers.get(f"BTC-{quote_ccy}"))
            if btc is not None:
                return self.unit(quote_ccy).times(venue, btc).times(venue, via_btc)
        return None


def _usable(ticker: Ticker | None) -> Ticker | None:
    """The ticker if it has a positive last price; a zero or empty last counts as absent."""
    if ticker is None or not ticker.last > 0:
        return None
    return ticker


def _positive(value: Decimal | None) -> Decimal | None:
    return value if value is not None and value > 0 else None
