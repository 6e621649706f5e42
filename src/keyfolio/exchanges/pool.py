"""One shared HTTP session for every connector of a sync.

Each ccxt async instance would otherwise build its own SSL context (tens of ms of CPU, blocking
the loop) and its own connection pool. :class:`ConnectorPool` owns one ``aiohttp`` session and
one SSL context, hands them to every connector it creates, and closes all of them, then the
session, on exit (ccxt leaves a session passed in ``config`` open). It also shares one
:class:`~keyfolio.exchanges.markets.MarketsCache`, so markets load once per exchange and host.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from types import TracebackType
from typing import TYPE_CHECKING

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.exchanges.base import ExchangeConnector
from keyfolio.exchanges.catalog import exchange_info
from keyfolio.exchanges.ccxt_generic import GenericCcxtConnector
from keyfolio.exchanges.errors import OKX_EXCHANGE_IDS
from keyfolio.exchanges.markets import MarketsCache
from keyfolio.exchanges.okx import OkxConnector

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ConnectorPool", "default_ssl_context"]

logger = logging.getLogger(__name__)


def default_ssl_context() -> ssl.SSLContext:
    """An SSL context with certifi's CA bundle (as ccxt uses), else the system's."""
    try:
        import certifi  # installed with ccxt
    except ImportError:  # pragma: no cover - ccxt depends on certifi
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class ConnectorPool:
    """Creates connectors that share one session; ``async with`` closes them all.

    ``retry_base_delay`` is the first retry backoff in seconds for every connector.
    """

    def __init__(self, settings: Settings, *, retry_base_delay: float = 0.25) -> None:
        self.settings = settings
        self.retry_base_delay = retry_base_delay
        self.markets = MarketsCache(settings.cache_dir, settings.markets_ttl_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._connectors: list[GenericCcxtConnector] = []
        self._by_account: dict[str, tuple[AccountSpec, Credentials, GenericCcxtConnector]] = {}
        self._retired: set[asyncio.Future[None]] = set()

    def connector(self, spec: AccountSpec, credentials: Credentials) -> ExchangeConnector:
        """A connector for one account; OKX ids get :class:`OkxConnector`, others the generic one.

        Asking again for the same account (same spec and credentials) returns the same
        connector, so a long-lived pool (the live engine's) does not grow with every call.
        Raises ExchangeUnsupportedError for an exchange id ccxt does not know.
        """
        if self._session is None:
            raise RuntimeError("ConnectorPool is not open: use `async with ConnectorPool(...)`.")
        known = self._by_account.get(spec.name)
        if known is not None and known[0] == spec and known[1] == credentials:
            return known[2]
        exchange_info(spec.exchange)
        cls = OkxConnector if spec.exchange in OKX_EXCHANGE_IDS else GenericCcxtConnector
        connector = cls(
            spec,
            credentials,
            settings=self.settings,
            session=self._session,
            ssl_context=self._ssl_context,
            markets=self.markets,
            retry_base_delay=self.retry_base_delay,
        )
        self._connectors.append(connector)
        if known is not None:  # the account changed (e.g. a rotated key): retire the old one
            self._connectors.remove(known[2])
            self._retired.add(asyncio.ensure_future(known[2].close()))
        self._by_account[spec.name] = (spec, credentials, connector)
        return connector

    async def __aenter__(self) -> ConnectorPool:
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

    async def close(self) -> None:
        """Close every connector, then the shared session. Idempotent."""
        connectors, self._connectors = self._connectors, []
        self._by_account.clear()
        await asyncio.gather(*(connector.close() for connector in connectors), *self._retired)
        self._retired.clear()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
