"""Refreshing prices: the spot tickers of each linked venue, one public request per venue.

Only venues the user has linked are contacted (a Binance-only user never talks to OKX). An asset is
priced first on a venue that holds it, then on the other linked venues; each price names its
venue and market (``binance:BTC-USDT``). Accounts of exchanges that are not first-class get their
prices from the first-class venues; manual holdings too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.records import Ticker
from keyfolio.errors import ConflictError, ExchangeError, PricingError
from keyfolio.services.context import App

if TYPE_CHECKING:
    from keyfolio.exchanges.pool import ConnectorPool

__all__ = ["price_venues", "refresh_prices"]

logger = logging.getLogger(__name__)


def price_venues(accounts: list[AccountSpec]) -> dict[str, AccountSpec]:
    """One account per linked first-class venue whose host prices it (live before demo)."""
    from keyfolio.exchanges.venues import venue_info

    chosen: dict[str, AccountSpec] = {}
    for spec in sorted(accounts, key=lambda spec: (spec.demo, spec.name)):
        venue = venue_info(spec.exchange)
        if venue is not None and not spec.is_manual:
            chosen.setdefault(venue.id, spec)
    return chosen


async def _venue_tickers(pool: ConnectorPool, spec: AccountSpec) -> dict[str, Ticker]:
    from keyfolio.exchanges.connector import VenueConnector

    connector = pool.public_connector(spec)
    assert isinstance(connector, VenueConnector)
    return await connector.fetch_spot_tickers()


async def refresh_prices(
    app: App, accounts: list[AccountSpec], *, pool: ConnectorPool | None = None
) -> PricingError | None:
    """Fetch each linked venue's spot tickers once and store a price for every held asset.

    Returns the pricing error instead of raising it: balances are already saved, and old prices
    stay in place (with their time) when a venue's refresh fails. ``accounts`` are added to the
    linked ones (an account being linked is not stored yet).
    """
    with app.db().session(read_only=True) as store:
        rows = store.balances(include_excluded=True)
        linked = {spec.name: spec for spec in store.list_accounts()}
    linked.update({spec.name: spec for spec in accounts})
    assets = sorted({row.asset for row in rows})
    if not assets:
        return None
    venues = price_venues(list(linked.values()))
    holders: dict[str, list[str]] = {}
    for row in rows:
        venue = _venue_of(linked.get(row.account))
        if venue is not None and venue not in holders.setdefault(row.asset, []):
            holders[row.asset].append(venue)
    if pool is None:
        from keyfolio.services.assets import connector_pool

        async with connector_pool(app) as own:
            fetched = await _fetch(own, venues)
    else:
        fetched = await _fetch(pool, venues)
    books = {venue: tickers for venue, tickers in fetched.items() if isinstance(tickers, dict)}
    failures = {v: e for v, e in fetched.items() if isinstance(e, ExchangeError)}
    error = _error(failures) if failures else None
    if not books:
        return error
    from keyfolio.pricing.valuation import price_across

    priced = price_across(assets, books, holders=holders, as_of=datetime.now(UTC))
    found = [price for price in priced.values() if price is not None]
    for attempt in range(3):
        try:
            with app.db().session() as store:
                store.upsert_prices(prices=found)
            break
        except ConflictError:  # another process (a hosted worker) added the same new asset
            if attempt == 2:
                raise
    logger.info(
        "priced %d of %d assets from %s",
        sum(p is not None for p in priced.values()),
        len(assets),
        ", ".join(sorted(books)),
    )
    return error


def _venue_of(spec: AccountSpec | None) -> str | None:
    from keyfolio.exchanges.venues import venue_info

    venue = venue_info(spec.exchange) if spec is not None else None
    return venue.id if venue is not None else None


async def _fetch(
    pool: ConnectorPool, venues: dict[str, AccountSpec]
) -> dict[str, dict[str, Ticker] | ExchangeError]:
    async def one(spec: AccountSpec) -> dict[str, Ticker] | ExchangeError:
        try:
            return await _venue_tickers(pool, spec)
        except ExchangeError as exc:
            logger.info("price refresh from %s failed: %s", spec.exchange, exc.message)
            return exc

    results = await asyncio.gather(*(one(spec) for spec in venues.values()))
    return dict(zip(venues, results, strict=True))


def _error(failures: dict[str, ExchangeError]) -> PricingError:
    venue, first = next(iter(failures.items()))
    names = ", ".join(sorted(failures))
    return PricingError(
        f"prices from {names} were not refreshed: {first.message}",
        hint=f"{first.hint} The last known prices are kept, with their time.",
    )
