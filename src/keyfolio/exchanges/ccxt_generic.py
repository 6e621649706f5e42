"""The generic ccxt connector: any ccxt exchange id, one trading-ish balance source.

Amounts come from ccxt's balance parser with ``exchange.number = str``: ccxt then hands back the
exchange's own decimal strings instead of floats, and
:func:`~keyfolio.exchanges.sources.parse_totals` turns them into ``Decimal``. ccxt is imported
lazily, on first use.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.domain.balances import KeyInfo, Source, SourceResult, SourceStatus
from keyfolio.errors import (
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnsupportedError,
    RateLimitedError,
)
from keyfolio.exchanges._closing import finish_closing
from keyfolio.exchanges.errors import display_name, map_ccxt_errors
from keyfolio.exchanges.markets import MarketData, MarketsCache
from keyfolio.exchanges.retry import Cooldowns, call_with_retries
from keyfolio.exchanges.sources import is_fatal, parse_totals, result_for_error

if TYPE_CHECKING:
    import aiohttp

    from keyfolio.exchanges.clients import ClientFactory
    from keyfolio.exchanges.history import HistoryContext, HistoryStream

__all__ = ["CCXT_LOGGER", "GenericCcxtConnector", "override_ws"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SENSITIVE = re.compile(r"(?i)key|sign|pass|secret|token|auth|cookie")
_SENSITIVE_QUERY = re.compile(
    r"(?i)((?:api[_-]?key|key|sign(?:ature)?|pass(?:phrase|word)?|secret|token)=)[^&\s]+"
)
_SENSITIVE_JSON = re.compile(
    r'(?i)("(?:api[_-]?key|key|sign(?:ature)?|pass(?:phrase|word)?|secret|token)"\s*:\s*)"[^"]*"'
)


def _first_host(urls: Any, hostname: Any) -> str:
    """The host of the first http(s) URL in ccxt's ``urls['api']`` (``{hostname}`` filled in)."""
    values = urls.values() if isinstance(urls, dict) else [urls]
    for value in values:
        if isinstance(value, dict):
            found = _first_host(value, hostname)
            if found:
                return found
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            return urlsplit(value.replace("{hostname}", str(hostname or ""))).netloc
    return ""


class _MaskCredentials(logging.Filter):
    """Masks credential headers and query values in ccxt's DEBUG request/response lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._mask(arg) for arg in record.args)
        return True

    @staticmethod
    def _mask(arg: object) -> object:
        if isinstance(arg, Mapping):
            return {k: "***" if _SENSITIVE.search(str(k)) else v for k, v in arg.items()}
        if isinstance(arg, str):
            return _SENSITIVE_JSON.sub(r'\1"***"', _SENSITIVE_QUERY.sub(r"\1***", arg))
        return arg


#: ccxt logs every request with its headers at DEBUG; it gets this logger, which masks them.
CCXT_LOGGER = logging.getLogger("keyfolio.exchanges.ccxt")
CCXT_LOGGER.addFilter(_MaskCredentials())


def _replace_host(url: str, base: str) -> str:
    target = urlsplit(base)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def _override_hosts(urls: Any, base: str) -> Any:
    """Every http(s) URL in ccxt's ``urls['api']`` with scheme and host replaced, paths kept."""
    if isinstance(urls, dict):
        return {key: _override_hosts(value, base) for key, value in urls.items()}
    if isinstance(urls, str) and urls.startswith(("http://", "https://")):
        return _replace_host(urls, base)
    return urls


def override_ws(urls: Any, base: str) -> Any:
    """Every ws(s) URL in ccxt's ``urls['api']`` on ``base``'s host (ws for http, wss for https)."""
    target = urlsplit(base)
    scheme = "wss" if target.scheme == "https" else "ws"
    if isinstance(urls, dict):
        return {key: override_ws(value, base) for key, value in urls.items()}
    if isinstance(urls, str) and urls.startswith(("ws://", "wss://")):
        parts = urlsplit(urls)
        return urlunsplit((scheme, target.netloc, parts.path, parts.query, parts.fragment))
    return urls


