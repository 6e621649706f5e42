"""Helpers for the stream tests: a recorder of callbacks, a task that runs for a block, and the
venues whose balance streams are tested (Binance, Bybit, Kraken): their sandbox, a stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from binance_support import binance_state
from bybit_support import bybit_state
from kraken_support import kraken_state

from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.exchanges.binance import BinanceConnector
from keyfolio.exchanges.bybit import BybitConnector
from keyfolio.exchanges.connector import VenueConnector
from keyfolio.exchanges.kraken import KrakenConnector
from keyfolio.exchanges.stream import AccountStream, Backoff, StreamHub
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state

FAST = Backoff(base=0.02, cap=0.1)


class Recorder:
    """Collects callbacks into a queue the test awaits (bounded by a timeout)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.backlog: list[Any] = []

    def __call__(self, item: Any) -> None:
        self.queue.put_nowait(item)

    async def next(self, kind: type, timeout: float = 30.0) -> Any:
        """The oldest item of ``kind`` not taken yet (others stay for later calls)."""
        for item in self.backlog:
            if isinstance(item, kind):
                self.backlog.remove(item)
                return item
        while True:
            item = await asyncio.wait_for(self.queue.get(), timeout)
            if isinstance(item, kind):
                return item
            self.backlog.append(item)


@contextlib.asynccontextmanager
async def running(coro: Any) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@dataclass(frozen=True)
class StreamVenue:
    """A venue of the balance-stream tests: its connector, its sandbox state, whose account."""

    exchange: str
    connector: type[VenueConnector]
    state: Callable[[], dict[str, Any]]
    account: str = "alice"

    @contextlib.asynccontextmanager
    async def sandbox(self) -> AsyncIterator[str]:
        """The venue's sandbox with rate limits off: its base URL."""
        async with run_sandbox(parse_state(self.state()), rate_limit=False) as base:
            yield base

    def stream(
        self, hub: StreamHub, url: str, recorder: Recorder, key: dict[str, str]
    ) -> AccountStream:
        """The account's balance stream with ``key``, every push and status into ``recorder``,
        reconnecting fast."""
        spec = AccountSpec(exchange=self.exchange, name=self.account, api_url=url)
        connector = self.connector(spec, Credentials(fields=dict(key)), settings=hub.settings)
        return AccountStream(hub, connector, on_push=recorder, on_status=recorder, backoff=FAST)


BINANCE = StreamVenue("binance", BinanceConnector, binance_state)
BYBIT = StreamVenue("bybit", BybitConnector, bybit_state)
KRAKEN = StreamVenue("kraken", KrakenConnector, kraken_state, account="bob")
