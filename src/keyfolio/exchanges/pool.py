"""One shared HTTP session for every connector of a sync.

Each ccxt async instance would otherwise build its own SSL context (tens of ms of CPU, blocking
the loop) and its own connection pool. :class:`ConnectorPool` owns one ``aiohttp`` session and
one SSL context, hands them to every connector it creates, and closes all of them, then the
session, on exit (ccxt leaves a session passed in ``config`` open). It also shares one
:class:`~keyfolio.exchanges.markets.MarketsCache`, so markets load once per exchange and host.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import ssl
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.assets import AssetMap
from keyfolio.exchanges._closing import finish_closing
from keyfolio.exchanges.base import ExchangeConnector
from keyfolio.exchanges.catalog import exchange_info
from keyfolio.exchanges.ccxt_generic import GenericCcxtConnector
from keyfolio.exchanges.clients import ClientFactory
from keyfolio.exchanges.connector import VenueConnector
from keyfolio.exchanges.markets import MarketsCache
from keyfolio.exchanges.retry import Cooldowns
from keyfolio.exchanges.venue import VenueInfo
from keyfolio.exchanges.venues import venue_info, venue_of_host

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ConnectorPool", "connector_class", "default_ssl_context", "preload"]

logger = logging.getLogger(__name__)


def connector_class(venue: VenueInfo) -> type[VenueConnector]:
    """The connector class a venue names (``module:Class``), imported on first use."""
    module_name, _, class_name = venue.connector.partition(":")
    found = getattr(importlib.import_module(module_name), class_name)
    assert isinstance(found, type) and issubclass(found, VenueConnector)
    return found


class _CaOnFirstHandshake(ssl.SSLContext):
    """A client context that verifies like ``ssl.create_default_context()`` and loads its CA
    bundle (certifi's, as ccxt uses, else the system's) before its first TLS handshake.

    Loading the bundle is most of the cost of an SSL context (~0.05-0.1 s of CPU); a sync whose
    hosts are all plain ``http://`` (the sandbox on loopback) never handshakes, so never pays
    it. Verification is set from the start (``CERT_REQUIRED``, host names checked) and every
    handshake waits for the bundle: asyncio wraps each TLS connection with ``wrap_bio``, blocking
    sockets with ``wrap_socket``.
    """

    def _load_cas(self) -> None:
        with _CA_LOCK:
            if getattr(self, "_cas_loaded", False):
                return
            try:
                import certifi  # installed with ccxt
            except ImportError:  # pragma: no cover - ccxt depends on certifi
                self.load_default_certs(ssl.Purpose.SERVER_AUTH)
            else:
                self.load_verify_locations(cafile=certifi.where())
            self._cas_loaded = True

    @property
    def cas_loaded(self) -> bool:
        """Whether the CA bundle is loaded (some connection used TLS)."""
        return bool(getattr(self, "_cas_loaded", False))

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load_cas()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load_cas()
        return super().wrap_socket(*args, **kwargs)


_CA_LOCK = threading.Lock()


def default_ssl_context() -> ssl.SSLContext:
    """The client SSL context of a pool: verifies certificates and host names with certifi's CA
    bundle (as ccxt uses), else the system's, loaded on the first TLS connection."""
    context = _CaOnFirstHandshake(ssl.PROTOCOL_TLS_CLIENT)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    return context


def preload() -> None:
    """Import what a pool's first request needs (ccxt's async exchanges, aiohttp) now: a sync
    does it while the vault key is derived on another thread (``App.unlock_meanwhile``)."""
    import aiohttp  # noqa: F401
    import ccxt.async_support  # noqa: F401


