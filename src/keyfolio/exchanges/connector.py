"""The base of every first-class connector: balance feeds, asset identity, clock, key check.

A venue connector (``keyfolio.exchanges.<venue>``) subclasses :class:`VenueConnector` and declares

* ``venue``: its :class:`~keyfolio.exchanges.venue.VenueInfo` (sources, permissions, codes...);
* ``feeds``: one :class:`Feed` per balance endpoint, naming the method that reads it into
  ``{venue code: Decimal}`` from the raw strings (never ccxt's unified floats);
* ``check_key()`` and ``server_time_ms()``.

Fetching runs every wanted feed concurrently (markets load alongside, quietly), maps the codes
through the account's :class:`~keyfolio.domain.assets.AssetMap` (a rule may move a code to another
source: Kraken's ``DOT.S`` is DOT in ``staked``), and turns each feed's outcome into one
:class:`~keyfolio.domain.balances.SourceResult` per source it feeds. A per-source failure stays in
its source; an error that means the whole key is bad is raised.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.balances import KeyInfo, Source, SourceResult, SourceStatus
from keyfolio.domain.money import BOUNDS_HINT, INPUT, ZERO, parse_decimal, total
from keyfolio.domain.records import Ticker
from keyfolio.errors import ClockSkewError, ExchangeError, ExchangeResponseError
from keyfolio.exchanges.ccxt_generic import GenericCcxtConnector, override_ws
from keyfolio.exchanges.errors import map_ccxt_errors
from keyfolio.exchanges.sources import gather_sources
from keyfolio.exchanges.venue import VenueInfo

if TYPE_CHECKING:
    from keyfolio.exchanges.stream import StreamHub

__all__ = ["Amounts", "Feed", "VenueConnector", "add_amount", "ticker_of"]

logger = logging.getLogger(__name__)

Amounts = dict[str, Decimal]


@dataclass(frozen=True)
class Feed:
    """One balance endpoint. Its codes land in ``source`` unless the venue's asset table moves
    them to one of ``moves_to``; those sources fail and succeed with this feed."""

    source: Source
    method: str
    """Name of the connector method ``async () -> {venue code: Decimal}``."""
    moves_to: tuple[Source, ...] = ()

    @property
    def feeds(self) -> tuple[Source, ...]:
        return (self.source, *self.moves_to)


def _amount_hint(venue: str) -> str:
    return (
        f"This source keeps its last good balances (marked stale). {BOUNDS_HINT} If {venue}'s "
        "own site shows this amount, report it with the --debug output."
    )


def add_amount(amounts: Amounts, code: Any, value: Any, *, venue: str, what: str) -> None:
    """Add one raw row's amount (an exchange string) to ``amounts``, exactly, within the money
    bounds; an unreadable row or an amount outside the bounds fails the source."""
    if not isinstance(code, str) or not code:
        raise ExchangeResponseError(f"{venue} {what}: a row has no asset code.")
    if not isinstance(value, str):
        raise ExchangeResponseError(f"{venue} {what}: the {code} amount is not a string: {value!r}")
    try:
        amount = parse_decimal(value, field=f"{what} {code}")
    except ValueError as exc:
        raise ExchangeResponseError(f"{venue} {what}: {exc}.", hint=_amount_hint(venue)) from exc
    summed = total([amounts.get(code, ZERO), amount])
    problem = INPUT.problem(summed)
    if problem is not None:
        raise ExchangeResponseError(
            f"{venue} {what}: the {code} total {summed} {problem}.", hint=_amount_hint(venue)
        )
    amounts[code] = summed


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ticker_of(
    venue: str, symbol: str, last: Any, open24h: Any, ts_ms: Any, *, open_basis: str = "24h"
) -> Ticker | None:
    """A :class:`~keyfolio.domain.records.Ticker` from a venue's raw strings, or None if a field
    is not a readable string (a JSON number is refused: it may have passed through a float)."""
    if not isinstance(last, str) or not (open24h is None or isinstance(open24h, str)):
        return None
    try:
        price = parse_decimal(last, field=f"{symbol}.last")
        opened = parse_decimal(open24h, field=f"{symbol}.open") if open24h else None
        moment = _EPOCH + timedelta(milliseconds=int(ts_ms))
    except (ValueError, TypeError, OverflowError):
        return None
    if price < 0 or (opened is not None and opened < 0):
        return None
    return Ticker(symbol, price, opened, moment, venue=venue, open_basis=open_basis)


class VenueConnector(GenericCcxtConnector, ABC):
    """A first-class venue: every balance source, its permission check, its error codes."""

    venue: ClassVar[VenueInfo]
    feeds: ClassVar[tuple[Feed, ...]]

    def __init__(
        self,
        *args: Any,
        assets: AssetMap | None = None,
        clock_correction_ms: int = 0,
        **kwargs: Any,
    ) -> None:
        """``clock_correction_ms`` is added to the local clock when signing (ccxt's
        ``options['timeDifference']`` with the opposite sign); 0 signs with the local clock."""
        super().__init__(*args, **kwargs)
        self._assets = assets or AssetMap(self.venue.id, self.venue.asset_rules)
        self._clock_correction_ms = clock_correction_ms

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        options = dict(config.get("options", {}))
        options["timeDifference"] = -self._clock_correction_ms
        config["options"] = options
        return config

    @property
    def _needs_listing(self) -> bool:
        return any(rule.prefix is not None for rule in self._assets.rules)

    @property
    def sources(self) -> tuple[Source, ...]:  # type: ignore[override]
        return self.venue.source_kinds

    @property
    def name(self) -> str:
        return self.venue.name

    @property
    def ccxt_id(self) -> str:
        return self.venue.ccxt_id

    # ----------------------------------------------------------------- asset identity

    def listed_codes(self) -> frozenset[str]:
        """The venue codes its (loaded) markets name, as bases or quotes."""
        exchange = self._exchange
        markets = getattr(exchange, "markets", None) if exchange is not None else None
        if not markets:
            return frozenset()
        codes: set[str] = set()
        for market in markets.values():
            codes.update(str(market.get(k)) for k in ("baseId", "quoteId") if market.get(k))
        return frozenset(codes)

    @property
    def assets(self) -> AssetMap:
        """The account's asset map, knowing which codes the venue lists."""
        return self._assets.with_listed(self.listed_codes())

    # ----------------------------------------------------------------- requests

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, what: str, retry: bool = True
    ) -> Any:
        """One raw implicit-API call (``privateGetAccount``...), retried; the raw JSON.

        ``retry=False`` sends it once (a request that spends a scarce allowance, such as OKX's
        archive applications, is never repeated blindly); errors are translated all the same.
        """

        async def once() -> Any:
            return await getattr(self._client(), method)(params or {})

        if not retry:
            with self._errors():
                return await once()
        return await self._retrying(once, what)

    @abstractmethod
    async def server_time_ms(self) -> int:
        """The venue's clock in Unix milliseconds (a public request)."""

    @abstractmethod
    async def check_key(self) -> KeyInfo:
        """What the venue says about the key: its permissions in the venue's words, IP binding,
        uid. Only reports; the caller refuses a key that is not read-only."""

    @abstractmethod
    async def _spot_tickers(self) -> list[Ticker]:
        """Every spot ticker of the venue, in venue codes (one public request)."""

    async def fetch_spot_tickers(self) -> dict[str, Ticker]:
        """Every spot market's ticker, in canonical codes, keyed by ``BASE-QUOTE``.

        One public request (plus the markets, cached on disk). Unreadable rows are skipped and
        counted in the log; where two venue markets map to one pair, the first is kept.
        """
        tickers: dict[str, Ticker] = {}
        assets = self.assets
        for ticker in await self._spot_tickers():
            base, _, quote = ticker.symbol.partition("-")
            symbol = f"{assets.asset(base)}-{assets.asset(quote)}"
            tickers.setdefault(symbol, replace(ticker, symbol=symbol))
        logger.info("fetched %d %s spot tickers from %s", len(tickers), self.name, self.host)
        return tickers

    async def _markets_quietly(self) -> None:
        try:
            await self.load_markets()
        except ExchangeError as exc:
            logger.warning("%s markets not loaded for %s: %s", self.name, self.spec.name, exc)

    # ----------------------------------------------------------------- balances

    async def fetch_balances(self) -> list[SourceResult]:
        """Every source, concurrently; each one's failure isolated. Auth errors raise."""
        return await self.fetch_sources(self.sources)

    async def fetch_sources(self, sources: Collection[Source]) -> list[SourceResult]:
        """The feeds behind ``sources``, concurrently, as one result per source they feed."""
        started = time.monotonic()
        feeds = [feed for feed in self.feeds if set(feed.feeds) & set(sources)]
        raw: dict[Source, Amounts] = {}

        def reader(feed: Feed) -> Callable[[], Awaitable[SourceResult]]:
            async def read() -> SourceResult:
                method: Callable[[], Awaitable[Amounts]] = getattr(self, feed.method)
                raw[feed.source] = await method()
                return SourceResult(source=feed.source, status=SourceStatus.OK)

            return read

        if not self._markets_ready and self._needs_listing:
            await self._markets_quietly()  # a prefix rule must know what the venue lists
        outcomes = await gather_sources(
            {feed.source: reader(feed) for feed in feeds},
            also=None if self._markets_ready else self._markets_quietly(),
        )
        for outcome in outcomes:
            if isinstance(outcome, ExchangeError):
                self._log_failure(outcome, started)
                raise await self._explained(outcome)
        results = self._results(feeds, [o for o in outcomes if isinstance(o, SourceResult)], raw)
        wanted = [result for result in results if result.source in sources]
        self._log_fetch(wanted, started)
        return wanted

    def _results(
        self, feeds: list[Feed], outcomes: list[SourceResult], raw: dict[Source, Amounts]
    ) -> list[SourceResult]:
        by_feed = {outcome.source: outcome for outcome in outcomes}
        assets = self.assets
        fed = {feed.source for feed in self.feeds}
        results: dict[Source, SourceResult] = {}
        for feed in feeds:
            outcome = by_feed[feed.source]
            if not outcome.is_ok:
                for source in feed.feeds:
                    results[source] = SourceResult(
                        source=source, status=outcome.status, error=outcome.error,
                        hint=outcome.hint, error_code=outcome.error_code,
                    )  # fmt: skip
                continue
            mapped: dict[Source, Amounts] = {source: {} for source in feed.feeds}
            for code, amount in raw.get(feed.source, {}).items():
                resolved = assets.resolve(code)
                if resolved.source in fed and resolved.source not in mapped:
                    continue  # a mirror of another feed's holding (Binance LDBTC): counted there
                target = resolved.source if resolved.source in mapped else feed.source
                bucket = mapped[target]
                bucket[resolved.asset] = total([bucket.get(resolved.asset, ZERO), amount])
            for source, amounts in mapped.items():
                non_zero = {asset: amount for asset, amount in amounts.items() if amount != 0}
                results[source] = SourceResult(
                    source=source, status=SourceStatus.OK, amounts=non_zero
                )
        return [results[source] for source in self.sources if source in results]

    # ----------------------------------------------------------------- streaming

    @property
    def private_ws_url(self) -> str:
        """The private WebSocket URL of the balance stream (named in status messages)."""
        return ""

    def stream_client(self, hub: StreamHub, keepalive: float) -> Any:
        """A ccxt.pro client for this account's balance stream, on its own hosts."""
        options = dict(self._config().get("options", {}))
        exchange = hub.client(self.ccxt_id, options=options, keepalive=keepalive)
        self._configure(exchange)
        if self.spec.api_url:
            exchange.urls["api"] = override_ws(exchange.urls["api"], self.spec.api_url)
        self._set_credentials(exchange)
        exchange.set_markets([])  # a push is only a trigger: no markets needed
        return exchange

    @contextmanager
    def ws_errors(self) -> Iterator[None]:
        """Translate a stream's ccxt errors (the venue's codes, as for REST)."""
        host = urlsplit(self.private_ws_url).netloc or self.host
        with map_ccxt_errors(
            self.exchange_id, account=self.spec.name, region=self.region, host=host
        ):
            yield

    def explain_ws(self, exc: ExchangeError, *, url: str) -> ExchangeError:
        """A WebSocket-specific message and hint for a drop; the venue may know more codes."""
        from keyfolio.exchanges.stream import explain_drop

        return explain_drop(exc, name=self.name, account=self.spec.name, url=url, close_hints={})

    async def confirm_subscription(self, exchange: Any) -> bool:
        """Subscribe the balance stream before waiting for a push. True when the venue confirms
        the subscription but pushes nothing until the balance changes (Binance): the stream is
        live from the confirmation. False when the first push is a snapshot (OKX)."""
        return False

    def parse_push(self, balance: Any) -> tuple[str, tuple[str, ...]]:
        """(event, currencies) of one ``watch_balance`` result: an update of unknown assets."""
        return "update", ()

    def ticker_stream(self, hub: StreamHub, **options: Any) -> Any:
        """A public ticker stream to reprice held assets between syncs, where the venue has one
        keyfolio follows (None: prices are refreshed over REST after each poll or trade)."""
        return None

    # ----------------------------------------------------------------- clock

    def _signing_clock_ms(self) -> float:
        return time.time() * 1000 + self._clock_correction_ms

    async def clock_offset_ms(self) -> int:
        """The venue's time minus the clock keyfolio signs with, mid round trip."""
        before = self._signing_clock_ms()
        server = await self.server_time_ms()
        after = self._signing_clock_ms()
        return round(server - (before + after) / 2)

    async def ping(self) -> None:
        """The venue's public time endpoint answers."""
        await self.server_time_ms()

    async def _explained(self, exc: ExchangeError) -> ExchangeError:
        """A clock-skew error with the measured offset in its message; others unchanged."""
        if not isinstance(exc, ClockSkewError):
            return exc
        try:
            offset = await self.clock_offset_ms()
        except ExchangeError:
            return exc
        direction = "ahead of" if offset < 0 else "behind"
        explained = ClockSkewError(
            f"{self.name} refused the request timestamp for account '{self.spec.name}' "
            f"(code {exc.exchange_code or '-'}): this machine's clock is "
            f"{abs(offset) / 1000:.1f} s {direction} {self.name}.",
            hint=exc.hint,
            exchange_code=exc.exchange_code,
        )
        explained.__cause__ = exc
        return explained