class GenericCcxtConnector:
    """Any ccxt exchange: fetch_balance() as one TRADING source, no permission check.

    ``session``/``ssl_context`` are shared by :class:`~keyfolio.exchanges.pool.ConnectorPool`;
    without them ccxt opens (and closes) its own session. ``retry_base_delay`` is the first
    backoff in seconds (tests use about 0.01). ``clients`` (the pool's) makes the ccxt
    instance; without it ccxt constructs one.
    """

    sources: tuple[Source, ...] = (Source.TRADING,)

    def __init__(
        self,
        spec: AccountSpec,
        credentials: Credentials,
        *,
        settings: Settings,
        session: aiohttp.ClientSession | None = None,
        ssl_context: ssl.SSLContext | None = None,
        markets: MarketsCache | None = None,
        retry_base_delay: float = 0.25,
        enable_rate_limit: bool = True,
        cooldowns: Cooldowns | None = None,
        clients: ClientFactory | None = None,
    ) -> None:
        self.exchange_id = spec.exchange
        self.spec = spec
        self.settings = settings
        self._credentials = credentials
        self._session = session
        self._ssl_context = ssl_context
        self._markets = markets or MarketsCache(settings.cache_dir, settings.markets_ttl_seconds)
        self._retry_base_delay = retry_base_delay
        self._enable_rate_limit = enable_rate_limit
        self._cooldowns = cooldowns or Cooldowns()
        self._clients = clients
        self._exchange: Any = None
        self._closed = False
        self._markets_ready = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(exchange={self.exchange_id!r}, account={self.spec.name!r})"

    # ----------------------------------------------------------------- ccxt client

    @property
    def name(self) -> str:
        """Display name of the exchange."""
        return display_name(self.exchange_id)

    @property
    def ccxt_id(self) -> str:
        """The ccxt class used (the exchange id for the generic connector)."""
        return self.exchange_id

    @property
    def region(self) -> Region | None:
        """The OKX region, or None where regions do not apply."""
        return None

    @property
    def host(self) -> str:
        """The REST host (``netloc``) requests go to; names the markets cache file."""
        if self.spec.api_url:
            return urlsplit(self.spec.api_url).netloc
        if self._exchange is not None:
            found = _first_host(
                self._exchange.urls.get("api"), getattr(self._exchange, "hostname", None)
            )
            return found or self.exchange_id
        return self.exchange_id

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "logger": CCXT_LOGGER,
            "enableRateLimit": self._enable_rate_limit,
            "timeout": int(self.settings.request_timeout_seconds * 1000),
        }
        if self._session is not None:
            config["session"] = self._session
            if self._ssl_context is not None:
                config["ssl_context"] = self._ssl_context
        return config

    def _configure(self, exchange: Any) -> None:
        """Hook for subclasses: URLs, sandbox mode, options. Called right after construction."""
        if self.spec.api_url:
            exchange.urls["api"] = _override_hosts(exchange.urls["api"], self.spec.api_url)
        fetch_markets = exchange.options.get("fetchMarkets")
        if isinstance(fetch_markets, dict) and "spot" in fetch_markets.get("types", []):
            fetch_markets["types"] = ["spot"]

    def _set_credentials(self, exchange: Any) -> None:
        """Give ccxt only the credentials it requires; drop the rest."""
        for field, needed in exchange.requiredCredentials.items():
            value = self._credentials.fields.get(field)
            if needed and value:
                setattr(exchange, field, value)

    def _client(self) -> Any:
        """The ccxt async exchange of this connector, created on first use."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._exchange is None:
            with self._errors():
                import ccxt.async_support as ccxt_async

                cls, config = getattr(ccxt_async, self.ccxt_id), self._config()
                clients = self._clients
                exchange = cls(config) if clients is None else clients.create(cls, config)
                if self._session is not None:
                    exchange.timeout_on_exit = 0  # no own connector to drain on close
                self._set_credentials(exchange)
                self._configure(exchange)
            self._exchange = exchange
        return self._exchange

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with map_ccxt_errors(
            self.exchange_id, account=self.spec.name, region=self.region, host=self.host
        ):
            yield

    async def _retrying(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        async def once() -> T:
            await self._cooldowns.wait(self.host)
            try:
                with self._errors():
                    return await call()
            except RateLimitedError as exc:
                exc.retry_after = exc.retry_after or self._retry_after(exc)
                if exc.retry_after:
                    self._cooldowns.hold(self.host, exc.retry_after)
                raise

        return await call_with_retries(
            once,
            retries=self.settings.retries,
            base_delay=self._retry_base_delay,
            what=f"{self.exchange_id} {what} ({self.spec.name})",
        )

    def _retry_after(self, exc: RateLimitedError) -> float | None:
        """The ``Retry-After`` of the answer that just failed (ccxt keeps its headers); a venue
        may know better from the error itself or its own headers (Bybit's reset timestamp)."""
        headers = getattr(self._exchange, "last_response_headers", None) or {}
        for name, value in dict(headers).items():
            if str(name).lower() == "retry-after":
                try:
                    return max(0.0, float(value))
                except (TypeError, ValueError):
                    return None
        return None

    # ----------------------------------------------------------------- markets

    async def _load_markets_data(self) -> MarketData:
        exchange = self._client()
        await exchange.load_markets()
        return MarketData(
            markets=list(exchange.markets.values()), currencies=dict(exchange.currencies)
        )

    async def load_markets(self) -> None:
        """Markets from the cache, or loaded once (spot only where ccxt allows choosing)."""
        if self._markets_ready:
            return
        exchange = self._client()
        data = await self._markets.get(
            self.ccxt_id,
            self.host,
            lambda: self._retrying(self._load_markets_data, "load markets"),
        )
        with self._errors():
            exchange.set_markets(data.markets, data.currencies or None)
        self._markets_ready = True

    # ----------------------------------------------------------------- protocol

    async def check_key(self) -> KeyInfo:
        """Generic exchanges have no permission check: credentials are only checked locally."""
        exchange = self._client()
        with self._errors():
            exchange.check_required_credentials()
        return KeyInfo(permissions=frozenset(), verified=False)

    async def _fetch_total(self) -> dict[str, Any]:
        exchange = self._client()
        balance = await exchange.fetch_balance()
        # ccxt hands back the raw answer as ``info``: text there means it was not JSON at all
        # (ccxt then parses "nothing" into an empty balance, which must not read as zero).
        if (
            not isinstance(balance, dict)
            or not isinstance(balance.get("total"), dict)
            or not isinstance(balance.get("info"), dict | list)
        ):
            raise ExchangeResponseError(
                f"{self.name} sent a balance keyfolio cannot read for account '{self.spec.name}'."
            )
        return dict(balance["total"])

    async def fetch_balances(self) -> list[SourceResult]:
        """One TRADING source from ccxt's fetch_balance, amounts from the exchange's strings.

        An answer keyfolio cannot read (any asset's total not a decimal string) fails the
        source: logged, reported, its last good amounts kept. Never a silent drop to zero.
        """
        started = time.monotonic()
        try:
            await self.load_markets()
            self._client().number = str  # parse_number now returns the exchange's strings
            totals = await self._retrying(self._fetch_total, "fetch_balance")
            amounts = parse_totals(totals, name=self.name, account=self.spec.name)
            result = SourceResult(source=Source.TRADING, status=SourceStatus.OK, amounts=amounts)
        except ExchangeError as exc:
            if is_fatal(exc):
                self._log_failure(exc, started)
                raise
            if isinstance(exc, ExchangeResponseError):
                logger.warning("%s", exc.message)
            result = result_for_error(Source.TRADING, exc)
        self._log_fetch([result], started)
        return [result]

    def _log_fetch(self, results: list[SourceResult], started: float) -> None:
        ok = sum(1 for r in results if r.is_ok)
        logger.info(
            "fetched %s account %s: %d of %d sources ok%s in %.0f ms",
            self.exchange_id,
            self.spec.name,
            ok,
            len(results),
            "".join(f", {r.source.value} {r.status.value}" for r in results if not r.is_ok),
            (time.monotonic() - started) * 1000,
        )

    def _log_failure(self, exc: ExchangeError, started: float) -> None:
        logger.info(
            "fetch of %s account %s failed: %s (%s) in %.0f ms",
            self.exchange_id,
            self.spec.name,
            exc.code,
            exc.exchange_code or "-",
            (time.monotonic() - started) * 1000,
        )

    async def history_streams(self, context: HistoryContext) -> list[HistoryStream]:
        """The account's history streams; the generic connector imports no history."""
        raise ExchangeUnsupportedError(
            f"keyfolio imports trade history only from its first-class exchanges, not {self.name}.",
            hint="Import older or other trades from a CSV file: `keyfolio import csv FILE "
            "--account NAME` (see docs/import.md).",
        )

    async def _fetch_time(self) -> int:
        exchange = self._client()
        if not exchange.has.get("fetchTime"):
            raise ExchangeUnsupportedError(f"{self.name} has no server-time endpoint in ccxt.")
        return int(await exchange.fetch_time())

    async def clock_offset_ms(self) -> int:
        """Exchange time minus local time (ms), measured at the middle of the round trip."""
        before = time.time()
        server_ms = await self._retrying(self._fetch_time, "fetch_time")
        after = time.time()
        return server_ms - round((before + after) * 500)

    async def ping(self) -> None:
        """A public request: the server time, or the markets where there is no time endpoint."""
        exchange = self._client()
        if exchange.has.get("fetchTime"):
            await self._retrying(self._fetch_time, "ping")
        else:
            await self.load_markets()

    async def close(self) -> None:
        """Close the ccxt client (its own session too, if it made one). Idempotent; a
        cancellation that arrives meanwhile is raised once the client is closed."""
        self._closed = True
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await finish_closing(self._close_client(exchange))

    async def _close_client(self, exchange: Any) -> None:
        try:
            await exchange.close()
        except Exception as exc:  # broad on purpose: a close must never hide the outcome
            logger.debug("closing %s client failed: %s", self.exchange_id, exc)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
