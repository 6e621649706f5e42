"""The OKX connector: regions, demo trading, four balance sources and the key check.

Balances come from OKX's raw V5 JSON through ccxt's implicit API methods (every number is a
string there), never from ccxt's unified float amounts:

=================  ==========================================  ==================================
Source             Endpoint                                    Amount
=================  ==========================================  ==================================
TRADING            ``/api/v5/account/balance``                 ``data[0].details[].cashBal``
FUNDING            ``/api/v5/asset/balances``                  ``data[].bal``
SAVINGS            ``/api/v5/finance/savings/balance``         ``data[].amt``
ONCHAIN_EARN       ``/api/v5/finance/staking-defi/orders-active``  sum of ``investData[].amt``
=================  ==========================================  ==================================

Why ``cashBal`` and not ``eq``, and why ``/finance/staking-defi/eth/balance`` is not added, is
explained in ``docs/okx.md``.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.domain.balances import (
    KeyInfo,
    PermissionWords,
    Source,
    SourceResult,
    SourceStatus,
)
from keyfolio.domain.money import BOUNDS_HINT, INPUT, ZERO, parse_decimal, total
from keyfolio.errors import (
    ClockSkewError,
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
)
from keyfolio.exchanges.catalog import OKX_SOURCES, region_host, region_ws_url
from keyfolio.exchanges.ccxt_generic import GenericCcxtConnector, gather_sources
from keyfolio.exchanges.markets import MarketData, MarketsCache

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "OKX_SOURCES",
    "PERMISSION_WORDS",
    "OkxConnector",
    "key_info",
    "parse_funding",
    "parse_onchain_earn",
    "parse_savings",
    "parse_trading",
    "ws_url_for",
]

logger = logging.getLogger(__name__)


#: ccxt ids that are OKX with a fixed region.
_FIXED_REGION = {"myokx": Region.EEA, "okxus": Region.US}

#: Demo Trading WebSocket hosts (REST stays on the live host, with x-simulated-trading: 1).
#: OKX documents wspap (global) and wseeapap (EEA); no US demo host is documented, so US demo
#: keys use the global one.
_DEMO_WS_URLS = {
    Region.GLOBAL: "wss://wspap.okx.com:8443/ws/v5",
    Region.EEA: "wss://wseeapap.okx.com:8443/ws/v5",
    Region.US: "wss://wspap.okx.com:8443/ws/v5",
}

Amounts = dict[str, Decimal]

#: OKX's ``perm`` words (``GET /api/v5/account/config``) and their names in API Management.
#: ``read`` is the allowlist: keyfolio stores a key only if every word it has is there.
PERMISSION_WORDS = PermissionWords(
    read=frozenset({"read_only"}),
    labels={"read_only": "Read", "trade": "Trade", "withdraw": "Withdraw"},
)

#: An amount outside the bounds is unreadable: the source fails and keeps its last good data.
_AMOUNT_HINT = (
    "This source keeps its last good balances (marked stale). "
    + BOUNDS_HINT
    + " If OKX's own site shows this amount, report it with the --debug output."
)


def _rows(data: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
        raise ExchangeResponseError(f"OKX {what}: expected a list of objects in 'data'.")
    return list(data)


def _add(amounts: Amounts, ccy: Any, value: Any, what: str) -> None:
    if not isinstance(ccy, str) or not ccy:
        raise ExchangeResponseError(f"OKX {what}: a row has no currency ('ccy').")
    if not isinstance(value, str):
        raise ExchangeResponseError(f"OKX {what}: {ccy} amount is not a string: {value!r}.")
    try:
        amount = parse_decimal(value, field=f"{what} {ccy}")
    except ValueError as exc:
        raise ExchangeResponseError(f"OKX {what}: {exc}.", hint=_AMOUNT_HINT) from exc
    summed = total([amounts.get(ccy, ZERO), amount])
    problem = INPUT.problem(summed)
    if problem is not None:
        raise ExchangeResponseError(
            f"OKX {what}: the {ccy} total {summed} {problem}.", hint=_AMOUNT_HINT
        )
    amounts[ccy] = summed


def _non_zero(amounts: Amounts) -> Amounts:
    return {ccy: amount for ccy, amount in amounts.items() if amount != 0}


def parse_trading(data: Any) -> Amounts:
    """Trading account: ``cashBal`` of each ``data[0].details[]`` row (not ``eq``)."""
    amounts: Amounts = {}
    for account in _rows(data, "trading balance")[:1]:
        for row in _rows(account.get("details", []), "trading balance details"):
            _add(amounts, row.get("ccy"), row.get("cashBal"), "trading balance")
    return _non_zero(amounts)


def parse_funding(data: Any) -> Amounts:
    """Funding account: ``bal`` of each row (available plus frozen)."""
    amounts: Amounts = {}
    for row in _rows(data, "funding balance"):
        _add(amounts, row.get("ccy"), row.get("bal"), "funding balance")
    return _non_zero(amounts)


def parse_savings(data: Any) -> Amounts:
    """Simple Earn (flexible savings): ``amt`` of each row."""
    amounts: Amounts = {}
    for row in _rows(data, "savings balance"):
        _add(amounts, row.get("ccy"), row.get("amt"), "savings balance")
    return _non_zero(amounts)


def parse_onchain_earn(data: Any) -> Amounts:
    """On-chain Earn: the sum of ``investData[].amt`` per invested currency over active orders."""
    amounts: Amounts = {}
    for order in _rows(data, "on-chain earn orders"):
        for invest in _rows(order.get("investData", []), "on-chain earn investData"):
            _add(amounts, invest.get("ccy") or order.get("ccy"), invest.get("amt"), "on-chain earn")
    return _non_zero(amounts)


def ws_url_for(region: Region, api_url: str | None, *, demo: bool = False) -> str:
    """The WebSocket base: the override's host (http->ws, https->wss) + ``/ws/v5``, or OKX's
    (the Demo Trading host with ``demo``)."""
    if api_url:
        base = api_url.rstrip("/")
        if base.startswith("https://"):
            return "wss://" + base[len("https://") :] + "/ws/v5"
        if base.startswith("http://"):
            return "ws://" + base[len("http://") :] + "/ws/v5"
        return base + "/ws/v5"
    if demo:
        return _DEMO_WS_URLS[Region(region)]
    return region_ws_url(region)


_PARSERS: dict[Source, tuple[str, Callable[[Any], Amounts]]] = {
    Source.TRADING: ("privateGetAccountBalance", parse_trading),
    Source.FUNDING: ("privateGetAssetBalances", parse_funding),
    Source.SAVINGS: ("privateGetFinanceSavingsBalance", parse_savings),
    Source.ONCHAIN_EARN: ("privateGetFinanceStakingDefiOrdersActive", parse_onchain_earn),
}


def key_info(row: Mapping[str, Any]) -> KeyInfo:
    """A key's permissions, IP whitelist, uid and label from a ``/account/config`` row."""

    def items(name: str) -> tuple[str, ...]:
        value = row.get(name) or ""
        return tuple(part.strip() for part in str(value).split(",") if part.strip())

    return KeyInfo(
        permissions=frozenset(items("perm")),
        ip_whitelist=items("ip"),
        uid=str(row.get("uid") or ""),
        label=str(row.get("label") or ""),
        verified=True,
        words=PERMISSION_WORDS,
    )


