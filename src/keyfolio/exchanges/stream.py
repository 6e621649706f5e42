"""Streaming from OKX with ccxt.pro: the private ``account`` channel and public ``tickers``.

ccxt.pro hard-codes OKX's global WebSocket host (``ws.okx.com``), which refuses EEA and US keys.
Every client made here gets ``urls['api']['ws']`` set to the account's own host: the regional
host (``wseea.okx.com``, ``wsus.okx.com``), the Demo Trading host, or the ``api_url`` /
``KEYFOLIO_OKX_HOSTS__<REGION>`` override turned into ``ws://host/ws/v5`` -- the same URL
:attr:`~keyfolio.exchanges.okx.OkxConnector.ws_url` gives.

* :class:`OkxAccountStream` logs in on ``/ws/v5/private`` and follows the ``account`` channel
  (``watch_balance``). Each push is handed on as an :class:`AccountPush` (a trigger: the caller
  re-reads the trading balance over REST, so ``cashBal`` is parsed in one place).
* :class:`OkxTickerStream` follows ``tickers`` on ``/ws/v5/public`` for a changing set of
  instruments and hands on each ticker as a :class:`TickerPush` (Decimal, from OKX's strings).
* Both reconnect after a drop with exponential backoff and jitter (:class:`Backoff`), report
  every state change as a :class:`StreamStatus` whose error carries a hint, and keep the
  connection alive with OKX's text ``ping`` (ccxt.pro sends it every ``keepalive`` seconds and
  drops a connection that misses two ``pong``; OKX closes a silent connection after 30 s).
* Authentication failures (bad key, wrong passphrase, wrong region) are not retried:
  :meth:`OkxAccountStream.run` reports ``failed`` and raises the mapped error.

:class:`StreamHub` owns the one aiohttp session all clients share and closes every client, then
the session, on exit (no "Unclosed client session" warnings).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.domain.money import parse_decimal
from keyfolio.errors import (
    ClockSkewError,
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailableError,
    InvalidKeyError,
    InvalidSignatureError,
    KeyNotInRegionError,
    RateLimitedError,
    WrongPassphraseError,
)
from keyfolio.exchanges.ccxt_generic import CCXT_LOGGER, is_fatal
from keyfolio.exchanges.errors import map_ccxt_errors
from keyfolio.exchanges.markets import MarketData, MarketsCache
from keyfolio.exchanges.pool import default_ssl_context

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "DEFAULT_KEEPALIVE",
    "FAILED",
    "LIVE",
    "RECONNECTING",
    "WS_CODE_MAP",
    "AccountPush",
    "Backoff",
    "OkxAccountStream",
    "OkxTickerStream",
    "StreamHub",
    "StreamStatus",
    "TickerPush",
]

logger = logging.getLogger(__name__)

LIVE = "live"
RECONNECTING = "reconnecting"
FAILED = "failed"

#: Seconds between keepalive pings: OKX closes a connection silent for 30 s (ccxt: 18 s).
DEFAULT_KEEPALIVE = 18.0

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLOSE_CODE = re.compile(r"closing code (\d+)")

#: OKX WebSocket error codes -> (class, what happened). ``{account}`` as in OKX_CODE_MAP.
WS_CODE_MAP: dict[str, tuple[type[ExchangeError], str]] = {
    "60005": (InvalidKeyError, "does not know the API key{account} (WebSocket login)"),
    "60007": (InvalidSignatureError, "rejected the WebSocket login signature{account}"),
    "60009": (
        InvalidSignatureError,
        "refused the WebSocket login{account}: the signature does not match (wrong secret key)",
    ),
    "60024": (WrongPassphraseError, "rejected the passphrase{account} (WebSocket login)"),
    "60032": (
        KeyNotInRegionError,
        "says the API key{account} does not exist on this WebSocket host",
    ),
    "60006": (ClockSkewError, "refused the WebSocket login timestamp{account} as expired"),
    "60004": (ClockSkewError, "refused the WebSocket login timestamp{account} as invalid"),
    "60011": (ExchangeAuthError, "says the WebSocket{account} is not logged in"),
    "60014": (RateLimitedError, "is rate limiting WebSocket requests{account}"),
    "64008": (ExchangeUnavailableError, "is closing the WebSocket{account} for an upgrade"),
}

_CLOSE_HINTS = {
    "4004": "OKX closed a connection that was silent for 30 s: the keepalive ping did not get "
    "through. keyfolio reconnects; if it repeats, check for a proxy that holds WebSocket frames.",
    "4007": "OKX closed the connection because the API key was changed or deleted. If it keeps "
    "failing, re-add the key with `keyfolio account rotate`.",
}


def _random() -> float:
    return random.random()  # noqa: S311 (jitter, not cryptography)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: ``base * 2**attempt``, at most ``cap`` seconds,
    each delay shortened by up to ``jitter`` (a fraction) at random so clients spread out."""

    base: float = 1.0
    cap: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect number ``attempt + 1`` (``attempt`` from 0)."""
        raw = min(self.cap, self.base * float(2 ** min(attempt, 32)))
        return raw * (1.0 - self.jitter * _random())


@dataclass(frozen=True)
class StreamStatus:
    """A state change of one stream: ``live``, ``reconnecting`` (with the error) or ``failed``."""

    status: str
    url: str
    error: ExchangeError | None = None
    retry_in: float | None = None
    attempt: int = 0

    @property
    def message(self) -> str | None:
        """The error's message, if any."""
        return self.error.message if self.error is not None else None

    @property
    def hint(self) -> str | None:
        """What to do about it (every drop has one)."""
        return self.error.hint if self.error is not None else None


