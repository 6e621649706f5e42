"""The live engine's prices: held assets repriced from a venue's public ticker stream.

A venue with a public ticker stream keyfolio follows (OKX's ``tickers``) reprices the markets
that price the held assets: the ``okx:...`` routes of the stored prices, e.g. ``BTC-USDT`` or
``ABC-BTC`` + ``BTC-USDT``. A changed price is written and announced as ``portfolio.updated``
reason ``price`` to each portfolio that holds the asset, at most once per ``interval`` seconds.
:class:`~keyfolio.services.live.LiveEngine` owns one :class:`LivePrices`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.records import Price
from keyfolio.errors import KeyfolioError
from keyfolio.services.context import App
from keyfolio.services.pricing import refresh_prices

if TYPE_CHECKING:
    from keyfolio.domain.records import Ticker
    from keyfolio.exchanges.stream import TickerPush

__all__ = ["LivePrices"]

logger = logging.getLogger(__name__)


class LivePrices:
    """Follows the markets that price the held assets, reprices on each tick, writes changes.

    ``lock`` is the engine's write lock (one database write at a time); ``publish(portfolio,
    account, reason)`` announces a change. ``stream`` is the venue's public ticker stream, set
    by the engine when one is followed.
    """

    def __init__(
        self,
        app: App,
        *,
        lock: asyncio.Lock,
        interval: float,
        publish: Callable[[str, str | None, str], None],
    ) -> None:
        self.app = app
        self.stream: Any = None
        self._lock = lock
        self._interval = interval
        self._publish = publish
        self._routes: dict[str, tuple[str, ...]] = {}
        self._ticks: dict[str, Ticker] = {}
        self._prices: dict[str, Price] = {}
        self._pending: dict[str, Price] = {}
        self._dirty = asyncio.Event()
        self._portfolio_assets: dict[str, set[str]] = {}

    async def refresh(self, specs: Sequence[AccountSpec]) -> None:
        """Refresh the stored prices of the accounts' assets from the venues' REST tickers,
        then follow their markets (:meth:`refresh_routes`)."""
        error = await refresh_prices(self.app, list(specs))
        if error is not None:
            logger.info("live: prices not refreshed: %s", error.message)
        await self.refresh_routes(specs)

    async def refresh_routes(self, specs: Sequence[AccountSpec]) -> None:
        """Follow the markets that price the assets the accounts hold (from the stored prices'
        routes: those whose every leg is an OKX market)."""
        from keyfolio.pricing.valuation import route_of

        portfolios = {spec.name: spec.portfolio for spec in specs}

        def read() -> tuple[dict[str, Price], dict[str, set[str]]]:
            with self.app.db().session(read_only=True) as store:
                prices = store.prices()
                held: dict[str, set[str]] = {}
                for row in store.balances(include_excluded=True):
                    if row.account in portfolios:
                        held.setdefault(portfolios[row.account], set()).add(row.asset)
            return prices, held

        prices, held = await asyncio.to_thread(read)
        self._portfolio_assets = held
        assets = set().union(*held.values()) if held else set()
        self._prices = {**prices, **self._pending}
        routes = {asset: route_of(price.source) for asset, price in prices.items()}
        self._routes = {
            asset: tuple(market for _venue, market in route)
            for asset, route in routes.items()
            if asset in assets and route and all(venue == "okx" for venue, _ in route)
        }
        if self.stream is not None:
            self.stream.watch({inst for route in self._routes.values() for inst in route})

    def on_tick(self, push: TickerPush) -> None:
        """Reprice every followed asset whose route the tick's market is part of."""
        from keyfolio.domain.records import Ticker
        from keyfolio.pricing.valuation import price_assets

        self._ticks[push.symbol] = Ticker(push.symbol, push.last, push.open24h, push.ts)
        now = datetime.now(UTC)
        for asset, route in self._routes.items():
            if push.symbol not in route or not all(inst in self._ticks for inst in route):
                continue
            ticks = {inst: self._ticks[inst] for inst in route}
            price = price_assets([asset], ticks, as_of=now)[asset]
            known = self._prices.get(asset)
            if price is None or (known is not None and known.usd == price.usd):
                continue
            self._pending[asset] = price
            self._prices[asset] = price
            self._dirty.set()

    def _save(self, prices: list[Price]) -> None:
        with self.app.db().session() as store:
            store.upsert_prices(prices=prices)

    async def flush(self) -> None:
        """Write changed prices and announce them, at most once per ``interval``."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            pending, self._pending = self._pending, {}
            if not pending:
                continue

            try:
                async with self._lock:
                    await asyncio.to_thread(self._save, list(pending.values()))
            except KeyfolioError as exc:
                logger.warning("live: prices not saved: %s", exc.message)
                continue
            for portfolio, assets in sorted(self._portfolio_assets.items()):
                if assets & pending.keys():
                    self._publish(portfolio, None, "price")
            await asyncio.sleep(self._interval)