class OkxConnector(GenericCcxtConnector):
    """An OKX account (``okx``, or ``myokx``/``okxus`` with their fixed region).

    ``clock_correction_ms`` is added to the local clock when signing (ccxt's
    ``options['timeDifference']`` with the opposite sign); 0 signs with the local clock.
    """

    sources = OKX_SOURCES

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
        clock_correction_ms: int = 0,
    ) -> None:
        super().__init__(
            spec,
            credentials,
            settings=settings,
            session=session,
            ssl_context=ssl_context,
            markets=markets,
            retry_base_delay=retry_base_delay,
            enable_rate_limit=False,  # limits are per key and endpoint; 50011 is retried
        )
        self._clock_correction_ms = clock_correction_ms

    @property
    def ccxt_id(self) -> str:
        return "okx"

    @property
    def region(self) -> Region:
        return _FIXED_REGION.get(self.exchange_id, Region(self.spec.region))

    @property
    def _override(self) -> str | None:
        """The account's ``api_url``, else ``KEYFOLIO_OKX_HOSTS__<REGION>`` from settings."""
        return self.spec.api_url or self.settings.okx_hosts.get(self.region.value)

    @property
    def rest_url(self) -> str:
        """REST base URL: the ``api_url`` override, else the region's host."""
        return (self._override or region_host(self.region)).rstrip("/")

    @property
    def ws_url(self) -> str:
        """WebSocket base URL (ccxt.pro appends ``/public`` or ``/private``)."""
        return ws_url_for(self.region, self._override, demo=self.spec.demo)

    @property
    def host(self) -> str:
        return urlsplit(self.rest_url).netloc

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["options"] = {
            "fetchMarkets": {"types": ["spot"]},
            "timeDifference": -self._clock_correction_ms,
        }
        return config

    def _configure(self, exchange: Any) -> None:
        if self.spec.demo:
            # set_sandbox_mode replaces urls['api'] with urls['test']: override after it.
            exchange.set_sandbox_mode(True)
        exchange.urls["api"] = {**exchange.urls["api"], "rest": self.rest_url, "ws": self.ws_url}

    # ----------------------------------------------------------------- requests

    async def _raw(self, method: str, what: str) -> list[Any]:
        """``data`` of one raw V5 call, retried; a non-JSON body counts as a temporary failure."""

        async def call() -> list[Any]:
            response = await getattr(self._client(), method)()
            if not isinstance(response, dict) or not isinstance(response.get("data"), list):
                raise ExchangeUnavailableError(
                    f"OKX sent an unreadable answer to the {what} request "
                    f"for account '{self.spec.name}' (not the JSON envelope)."
                )
            return list(response["data"])

        return await self._retrying(call, what)

    async def _load_markets_data(self) -> MarketData:
        markets = await self._client().fetch_markets()
        return MarketData(markets=list(markets))

    async def _markets_quietly(self) -> None:
        try:
            await self.load_markets()
        except ExchangeError as exc:
            logger.warning("OKX markets not loaded for account %s: %s", self.spec.name, exc)

    async def _source(self, source: Source) -> SourceResult:
        method, parser = _PARSERS[source]
        data = await self._raw(method, source.label)
        return SourceResult(source=source, status=SourceStatus.OK, amounts=parser(data))

    # ----------------------------------------------------------------- protocol

    async def fetch_balances(self) -> list[SourceResult]:
        """The four sources, concurrently; each one's failure isolated. Auth errors raise."""
        return await self.fetch_sources(self.sources)

    async def fetch_sources(self, sources: Collection[Source]) -> list[SourceResult]:
        """Some of the four sources (e.g. only TRADING after a WebSocket push), concurrently.

        Same rules as :meth:`fetch_balances`: a per-source failure becomes that source's result,
        an authentication error raises. Markets are loaded alongside (quietly) on first use.
        """
        started = time.monotonic()

        def reader(source: Source) -> Callable[[], Any]:
            return lambda: self._source(source)

        wanted = [source for source in self.sources if source in sources]
        outcomes = await gather_sources(
            {source: reader(source) for source in wanted},
            also=None if self._markets_ready else self._markets_quietly(),
        )
        for outcome in outcomes:
            if isinstance(outcome, ExchangeError):
                self._log_failure(outcome, started)
                raise await self._explained(outcome)
        results = [o for o in outcomes if isinstance(o, SourceResult)]
        self._log_fetch(results, started)
        return results

    async def check_key(self) -> KeyInfo:
        """Permissions, IP whitelist, uid and label from ``/api/v5/account/config``."""
        try:
            data = await self._raw("privateGetAccountConfig", "account config")
        except ClockSkewError as exc:
            raise await self._explained(exc) from exc
        if not data or not isinstance(data[0], Mapping):
            raise ExchangeResponseError("OKX sent an empty account configuration.")
        return key_info(data[0])

    async def _server_time_ms(self) -> int:
        data = await self._raw("publicGetPublicTime", "server time")
        try:
            return int(data[0]["ts"])
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise ExchangeResponseError("OKX sent an unreadable server time.") from exc

    def _signing_clock_ms(self) -> float:
        return time.time() * 1000 + self._clock_correction_ms

    async def clock_offset_ms(self) -> int:
        """OKX time minus the clock keyfolio signs with, at the middle of the round trip."""
        before = self._signing_clock_ms()
        server = await self._server_time_ms()
        after = self._signing_clock_ms()
        return round(server - (before + after) / 2)

    async def ping(self) -> None:
        """``/api/v5/public/time`` answers."""
        await self._server_time_ms()

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
            f"OKX refused the request timestamp for account '{self.spec.name}' "
            f"(code {exc.exchange_code or '50102'}): this machine's clock is "
            f"{abs(offset) / 1000:.1f} s {direction} OKX, which allows 30 s.",
            hint=exc.hint,
            exchange_code=exc.exchange_code,
        )
        explained.__cause__ = exc
        return explained