@dataclass(frozen=True)
class AccountPush:
    """One ``account`` channel message: ``snapshot`` (after every (re)connect) or
    ``event_update`` (a trade, a transfer into the trading account, ...)."""

    account: str
    event: str
    currencies: tuple[str, ...]
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class TickerPush:
    """One ``tickers`` message: last price and 24 h open, Decimal from OKX's strings."""

    inst_id: str
    last: Decimal
    open24h: Decimal | None
    ts: datetime


def _ticker_push(inst_id: str, row: Any) -> TickerPush | None:
    """The ticker in ccxt's ``info`` (OKX's raw row, all strings), or None if unreadable."""
    if not isinstance(row, dict):
        return None
    last, open24h, ts = row.get("last"), row.get("open24h", ""), row.get("ts")
    if not isinstance(last, str) or not isinstance(open24h, str) or not isinstance(ts, str):
        return None
    try:
        price = parse_decimal(last, field=f"{inst_id}.last")
        opened = parse_decimal(open24h, field=f"{inst_id}.open24h") if open24h else None
        moment = _EPOCH + timedelta(milliseconds=int(ts))
    except (ValueError, OverflowError):
        return None
    if price <= 0:
        return None
    return TickerPush(inst_id=inst_id, last=price, open24h=opened, ts=moment)


def _for(account: str | None) -> str:
    return f" for account '{account}'" if account else ""


