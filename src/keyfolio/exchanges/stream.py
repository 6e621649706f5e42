"""Streaming with ccxt.pro: each account's private balance channel, reconnecting.

A first-class venue that streams (``VenueInfo.streams``) builds its ccxt.pro client itself
(:meth:`~keyfolio.exchanges.connector.VenueConnector.stream_client`): the account's own host
(OKX's regional ``wseea``/``wsus``, an ``--api-url`` sandbox), its credentials, its options.

* :class:`AccountStream` follows ``watch_balance`` (OKX ``account``, Binance's user data stream,
  ...). Each push is handed on as an :class:`AccountPush`: a trigger, the caller re-reads the
  trading source over REST so amounts are parsed in one place.
* It reconnects after a drop with exponential backoff and jitter (:class:`Backoff`), reports
  every state change as a :class:`StreamStatus` whose error carries a hint, and keeps the
  connection alive (ccxt.pro pings every ``keepalive`` seconds).
* Authentication failures are not retried: :meth:`AccountStream.run` reports ``failed`` and
  raises the mapped error.

:class:`StreamHub` owns the one aiohttp session all clients share and closes every client, then
the session, on exit (no "Unclosed client session" warnings).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keyfolio.config import Settings
from keyfolio.errors import ExchangeError, ExchangeUnavailableError, RateLimitedError
from keyfolio.exchanges._closing import finish_closing
from keyfolio.exchanges.ccxt_generic import CCXT_LOGGER
from keyfolio.exchanges.markets import MarketsCache
from keyfolio.exchanges.pool import default_ssl_context
from keyfolio.exchanges.sources import is_fatal

if TYPE_CHECKING:
    import aiohttp

    from keyfolio.exchanges.connector import VenueConnector

__all__ = [
    "DEFAULT_KEEPALIVE",
    "FAILED",
    "LIVE",
    "RECONNECTING",
    "AccountPush",
    "AccountStream",
    "Backoff",
    "StreamHub",
    "StreamStatus",
    "TickerPush",
    "explain_drop",
]

logger = logging.getLogger(__name__)

LIVE = "live"
RECONNECTING = "reconnecting"
FAILED = "failed"

#: Seconds between keepalive pings: OKX closes a connection silent for 30 s (ccxt: 18 s).
DEFAULT_KEEPALIVE = 18.0

_CLOSE_CODE = re.compile(r"closing code (\d+)")


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
    """One balance push: ``snapshot`` (OKX sends one after every (re)connect) or an update
    (a trade, a transfer into the streamed source, ...)."""

    account: str
    event: str
    currencies: tuple[str, ...]
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class TickerPush:
    """One ticker push of a public stream: last price and 24 h open (Decimal, from the venue's
    strings), for the market ``symbol`` (``BTC-USDT``)."""

    symbol: str
    last: Decimal
    open24h: Decimal | None
    ts: datetime


def _for(account: str | None) -> str:
    return f" for account '{account}'" if account else ""


def explain_drop(
    exc: ExchangeError, *, name: str, account: str | None, url: str, close_hints: dict[str, str]
) -> ExchangeError:
    """A WebSocket-specific message and hint for a dropped or unreachable connection."""
    if not isinstance(exc, ExchangeUnavailableError) or isinstance(exc, RateLimitedError):
        return exc
    host = urlsplit(url).netloc or url
    closed = _CLOSE_CODE.search(exc.message)
    close_code = closed.group(1) if closed else None
    if "ping-pong" in exc.message:
        what = "stopped answering the keepalive ping"
    elif close_code:
        what = f"closed the WebSocket (close code {close_code})"
    else:
        what = "could not be reached over WebSocket"
    hint = close_hints.get(close_code or "") or (
        f"keyfolio reconnects to {host} on its own. If the connection keeps dropping, check the "
        f"network, a proxy or firewall that cuts long-lived connections, or {name}'s status "
        "page; balances are polled over REST meanwhile."
    )
    return ExchangeUnavailableError(
        f"{name} at {host} {what}{_for(account)}.",
        hint=hint,
        exchange_code=close_code or exc.exchange_code,
    )


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
        ccxt_id: str,
        *,
        options: dict[str, Any],
        keepalive: float = DEFAULT_KEEPALIVE,
        cls: Any = None,
    ) -> Any:
        """A ccxt.pro client of ``ccxt_id`` on the shared session (the caller sets its URLs);
        ``cls`` is a venue's subclass of ccxt.pro's class to build instead (Bybit's)."""
        if self._session is None:
            raise RuntimeError("StreamHub is not open: use `async with StreamHub(...)`.")
        import ccxt.pro as ccxtpro

        exchange = (cls or getattr(ccxtpro, ccxt_id))(
            {
                "logger": CCXT_LOGGER,
                "enableRateLimit": False,
                "timeout": int(self.settings.request_timeout_seconds * 1000),
                "session": self._session,
                "ssl_context": self._ssl_context,
                "options": options,
                "streaming": {"keepAlive": int(keepalive * 1000)},
            }
        )
        exchange.timeout_on_exit = 0  # the session is ours: nothing of ccxt's to drain
        self._clients.append(exchange)
        return exchange

    async def release(self, exchange: Any) -> None:
        """Close one client (its WebSockets); the shared session stays open. A cancellation
        that arrives meanwhile is raised once the client is closed."""
        if exchange in self._clients:
            self._clients.remove(exchange)
        await finish_closing(_close_client(exchange))

    async def close(self) -> None:
        """Close every client, then the session. Idempotent; a cancellation that arrives
        meanwhile (Ctrl-C in `keyfolio watch`) is raised once everything is closed."""
        clients, self._clients = self._clients, []
        session, self._session = self._session, None
        await finish_closing(_close_all(clients, session))


async def _close_client(exchange: Any) -> None:
    try:
        await exchange.close()
    except Exception as exc:  # closing must never hide the real outcome
        logger.debug("closing a ccxt.pro client failed: %s", exc)


async def _close_all(clients: list[Any], session: aiohttp.ClientSession | None) -> None:
    for exchange in clients:
        await _close_client(exchange)
    if session is not None:
        await session.close()


class AccountStream:
    """One account's private balance channel, on its own host, reconnecting.

    ``on_push(AccountPush)`` is called for every message; ``on_status(StreamStatus)`` on every
    change and on every drop.
    """

    def __init__(
        self,
        hub: StreamHub,
        connector: VenueConnector,
        *,
        on_push: Callable[[AccountPush], None],
        on_status: Callable[[StreamStatus], None],
        backoff: Backoff | None = None,
        keepalive: float = DEFAULT_KEEPALIVE,
    ) -> None:
        self.connector = connector
        self.spec = connector.spec
        self._hub = hub
        self._on_push = on_push
        self._on_status = on_status
        self._backoff = backoff or Backoff()
        self._keepalive = keepalive
        self._exchange: Any = None
        self._subscribed = False

    def __repr__(self) -> str:
        return f"AccountStream(account={self.spec.name!r}, url={self.url!r})"

    @property
    def url(self) -> str:
        """The private WebSocket URL this stream connects to."""
        return self.connector.private_ws_url

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            with self.connector.ws_errors():
                yield
        except ExchangeError as exc:
            better = self.connector.explain_ws(exc, url=self.url)
            if better is exc:
                raise
            raise better from exc

    async def _next(self) -> AccountPush:
        with self._errors():
            if self._exchange is None:
                self._exchange = self.connector.stream_client(self._hub, self._keepalive)
            if not self._subscribed:
                self._subscribed = True
                if await self.connector.confirm_subscription(self._exchange):
                    return AccountPush(account=self.spec.name, event="snapshot", currencies=())
            balance = await self._exchange.watch_balance()
        event, currencies = self.connector.parse_push(balance)
        return AccountPush(account=self.spec.name, event=event, currencies=currencies)

    async def run(self) -> None:
        """Follow the channel until cancelled. Raises the mapped error on an auth failure."""
        attempt = 0
        live = False
        try:
            while True:
                try:
                    push = await self._next()
                except ExchangeError as exc:
                    live, self._subscribed = False, False
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
