"""The live engine behind `keyfolio watch` and the API's event stream.

For every account of the portfolio (or of all portfolios):

* **Accounts of venues that stream** (``VenueInfo.streams``: OKX, Binance...) hold the venue's
  private WebSocket through ccxt.pro, on the account's own host
  (:mod:`keyfolio.exchanges.stream`). A push is a *trigger*: the engine re-reads the trading
  source with one signed REST request (amounts are parsed in one place, in the venue's
  connector), writes it, records its snapshot set, imports the new fills (an update only) and
  publishes ``portfolio.updated`` with reason ``trade``. A snapshot push (OKX sends one after
  every (re)connect) re-reads too and publishes ``resync`` only if something changed.
* **Funding and Earn** have no stream: they are polled every ``poll_seconds``. So is every
  source of an account without a live stream: exchanges without one, an account whose
  WebSocket login failed (bad key: ``failed``, then polled), one whose stream is reconnecting,
  and one whose stream failed ``ws_failures_before_polling`` times in a row (status ``polling``
  while it keeps trying). A poll that changed something publishes ``portfolio.updated`` with
  reason ``poll``.
* **Prices**: a venue with a public ticker stream keyfolio follows (OKX's ``tickers``) reprices
  the markets that price the held assets (the ``okx:...`` routes of the stored prices, e.g.
  ``BTC-USDT`` or ``ABC-BTC`` + ``BTC-USDT``), written and announced as ``portfolio.updated``
  reason ``price`` at most once per ``price_interval`` seconds
  (:mod:`keyfolio.services.live_prices`). Other prices come from the REST tickers refresh after
  each poll or trade.

``account.status`` is published on every state change and on every drop:
``{"account", "portfolio", "status": live|reconnecting|polling|failed, "error", "hint",
"source"}`` (``source`` is ``"trading"`` for the stream, ``null`` for polling).

Every database write runs in a worker thread, one at a time (one write lock).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.balances import Source, SourceResult
from keyfolio.errors import ExchangeAuthError, ExchangeError, KeyfolioError, NotFoundError
from keyfolio.exchanges import stream
from keyfolio.exchanges.connector import VenueConnector
from keyfolio.exchanges.stream import (
    DEFAULT_KEEPALIVE,
    AccountPush,
    AccountStream,
    Backoff,
    StreamHub,
    StreamStatus,
)
from keyfolio.services.context import App, protect
from keyfolio.services.live_fills import FillsImporter
from keyfolio.services.live_prices import LivePrices

if TYPE_CHECKING:
    from keyfolio.exchanges.base import ExchangeConnector
    from keyfolio.exchanges.pool import ConnectorPool

__all__ = ["FAILED", "LIVE", "POLLING", "RECONNECTING", "LiveEngine"]

logger = logging.getLogger(__name__)

LIVE = "live"
RECONNECTING = "reconnecting"
POLLING = "polling"
FAILED = "failed"
_CONNECTING = "connecting"  # internal: not published


def _not_streamed(connector: ExchangeConnector) -> tuple[Source, ...]:
    """The sources a balance push does not cover: every one but trading."""
    sources = connector.sources if isinstance(connector, VenueConnector) else (Source.TRADING,)
    return tuple(source for source in sources if source is not Source.TRADING)


def _all_sources(connector: ExchangeConnector) -> tuple[Source, ...]:
    return connector.sources if isinstance(connector, VenueConnector) else (Source.TRADING,)


@dataclass(eq=False)
class _Account:
    spec: AccountSpec
    credentials: Credentials
    connector: ExchangeConnector
    streams: bool
    status: str = _CONNECTING
    error: str | None = None
    hint: str | None = None
    failures: int = 0
    reason: str = "resync"
    dirty: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str:
        return self.spec.name


def _amounts(store: Any, name: str, sources: set[Source]) -> dict[tuple[str, str], Decimal]:
    return {
        (row.source.value, row.asset): row.amount
        for row in store.balances(account=name, include_excluded=True)
        if row.source in sources
    }


class LiveEngine:
    """Keeps the database current in real time and publishes what changed on ``app.bus``.

    ``await engine.run()`` runs until cancelled; ``async with LiveEngine(app) as engine:``
    runs it in the background (``engine.ready`` is set once the first poll is written and
    every stream has connected or failed). ``portfolio=None`` watches every account.
    Tests pass a small ``backoff``, ``keepalive`` and ``price_interval``.
    """

    def __init__(
        self,
        app: App,
        *,
        portfolio: str | None = None,
        poll_seconds: float = 60.0,
        backoff: Backoff | None = None,
        keepalive: float | None = None,
        price_interval: float = 1.0,
        ws_failures_before_polling: int = 5,
        retry_base_delay: float = 0.25,
        import_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.portfolio = portfolio
        self.poll_seconds = poll_seconds
        self.price_interval = price_interval
        self.ready = asyncio.Event()
        self._backoff = backoff
        self._keepalive = DEFAULT_KEEPALIVE if keepalive is None else keepalive
        self._ws_failures = max(1, ws_failures_before_polling)
        self._retry_base_delay = retry_base_delay
        self._fills = FillsImporter(app, timeout=import_timeout, retry_base_delay=retry_base_delay)
        self._accounts: dict[str, _Account] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._prices = LivePrices(
            app, lock=self._lock, interval=price_interval, publish=self._publish_update
        )

    # ----------------------------------------------------------------- public

    @property
    def statuses(self) -> dict[str, str]:
        """Each watched account's state: live, reconnecting, polling or failed."""
        return {name: acct.status for name, acct in self._accounts.items()}

    async def __aenter__(self) -> LiveEngine:
        self._task = asyncio.create_task(self.run(), name="keyfolio-live-engine")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if task.cancelled():
                return
            raise

    async def wait_ready(self) -> None:
        """Wait until ready; raises the engine's error if it stopped before that."""
        if self._task is None:
            await self.ready.wait()
            return
        waiter = asyncio.ensure_future(self.ready.wait())
        try:
            await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not self.ready.is_set() and self._task.done():
            self._task.result()

    async def run(self) -> None:
        """Run until cancelled. Raises NotFoundError when there is no account to watch."""
        from keyfolio.services.assets import connector_pool

        specs = await asyncio.to_thread(self._load_specs)
        if not specs:
            where = f"portfolio '{self.portfolio}'" if self.portfolio else "keyfolio"
            raise NotFoundError(
                f"there is no account to watch in {where}",
                hint="Link one with `keyfolio account add okx --name NAME`.",
            )
        vault = self.app.vault()
        pool = connector_pool(self.app, retry_base_delay=self._retry_base_delay)
        async with pool, StreamHub(self.app.settings, markets=pool.markets) as hub:
            for spec in specs:
                credentials = vault.get(spec.name)
                protect(credentials)
                self._accounts[spec.name] = _Account(
                    spec=spec,
                    credentials=credentials,
                    connector=(connector := pool.connector(spec, credentials)),
                    streams=isinstance(connector, VenueConnector) and connector.venue.streams,
                )
            try:
                await self._run(pool, hub)
            finally:
                await self._fills.close()

    # ----------------------------------------------------------------- orchestration

    def _load_specs(self) -> list[AccountSpec]:
        with self.app.db().session(read_only=True) as store:
            specs = store.list_accounts(portfolio=self.portfolio)
        return [spec for spec in specs if not spec.is_manual]  # entered by hand: no key

    async def _run(self, pool: ConnectorPool, hub: StreamHub) -> None:
        accounts = list(self._accounts.values())
        for acct in accounts:
            if not acct.streams:
                acct.status = POLLING
                self._publish_status(acct, None)
        await self._poll_once()
        tickers = self._prices.stream = self._ticker_stream(hub)
        async with asyncio.TaskGroup() as group:
            if tickers is not None:
                group.create_task(tickers.run())
                group.create_task(self._prices.flush())
                await self._refresh_routes()
            for acct in accounts:
                if acct.streams:
                    group.create_task(self._stream(hub, acct))
                    group.create_task(self._trading_worker(acct))
            group.create_task(self._poll_loop())
            self._check_ready()

    def _ticker_stream(self, hub: StreamHub) -> Any:
        """A public ticker stream from the first account whose venue has one (live before demo)."""
        for acct in sorted(self._accounts.values(), key=lambda a: (a.spec.demo, a.name)):
            connector = acct.connector
            if not isinstance(connector, VenueConnector):
                continue
            tickers = connector.ticker_stream(
                hub, on_tick=self._prices.on_tick, backoff=self._backoff, keepalive=self._keepalive
            )
            if tickers is not None:
                return tickers
        return None

    def _check_ready(self) -> None:
        if not self.ready.is_set() and all(
            acct.status != _CONNECTING for acct in self._accounts.values()
        ):
            self.ready.set()

    # ----------------------------------------------------------------- statuses and events

    def _publish_status(
        self, acct: _Account, source: str | None, *, retry_in: float | None = None
    ) -> None:
        data: dict[str, Any] = {
            "account": acct.name,
            "portfolio": acct.spec.portfolio,
            "status": acct.status,
            "error": acct.error,
            "hint": acct.hint,
            "source": source,
        }
        if retry_in is not None:
            data["retry_in"] = f"{retry_in:.2f}"
        self.app.bus.publish("account.status", data)

    def _publish_update(self, portfolio: str, account: str | None, reason: str) -> None:
        self.app.bus.publish(
            "portfolio.updated", {"portfolio": portfolio, "account": account, "reason": reason}
        )

    def _set_poll_status(self, acct: _Account, status: str, exc: KeyfolioError | None) -> None:
        """A poll's outcome for an account that is not streaming; published on change."""
        error, hint = (exc.message, exc.hint) if exc is not None else (None, None)
        if (acct.status, acct.error, acct.hint) == (status, error, hint):
            return
        acct.status, acct.error, acct.hint = status, error, hint
        self._publish_status(acct, None)

    # ----------------------------------------------------------------- the account stream

    async def _stream(self, hub: StreamHub, acct: _Account) -> None:
        connector = acct.connector
        assert isinstance(connector, VenueConnector)
        watcher = AccountStream(
            hub,
            connector,
            on_push=lambda push: self._on_push(acct, push),
            on_status=lambda status: self._on_stream_status(acct, status),
            backoff=self._backoff,
            keepalive=self._keepalive,
        )
        try:
            await watcher.run()
        except ExchangeAuthError:
            acct.streams = False  # the account is polled from now on (status: failed)
            self._check_ready()

    def _on_push(self, acct: _Account, push: AccountPush) -> None:
        if push.event != "snapshot":
            acct.reason = "trade"
        acct.dirty.set()

    def _on_stream_status(self, acct: _Account, status: StreamStatus) -> None:
        acct.error, acct.hint = status.message, status.hint
        if status.status == stream.LIVE:
            acct.status, acct.failures = LIVE, 0
        elif status.status == stream.FAILED:
            acct.status = FAILED
        else:
            acct.failures += 1
            acct.status = RECONNECTING if acct.failures < self._ws_failures else POLLING
        self._publish_status(acct, "trading", retry_in=status.retry_in)
        self._check_ready()

    async def _trading_worker(self, acct: _Account) -> None:
        """Re-read the trading balance after each push; pushes during a read coalesce."""
        while True:
            await acct.dirty.wait()
            acct.dirty.clear()
            reason, acct.reason = acct.reason, "resync"
            await self._refresh(acct, (Source.TRADING,), reason)

    # ----------------------------------------------------------------- reading and writing

    async def _refresh(self, acct: _Account, sources: Sequence[Source], reason: str) -> bool | None:
        """Read ``sources`` over REST, write them, publish. True if a balance changed, None
        if the account could not be read at all (an authentication error)."""
        at = datetime.now(UTC)
        try:
            if isinstance(acct.connector, VenueConnector):
                results = await acct.connector.fetch_sources(sources)
            else:
                results = await acct.connector.fetch_balances()
        except ExchangeError as exc:
            logger.info("live %s: read failed: %s", acct.name, exc.message)
            await self._write_failure(acct, exc, at)
            if not acct.streams:
                self._set_poll_status(acct, FAILED, exc)
            return None
        try:
            changed, unpriced = await self._write(acct, results, at)
            if reason == "trade":
                await self._fills.run(acct.name, acct.credentials)
            if unpriced:
                await self._refresh_prices()
        except KeyfolioError as exc:
            logger.warning("live %s: could not save: %s", acct.name, exc.message)
            return None
        if changed or reason == "trade":
            self._publish_update(acct.spec.portfolio, acct.name, reason)
        return changed

    async def _write(
        self, acct: _Account, results: list[SourceResult], at: datetime
    ) -> tuple[bool, bool]:
        """Write the results and their snapshots: (a balance changed, an asset has no price)."""
        async with self._lock:
            changed, unpriced = await asyncio.to_thread(self._save, acct.name, results, at)
            await asyncio.to_thread(self._snapshots, acct.name, results, at)
        return changed, unpriced

    def _save(self, name: str, results: list[SourceResult], at: datetime) -> tuple[bool, bool]:
        sources = {result.source for result in results}
        with self.app.db().session() as store:
            before = _amounts(store, name, sources)
            store.record_sync(name=name, results=results, synced_at=at, log_run=False)
            after = _amounts(store, name, sources)
            prices = store.prices()
        unpriced = any(asset not in prices for _, asset in after)
        return before != after, unpriced

    def _snapshots(self, name: str, results: list[SourceResult], at: datetime) -> None:
        from keyfolio.services.snapshots import record_snapshots

        record_snapshots(self.app, account=name, results=results, at=at)

    async def _write_failure(self, acct: _Account, exc: ExchangeError, at: datetime) -> None:
        def save() -> None:
            with self.app.db().session() as store:
                store.record_failure(
                    name=acct.name,
                    error_code=exc.exchange_code or exc.code,
                    error=exc.message,
                    hint=exc.hint,
                    at=at,
                )

        try:
            async with self._lock:
                await asyncio.to_thread(save)
        except KeyfolioError as error:
            logger.warning("live %s: could not record the failure: %s", acct.name, error)

    # ----------------------------------------------------------------- polling

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            await self._poll_once()

    async def _poll_once(self) -> None:
        """Every source without a live stream: Funding and Earn always, all when not live."""

        async def poll(acct: _Account) -> None:
            live = acct.streams and acct.status == LIVE
            sources = _not_streamed(acct.connector) if live else _all_sources(acct.connector)
            read = await self._refresh(acct, sources, "poll")
            if read is not None and not acct.streams:
                self._set_poll_status(acct, POLLING, None)

        await asyncio.gather(*(poll(acct) for acct in self._accounts.values()))
        await self._refresh_prices()

    async def _refresh_prices(self) -> None:
        await self._prices.refresh([acct.spec for acct in self._accounts.values()])

    async def _refresh_routes(self) -> None:
        await self._prices.refresh_routes([acct.spec for acct in self._accounts.values()])