def _explain(exc: ExchangeError, *, account: str | None, url: str) -> ExchangeError:
    """A WebSocket-specific error and hint for OKX's 600xx codes and for dropped connections."""
    host = urlsplit(url).netloc or url
    code = exc.exchange_code or ""
    if code in WS_CODE_MAP:
        cls, what = WS_CODE_MAP[code]
        hint = None
        if cls is KeyNotInRegionError:
            hint = (
                f"This key does not exist on {host}. Each OKX region has its own host: check the "
                "account's --region (my.okx.com accounts are eea, app.okx.com accounts are us) "
                "or the KEYFOLIO_OKX_HOSTS / --api-url override."
            )
        message = f"OKX {what.format(account=_for(account))} (code {code})."
        return cls(message, hint=hint, exchange_code=code)
    if isinstance(exc, ExchangeUnavailableError) and not isinstance(exc, RateLimitedError):
        closed = _CLOSE_CODE.search(exc.message)
        close_code = closed.group(1) if closed else None
        if "ping-pong" in exc.message:
            what = "stopped answering the keepalive ping"
        elif close_code:
            what = f"closed the WebSocket (close code {close_code})"
        else:
            what = "could not be reached over WebSocket"
        hint = _CLOSE_HINTS.get(close_code or "") or (
            f"keyfolio reconnects to {host} on its own. If the connection keeps dropping, check "
            "the network, a proxy or firewall that cuts long-lived connections, or OKX's status "
            "page; balances are polled over REST meanwhile."
        )
        return ExchangeUnavailableError(
            f"OKX at {host} {what}{_for(account)}.", hint=hint, exchange_code=close_code or code
        )
    return exc


