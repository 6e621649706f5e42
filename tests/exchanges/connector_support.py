"""What the tests of the Binance, Bybit, Coinbase and Kraken connectors share: each venue's
sandbox (as a ``url`` fixture), the connector of a key (from a pool, or streaming), the error of
a machine whose clock is off and the offset it measured."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest
from binance_support import BN_READ, binance_state
from bybit_support import BY_READ, bybit_state
from coinbase_support import CB_READ, coinbase_state
from kraken_support import KR_READ, kraken_state
from stream_support import FAST, Recorder

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.errors import ClockSkewError
from keyfolio.exchanges.binance import BinanceConnector
from keyfolio.exchanges.bybit import BybitConnector
from keyfolio.exchanges.coinbase import CoinbaseConnector
from keyfolio.exchanges.connector import VenueConnector
from keyfolio.exchanges.kraken import KrakenConnector
from keyfolio.exchanges.pool import ConnectorPool
from keyfolio.exchanges.stream import AccountStream, StreamHub
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state

C = TypeVar("C", bound=VenueConnector)


@dataclass(frozen=True)
class Venue(Generic[C]):
    """A first-class venue under test: its connector, its sandbox state, its read-only key and
    whose balances stream."""

    exchange: str
    connector: type[C]
    state: Callable[[], dict[str, Any]]
    read_key: dict[str, str]
    account: str = "alice"

    @contextlib.asynccontextmanager
    async def sandbox(self) -> AsyncIterator[str]:
        """The venue's sandbox with rate limits off: its base URL."""
        async with run_sandbox(parse_state(self.state()), rate_limit=False) as base:
            yield base

    def url_fixture(self) -> Any:
        """A ``url`` fixture: the base URL of a fresh sandbox for each test."""

        async def url() -> AsyncIterator[str]:
            async with self.sandbox() as base:
                yield base

        return pytest.fixture(url)

    def spec(self, url: str, name: str | None = None) -> AccountSpec:
        return AccountSpec(exchange=self.exchange, name=name or self.account, api_url=url)

    def pooled(
        self, pool: ConnectorPool, url: str, key: dict[str, str] | None = None, name: str = "alice"
    ) -> C:
        """The pool's connector for account ``name`` with ``key`` (the read-only one unless
        given): the venue's own class."""
        credentials = Credentials(fields=dict(self.read_key if key is None else key))
        connector = pool.connector(self.spec(url, name), credentials)
        assert isinstance(connector, self.connector)
        return connector

    async def clock_error(
        self,
        url: str,
        key: dict[str, str],
        settings: Settings,
        ms: int,
        call: Callable[[C], Awaitable[object]] = VenueConnector.fetch_balances,
    ) -> ClockSkewError:
        """The error ``call`` (reading the balances) raises on a machine whose clock is ``ms``
        milliseconds fast (slow if negative)."""
        credentials = Credentials(fields=dict(key))
        connector = self.connector(
            self.spec(url), credentials, settings=settings, clock_correction_ms=ms
        )
        async with connector:
            with pytest.raises(ClockSkewError) as caught:
                await call(connector)
        return caught.value

    def stream(
        self, hub: StreamHub, url: str, recorder: Recorder, key: dict[str, str]
    ) -> AccountStream:
        """The account's balance stream with ``key``, every push and status into ``recorder``,
        reconnecting fast."""
        credentials = Credentials(fields=dict(key))
        connector = self.connector(self.spec(url), credentials, settings=hub.settings)
        return AccountStream(hub, connector, on_push=recorder, on_status=recorder, backoff=FAST)


BINANCE = Venue("binance", BinanceConnector, binance_state, BN_READ)
BYBIT = Venue("bybit", BybitConnector, bybit_state, BY_READ)
COINBASE = Venue("coinbase", CoinbaseConnector, coinbase_state, CB_READ)
KRAKEN = Venue("kraken", KrakenConnector, kraken_state, KR_READ, account="bob")


def measured_offset(message: str, words: str) -> float:
    """The seconds in "clock is N s <words>" of a clock error's ``message``."""
    measured = re.search(rf"clock is ([0-9.]+) s {words}", message)
    assert measured is not None, message
    return float(measured.group(1))