def _authority(url: str) -> str:
    """``host:port`` of a URL, the port written out (``https://a.example`` -> ``a.example:443``)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    return f"{parts.hostname or ''}:{port}"


class RequestGate(Protocol):
    """Paces every HTTP request of a pool (hosted mode's shared rate budgets)."""

    async def acquire(self, *, venue: str | None, host: str, path: str) -> None:
        """Return when a request to ``path`` on ``host`` (``host:port``) fits the budget;
        ``venue`` is the first-class venue the host serves, None for another exchange."""

    async def aclose(self) -> None:
        """Release its connections (the pool calls it when it closes)."""


class ConnectorPool:
    """Creates connectors that share one session; ``async with`` closes them all.

    ``retry_base_delay`` is the first retry backoff in seconds for every connector. ``gate``
    is awaited before each HTTP request the connectors send (hosted mode's shared budgets).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        retry_base_delay: float = 0.25,
        aliases: Mapping[str, Mapping[str, str]] | None = None,
        gate: RequestGate | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate
        self.retry_base_delay = retry_base_delay
        self.aliases = {venue: dict(codes) for venue, codes in (aliases or {}).items()}
        """The user's asset overrides per venue: ``{venue: {code: asset}}``."""
        self.markets = MarketsCache(settings.cache_dir, settings.markets_ttl_seconds)
        self.cooldowns = Cooldowns()
        self.clients = ClientFactory()
        """Constructs each ccxt class once per configuration; connectors get copies."""
        self._session: aiohttp.ClientSession | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._connectors: list[GenericCcxtConnector] = []
        self._by_account: dict[str, tuple[Any, GenericCcxtConnector]] = {}
        self._retired: set[asyncio.Future[None]] = set()
        self._venue_hosts: dict[str, str] = {}
        """``host:port`` of an account's ``--api-url`` -> its venue (the gate's venue)."""

    def connector(
        self, spec: AccountSpec, credentials: Credentials, *, assets: AssetMap | None = None
    ) -> ExchangeConnector:
        """A connector for one account: its venue's connector if first-class, else the generic one.

        ``assets`` is the account's asset map (the venue's table and the user's overrides).

        Asking again for the same account (same spec and credentials) returns the same
        connector, so a long-lived pool (the live engine's) does not grow with every call.
        Raises ExchangeUnsupportedError for an exchange id ccxt does not know.
        """
        return self._connector(spec.name, spec, credentials, assets)

    def public_connector(
        self, spec: AccountSpec, *, assets: AssetMap | None = None
    ) -> ExchangeConnector:
        """A connector without credentials on the account's venue and host, for public requests
        (the spot tickers that price a sync). One per venue, host and demo flag."""
        name = f"public:{spec.exchange}:{spec.region.value}:{spec.demo}:{spec.api_url or ''}"
        return self._connector(name, spec, Credentials(fields={}), assets)

    def _connector(
        self, key: str, spec: AccountSpec, credentials: Credentials, assets: AssetMap | None
    ) -> GenericCcxtConnector:
        if self._session is None:
            raise RuntimeError("ConnectorPool is not open: use `async with ConnectorPool(...)`.")
        identity = (spec, credentials, assets)
        known = self._by_account.get(key)
        if known is not None and known[0] == identity:
            return known[1]
        exchange_info(spec.exchange)
        options: dict[str, Any] = {
            "settings": self.settings,
            "session": self._session,
            "ssl_context": self._ssl_context,
            "markets": self.markets,
            "retry_base_delay": self.retry_base_delay,
            "cooldowns": self.cooldowns,
            "clients": self.clients,
        }
        venue = venue_info(spec.exchange)
        if venue is not None and spec.api_url:
            self._venue_hosts[_authority(spec.api_url)] = venue.id
        connector: GenericCcxtConnector
        if venue is None:
            connector = GenericCcxtConnector(spec, credentials, **options)
        else:
            if assets is None:
                overrides = self.aliases.get(venue.id, {})
                assets = AssetMap(venue.id, venue.asset_rules, overrides=overrides)
            connector = connector_class(venue)(spec, credentials, assets=assets, **options)
        self._connectors.append(connector)
        if known is not None:  # the account changed (e.g. a rotated key): retire the old one
            self._connectors.remove(known[1])
            self._retired.add(asyncio.ensure_future(known[1].close()))
        self._by_account[key] = (identity, connector)
        return connector

    async def __aenter__(self) -> ConnectorPool:
        import aiohttp

        self._ssl_context = default_ssl_context()
        traces = []
        if self.gate is not None:
            gate = self.gate

            async def paced(session: Any, context: Any, params: Any) -> None:
                url = params.url
                host = f"{url.host or ''}:{url.port}"
                venue = self._venue_hosts.get(host) or venue_of_host(url.host or "")
                await gate.acquire(venue=venue, host=host, path=url.path)

            trace = aiohttp.TraceConfig()
            trace.on_request_start.append(paced)
            traces.append(trace)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._ssl_context),
            trust_env=False,
            trace_configs=traces or None,
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
        """Close every connector, then the shared session. Idempotent.

        A cancellation that arrives meanwhile (Ctrl-C in `keyfolio watch`) does not cut the close
        short: it is raised once everything is closed."""
        connectors, self._connectors = self._connectors, []
        self._by_account.clear()
        retired, self._retired = self._retired, set()
        session, self._session = self._session, None
        await finish_closing(self._release(connectors, retired, session))

    async def _release(
        self,
        connectors: list[GenericCcxtConnector],
        retired: set[asyncio.Future[None]],
        session: aiohttp.ClientSession | None,
    ) -> None:
        await asyncio.gather(*(connector.close() for connector in connectors), *retired)
        self.clients.close()
        if self.gate is not None:
            await self.gate.aclose()
        if session is not None:
            await session.close()