class StreamHub:
    """The shared aiohttp session of every ccxt.pro client; ``async with`` closes them all."""

    def __init__(self, settings: Settings, *, markets: MarketsCache | None = None) -> None:
        self.settings = settings
        self.markets = markets or MarketsCache(settings.cache_dir, settings.markets_ttl_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._clients: list[Any] = []

    async def __aenter__(self) -> StreamHub:
        import aiohttp

        self._ssl_context = default_ssl_context()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._ssl_context), trust_env=False
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def client(
        self,
        *,
        ws_url: str,
        rest_url: str,
        demo: bool = False,
        credentials: Credentials | None = None,
        keepalive: float = DEFAULT_KEEPALIVE,
    ) -> Any:
        """A ccxt.pro ``okx`` client on ``ws_url`` (``.../ws/v5``) and ``rest_url``."""
        if self._session is None:
            raise RuntimeError("StreamHub is not open: use `async with StreamHub(...)`.")
        import ccxt.pro as ccxtpro

        exchange = ccxtpro.okx(
            {
                "logger": CCXT_LOGGER,
                "enableRateLimit": False,
                "timeout": int(self.settings.request_timeout_seconds * 1000),
                "session": self._session,
                "ssl_context": self._ssl_context,
                "options": {"fetchMarkets": {"types": ["spot"]}},
                "streaming": {"keepAlive": int(keepalive * 1000)},
            }
        )
        exchange.timeout_on_exit = 0  # the session is ours: nothing of ccxt's to drain
        if demo:
            exchange.set_sandbox_mode(True)  # replaces urls['api']: override after it
        exchange.urls["api"] = {**exchange.urls["api"], "rest": rest_url, "ws": ws_url}
        if credentials is not None:
            exchange.apiKey = credentials.fields.get("apiKey", "")
            exchange.secret = credentials.fields.get("secret", "")
            exchange.password = credentials.fields.get("password", "")
        self._clients.append(exchange)
        return exchange

    async def release(self, exchange: Any) -> None:
        """Close one client (its WebSockets); the shared session stays open."""
        if exchange in self._clients:
            self._clients.remove(exchange)
        try:
            await exchange.close()
        except Exception as exc:  # closing must never hide the real outcome
            logger.debug("closing a ccxt.pro client failed: %s", exc)

    async def close(self) -> None:
        """Close every client, then the session. Idempotent."""
        clients, self._clients = self._clients, []
        for exchange in clients:
            await self.release(exchange)
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class OkxAccountStream:
    """One OKX account's ``account`` channel, to its own regional host, reconnecting.

    ``on_push(AccountPush)`` is called for every message (the first after each connect is a
    snapshot); ``on_status(StreamStatus)`` on every change and on every drop.
    """

    def __init__(
        self,
        hub: StreamHub,
        spec: AccountSpec,
        credentials: Credentials,
        *,
        ws_url: str,
        rest_url: str,
        region: Region | None,
        on_push: Callable[[AccountPush], None],
        on_status: Callable[[StreamStatus], None],
        backoff: Backoff | None = None,
        keepalive: float = DEFAULT_KEEPALIVE,
    ) -> None:
        self.spec = spec
        self.ws_url = ws_url
        self.rest_url = rest_url
        self._hub = hub
        self._credentials = credentials
        self._region = region
        self._on_push = on_push
        self._on_status = on_status
        self._backoff = backoff or Backoff()
        self._keepalive = keepalive
        self._exchange: Any = None

    def __repr__(self) -> str:
        return f"OkxAccountStream(account={self.spec.name!r}, url={self.url!r})"

    @property
    def url(self) -> str:
        """The private WebSocket URL this stream connects to."""
        return self.ws_url + "/private"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        host = urlsplit(self.ws_url).netloc
        try:
            with map_ccxt_errors("okx", account=self.spec.name, region=self._region, host=host):
                yield
        except ExchangeError as exc:
            better = _explain(exc, account=self.spec.name, url=self.url)
            if better is exc:
                raise
            raise better from exc

    def _client(self) -> Any:
        if self._exchange is None:
            self._exchange = self._hub.client(
                ws_url=self.ws_url,
                rest_url=self.rest_url,
                demo=self.spec.demo,
                credentials=self._credentials,
                keepalive=self._keepalive,
            )
            # The push is only a trigger: no markets needed (ccxt would load them over REST).
            self._exchange.set_markets([])
        return self._exchange

    async def _next(self) -> AccountPush:
        with self._errors():
            balance = await self._client().watch_balance()
        info = balance.get("info") if isinstance(balance, dict) else None
        info = info if isinstance(info, dict) else {}
        data = info.get("data") if isinstance(info.get("data"), list) else []
        details = data[0].get("details", []) if data and isinstance(data[0], dict) else []
        currencies = tuple(
            str(row["ccy"]) for row in details if isinstance(row, dict) and row.get("ccy")
        )
        return AccountPush(
            account=self.spec.name,
            event=str(info.get("eventType") or "snapshot"),
            currencies=currencies,
        )

    async def run(self) -> None:
        """Follow the channel until cancelled. Raises the mapped error on an auth failure."""
        attempt = 0
        live = False
        try:
            while True:
                try:
                    push = await self._next()
                except ExchangeError as exc:
                    live = False
                    if is_fatal(exc):
                        logger.info("ws %s: %s; stream stopped", self.spec.name, exc.message)
                        self._on_status(StreamStatus(FAILED, self.url, error=exc))
                        raise
                    delay = self._backoff.delay(attempt)
                    attempt += 1
                    logger.info(
                        "ws %s: %s (%s); reconnect %d in %.2f s",
                        self.spec.name,
                        exc.message,
                        exc.exchange_code or "-",
                        attempt,
                        delay,
                    )
                    self._on_status(
                        StreamStatus(RECONNECTING, self.url, exc, retry_in=delay, attempt=attempt)
                    )
                    await asyncio.sleep(delay)
                    continue
                if not live:
                    live, attempt = True, 0
                    logger.info("ws %s: live on %s", self.spec.name, self.url)
                    self._on_status(StreamStatus(LIVE, self.url))
                self._on_push(push)
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the ccxt.pro client. Idempotent."""
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await self._hub.release(exchange)


class OkxTickerStream:
    """Public ``tickers`` for a set of instruments (``BTC-USDT``), one loop per instrument.

    ``watch(inst_ids)`` changes the set at any time; ``on_tick(TickerPush)`` gets every ticker
    (the first after each subscribe is the current one); ``on_status`` gets live/reconnecting
    changes of the shared connection.
    """

    def __init__(
        self,
        hub: StreamHub,
        *,
        ws_url: str,
        rest_url: str,
        demo: bool = False,
        on_tick: Callable[[TickerPush], None],
        on_status: Callable[[StreamStatus], None] | None = None,
        backoff: Backoff | None = None,
        keepalive: float = DEFAULT_KEEPALIVE,
    ) -> None:
        self.ws_url = ws_url
        self.rest_url = rest_url
        self._hub = hub
        self._demo = demo
        self._on_tick = on_tick
        self._on_status = on_status
        self._backoff = backoff or Backoff()
        self._keepalive = keepalive
        self._exchange: Any = None
        self._markets_lock = asyncio.Lock()
        self._wanted: frozenset[str] = frozenset()
        self._changed = asyncio.Event()
        self._live = False

    @property
    def url(self) -> str:
        """The public WebSocket URL."""
        return self.ws_url + "/public"

    @property
    def live(self) -> bool:
        """True while the public connection is up (a change would have been pushed)."""
        return self._live

    @property
    def instruments(self) -> frozenset[str]:
        """The instruments currently followed."""
        return self._wanted

    def watch(self, inst_ids: Collection[str]) -> None:
        """Follow exactly these instruments from now on."""
        wanted = frozenset(inst_ids)
        if wanted != self._wanted:
            self._wanted = wanted
            self._changed.set()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            with map_ccxt_errors("okx", host=urlsplit(self.ws_url).netloc):
                yield
        except ExchangeError as exc:
            better = _explain(exc, account=None, url=self.url)
            if better is exc:
                raise
            raise better from exc

    async def _client(self) -> Any:
        async with self._markets_lock:
            if self._exchange is None:
                exchange = self._hub.client(
                    ws_url=self.ws_url,
                    rest_url=self.rest_url,
                    demo=self._demo,
                    keepalive=self._keepalive,
                )
                try:
                    data = await self._hub.markets.get(
                        "okx", urlsplit(self.rest_url).netloc, lambda: self._load(exchange)
                    )
                    with self._errors():
                        exchange.set_markets(data.markets, data.currencies or None)
                except BaseException:  # release the client on any way out, then re-raise
                    await self._hub.release(exchange)
                    raise
                self._exchange = exchange
            return self._exchange

    async def _load(self, exchange: Any) -> MarketData:
        with self._errors():
            return MarketData(markets=list(await exchange.fetch_markets()))

    def _status(self, status: StreamStatus) -> None:
        live = status.status == LIVE
        if live == self._live and live:
            return
        self._live = live
        if self._on_status is not None:
            self._on_status(status)

    async def _follow(self, inst_id: str) -> None:
        attempt = 0
        while True:
            try:
                exchange = await self._client()
                market = exchange.markets_by_id.get(inst_id) if exchange.markets_by_id else None
                if not market:
                    logger.info("tickers: %s is not a spot market on %s", inst_id, self.url)
                    return
                with self._errors():
                    ticker = await exchange.watch_ticker(market[0]["symbol"])
            except ExchangeError as exc:
                delay = self._backoff.delay(attempt)
                attempt += 1
                logger.info("tickers %s: %s; retry in %.2f s", inst_id, exc.message, delay)
                self._status(StreamStatus(RECONNECTING, self.url, exc, delay, attempt))
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._status(StreamStatus(LIVE, self.url))
            push = _ticker_push(inst_id, ticker.get("info") if isinstance(ticker, dict) else None)
            if push is not None:
                self._on_tick(push)

    async def run(self) -> None:
        """Follow the wanted instruments until cancelled."""
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            async with asyncio.TaskGroup() as group:
                while True:
                    await self._changed.wait()
                    self._changed.clear()
                    for inst_id in sorted(self._wanted - tasks.keys()):
                        tasks[inst_id] = group.create_task(self._follow(inst_id))
                    for inst_id in sorted(tasks.keys() - self._wanted):
                        tasks.pop(inst_id).cancel()
        finally:
            exchange, self._exchange = self._exchange, None
            if exchange is not None:
                await self._hub.release(exchange)
