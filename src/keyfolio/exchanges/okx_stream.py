"""OKX's WebSocket specifics: its login error codes, its close codes, and the public tickers.

* :data:`WS_CODE_MAP`: OKX's 600xx login and channel codes, each with its class and message.
* :func:`okx_client`: a ccxt.pro ``okx`` client on the account's own host (regional, demo, or an
  override), because ccxt.pro hard-codes the global ``ws.okx.com``, which refuses EEA/US keys.
* :class:`OkxTickerStream` follows ``tickers`` on ``/ws/v5/public`` for a changing set of
  instruments and hands on each ticker as a :class:`TickerPush` (Decimal, from OKX's strings);
  it reprices held assets between syncs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from keyfolio.domain.accounts import Credentials
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
from keyfolio.exchanges.errors import map_ccxt_errors
from keyfolio.exchanges.markets import MarketData
from keyfolio.exchanges.stream import (
    DEFAULT_KEEPALIVE,
    LIVE,
    RECONNECTING,
    Backoff,
    StreamHub,
    StreamStatus,
    TickerPush,
    explain_drop,
)

__all__ = [
    "WS_CODE_MAP",
    "OkxTickerStream",
    "explain_okx_ws",
    "okx_client",
]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
    return TickerPush(symbol=inst_id, last=price, open24h=opened, ts=moment)


def _for(account: str | None) -> str:
    return f" for account '{account}'" if account else ""


def explain_okx_ws(exc: ExchangeError, *, account: str | None, url: str) -> ExchangeError:
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
    return explain_drop(exc, name="OKX", account=account, url=url, close_hints=_CLOSE_HINTS)


def okx_client(
    hub: StreamHub,
    *,
    ws_url: str,
    rest_url: str,
    demo: bool = False,
    credentials: Credentials | None = None,
    keepalive: float = DEFAULT_KEEPALIVE,
) -> Any:
    """A ccxt.pro ``okx`` client on ``ws_url`` (``.../ws/v5``) and ``rest_url``."""
    exchange = hub.client("okx", options={"fetchMarkets": {"types": ["spot"]}}, keepalive=keepalive)
    if demo:
        exchange.set_sandbox_mode(True)  # replaces urls['api']: override after it
    exchange.urls["api"] = {**exchange.urls["api"], "rest": rest_url, "ws": ws_url}
    if credentials is not None:
        exchange.apiKey = credentials.fields.get("apiKey", "")
        exchange.secret = credentials.fields.get("secret", "")
        exchange.password = credentials.fields.get("password", "")
    return exchange


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
            better = explain_okx_ws(exc, account=None, url=self.url)
            if better is exc:
                raise
            raise better from exc

    async def _client(self) -> Any:
        async with self._markets_lock:
            if self._exchange is None:
                exchange = okx_client(
                    self._hub,
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
