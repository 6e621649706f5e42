"""Refreshing prices: one public tickers request per sync, for every asset held."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Region
from keyfolio.errors import PricingError
from keyfolio.services.context import App

__all__ = ["price_host", "refresh_prices"]

logger = logging.getLogger(__name__)


def price_host(settings: Settings, accounts: list[AccountSpec]) -> tuple[str, bool]:
    """Where to read public tickers: the first OKX account's host, else OKX global."""
    from keyfolio.exchanges.okx import region_host

    def host(region: Region, api_url: str | None) -> str:
        return api_url or settings.okx_hosts.get(region.value) or region_host(region)

    # live accounts first: never price a live portfolio from demo-trading tickers
    for spec in sorted(accounts, key=lambda spec: spec.demo):
        if spec.exchange == "okx":
            return host(spec.region, spec.api_url), spec.demo
    return host(Region.GLOBAL, None), False


async def refresh_prices(app: App, accounts: list[AccountSpec]) -> PricingError | None:
    """Fetch OKX spot tickers once and store a price for every held asset.

    Returns the pricing error instead of raising it: balances are already saved, and old
    prices stay in place (with their time) when the refresh fails.
    """
    from keyfolio.pricing.okx_tickers import fetch_spot_tickers
    from keyfolio.pricing.valuation import price_assets

    with app.db().session(read_only=True) as store:
        assets = sorted({row.asset for row in store.balances(include_excluded=True)})
    if not assets:
        return None
    base_url, demo = price_host(app.settings, accounts)
    try:
        tickers = await fetch_spot_tickers(
            base_url, timeout=app.settings.request_timeout_seconds, demo=demo
        )
    except PricingError as exc:
        logger.info("price refresh failed: %s", exc.message)  # the caller reports it
        return exc
    priced = price_assets(assets, tickers, as_of=datetime.now(UTC))
    with app.db().session() as store:
        store.upsert_prices(prices=[price for price in priced.values() if price is not None])
    logger.info(
        "priced %d of %d assets from %s",
        sum(p is not None for p in priced.values()),
        len(assets),
        base_url,
    )
    return None
