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
explained in ``docs/exchanges/okx.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from keyfolio.domain.accounts import Region
from keyfolio.domain.balances import KeyInfo, PermissionWords, Source
from keyfolio.domain.records import Ticker
from keyfolio.errors import (
    ClockSkewError,
    EnvironmentMismatchError,
    ExchangeAuthError,
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    InvalidKeyError,
    InvalidSignatureError,
    IpNotAllowedError,
    KeyNotInRegionError,
    PermissionDeniedError,
    RateLimitedError,
    WrongPassphraseError,
)
from keyfolio.exchanges.connector import Feed, VenueConnector, add_amount, ticker_of
from keyfolio.exchanges.history import HistoryContext, HistoryStream

if TYPE_CHECKING:
    from keyfolio.exchanges.stream import StreamHub
from keyfolio.exchanges.markets import MarketData
from keyfolio.exchanges.venue import CodeMap, IpLimit, SourceInfo, VenueInfo

__all__ = [
    "OKX_CODE_MAP",
    "OKX_SOURCES",
    "PERMISSION_WORDS",
    "VENUE",
    "OkxConnector",
    "key_info",
    "region_host",
    "region_ws_url",
    "parse_funding",
    "parse_onchain_earn",
    "parse_savings",
    "parse_trading",
    "ws_url_for",
]

logger = logging.getLogger(__name__)


#: ccxt ids that are OKX with a fixed region.
_FIXED_REGION = {"myokx": Region.EEA, "okxus": Region.US}

_WS_URLS: dict[Region, str] = {
    Region.GLOBAL: "wss://ws.okx.com:8443/ws/v5",
    Region.EEA: "wss://wseea.okx.com:8443/ws/v5",
    Region.US: "wss://wsus.okx.com:8443/ws/v5",
}

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


#: OKX V5 codes -> (class, what happened). Checked before the class map.
#: ``{account}`` becomes `` for account 'name'`` (or nothing).
OKX_CODE_MAP: CodeMap = {
    "50119": (
        KeyNotInRegionError,
        "says the API key{account} does not exist on this regional host",
    ),
    "50105": (WrongPassphraseError, "rejected the passphrase{account}"),
    "50113": (InvalidSignatureError, "rejected the signature{account}: the secret key is wrong"),
    "50111": (InvalidKeyError, "does not know the API key{account}"),
    "50110": (
        IpNotAllowedError,
        "refused the request{account}: this IP address is not on the key's whitelist",
    ),
    "50102": (ClockSkewError, "refused the request timestamp{account} as expired"),
    "50101": (
        EnvironmentMismatchError,
        "says the API key{account} does not match the environment "
        "(a demo key used live, or a live key used in demo mode)",
    ),
    "50120": (PermissionDeniedError, "refused the request{account}: the key lacks the permission"),
    "50030": (PermissionDeniedError, "refused the request{account}: the key lacks the permission"),
    "50011": (RateLimitedError, "is rate limiting the API key{account}"),
    "50001": (ExchangeUnavailableError, "is temporarily unavailable (maintenance){account}"),
    "50004": (ExchangeUnavailableError, "timed out handling the request{account}"),
    "50005": (ExchangeUnavailableError, "says its API is offline{account}"),
    "50013": (ExchangeUnavailableError, "says its systems are busy{account}"),
    "50026": (ExchangeUnavailableError, "had a system error{account}"),
    "50038": (ExchangeUnsupportedError, "does not offer this in demo trading{account}"),
    "50100": (ExchangeAuthError, "says the API key{account} is frozen"),
    "50103": (ExchangeAuthError, "got no API key{account}"),
    "50104": (ExchangeAuthError, "got no passphrase{account}"),
    "50106": (ExchangeAuthError, "got no signature{account}"),
    "50107": (ExchangeAuthError, "got no timestamp{account}"),
    "50112": (ExchangeAuthError, "rejected the request timestamp{account} as malformed"),
    "50114": (ExchangeAuthError, "rejected the authorization{account}"),
}

_OKX_HINTS: dict[str, str] = {
    "50100": "The key is frozen by OKX. Contact OKX support or create a new read-only key.",
    "50103": "The API key is empty. Re-enter the key with `keyfolio account add`.",
    "50104": "The passphrase is empty. Re-enter the key with its passphrase.",
    "50038": "Demo trading does not offer this; the source is skipped.",
}


VENUE = VenueInfo(
    id="okx",
    name="OKX",
    ccxt_id="okx",
    credentials=("apiKey", "secret", "password"),
    labels={"apiKey": "API key", "secret": "Secret key", "password": "Passphrase"},
    sources=(
        SourceInfo(Source.TRADING, "Trading", "GET /api/v5/account/balance"),
        SourceInfo(Source.FUNDING, "Funding", "GET /api/v5/asset/balances"),
        SourceInfo(Source.SAVINGS, "Simple Earn", "GET /api/v5/finance/savings/balance"),
        SourceInfo(
            Source.ONCHAIN_EARN,
            "On-chain Earn",
            "GET /api/v5/finance/staking-defi/orders-active",
        ),
    ),
    words=PERMISSION_WORDS,
    key_guide=(
        "In OKX go to Profile > API Management > Create API key, tick only 'Read', bind it to "
        "your IP address, and link that key."
    ),
    connector="keyfolio.exchanges.okx:OkxConnector",
    concurrency=50,  # private limits are per UID: accounts never compete (docs/benchmarks.md)
    hosts=("okx.com",),
    ip_limits=(
        # Public market data: 20 requests / 2 s per IP, per endpoint (docs/exchanges/okx.md).
        IpLimit("public", ("/api/v5/public/", "/api/v5/market/"), 20, 2.0, per_path=True),
    ),
    codes=OKX_CODE_MAP,
    hints=_OKX_HINTS,
    aliases=_FIXED_REGION,
    regions=(Region.GLOBAL, Region.EEA, Region.US),
    has_demo=True,
    streams=True,
    exports="keyfolio.exchanges.okx_exports",
)
OKX_SOURCES = VENUE.source_kinds


def region_host(region: Region) -> str:
    """OKX's REST base URL for a region: ``https://www.okx.com``, ``https://eea.okx.com``, ..."""
    return f"https://{Region(region).okx_host}"


def region_ws_url(region: Region) -> str:
    """OKX's WebSocket base URL for a region (ccxt appends ``/public`` or ``/private``)."""
    return _WS_URLS[Region(region)]


def _rows(data: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
        raise ExchangeResponseError(f"OKX {what}: expected a list of objects in 'data'.")
    return list(data)


def _add(amounts: Amounts, ccy: Any, value: Any, what: str) -> None:
    add_amount(amounts, ccy, value, venue="OKX", what=what)


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


_READERS: dict[Source, tuple[str, Callable[[Any], Amounts]]] = {
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


class OkxConnector(VenueConnector):
    """An OKX account (``okx``, or ``myokx``/``okxus`` with their fixed region).

    ``clock_correction_ms`` is added to the local clock when signing (ccxt's
    ``options['timeDifference']`` with the opposite sign); 0 signs with the local clock.
    """

    venue: ClassVar[VenueInfo] = VENUE
    feeds: ClassVar[tuple[Feed, ...]] = tuple(
        Feed(source, "_read_" + source.value) for source in _READERS
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("enable_rate_limit", False)  # limits are per key and endpoint
        super().__init__(*args, **kwargs)

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
        config["options"] = {**config["options"], "fetchMarkets": {"types": ["spot"]}}
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

    async def _read(self, source: Source) -> Amounts:
        method, parser = _READERS[source]
        return parser(await self._raw(method, source.label))

    async def _read_trading(self) -> Amounts:
        return await self._read(Source.TRADING)

    async def _read_funding(self) -> Amounts:
        return await self._read(Source.FUNDING)

    async def _read_savings(self) -> Amounts:
        return await self._read(Source.SAVINGS)

    async def _read_onchain_earn(self) -> Amounts:
        return await self._read(Source.ONCHAIN_EARN)

    # ----------------------------------------------------------------- key and clock

    async def check_key(self) -> KeyInfo:
        """Permissions, IP whitelist, uid and label from ``/api/v5/account/config``."""
        try:
            data = await self._raw("privateGetAccountConfig", "account config")
        except ClockSkewError as exc:
            raise await self._explained(exc) from exc
        if not data or not isinstance(data[0], Mapping):
            raise ExchangeResponseError("OKX sent an empty account configuration.")
        return key_info(data[0])

    async def _spot_tickers(self) -> list[Ticker]:
        """``/api/v5/market/tickers?instType=SPOT``: every spot market in one request."""
        client = self._client()

        async def call() -> list[Any]:
            response = await client.publicGetMarketTickers({"instType": "SPOT"})
            if not isinstance(response, dict) or not isinstance(response.get("data"), list):
                raise ExchangeUnavailableError("OKX sent an unreadable tickers answer.")
            return list(response["data"])

        rows = await self._retrying(call, "spot tickers")
        found = [
            ticker_of("okx", row.get("instId", ""), row.get("last"), row.get("open24h"),
                      row.get("ts"))
            for row in rows
            if isinstance(row, Mapping) and row.get("instType", "SPOT") == "SPOT"
        ]  # fmt: skip
        if len(found) != len(rows) or None in found:
            logger.warning("skipped %d unreadable OKX ticker rows", found.count(None))
        return [ticker for ticker in found if ticker is not None]

    # ----------------------------------------------------------------- streaming

    @property
    def private_ws_url(self) -> str:
        return self.ws_url + "/private"

    def stream_client(self, hub: StreamHub, keepalive: float) -> Any:
        """A ccxt.pro ``okx`` client on the account's own WebSocket host (ccxt.pro would use the
        global ``ws.okx.com``, which refuses EEA and US keys)."""
        from keyfolio.exchanges.okx_stream import okx_client

        exchange = okx_client(
            hub,
            ws_url=self.ws_url,
            rest_url=self.rest_url,
            demo=self.spec.demo,
            credentials=self._credentials,
            keepalive=keepalive,
        )
        exchange.set_markets([])  # a push is only a trigger: no markets needed
        return exchange

    def explain_ws(self, exc: ExchangeError, *, url: str) -> ExchangeError:
        from keyfolio.exchanges.okx_stream import explain_okx_ws

        return explain_okx_ws(exc, account=self.spec.name, url=url)

    def parse_push(self, balance: Any) -> tuple[str, tuple[str, ...]]:
        """OKX's ``account`` push: ``eventType`` (``snapshot`` after every connect) and the
        currencies in ``data[0].details``."""
        info = balance.get("info") if isinstance(balance, dict) else None
        info = info if isinstance(info, dict) else {}
        data = info.get("data") if isinstance(info.get("data"), list) else []
        details = data[0].get("details", []) if data and isinstance(data[0], dict) else []
        currencies = tuple(
            str(row["ccy"]) for row in details if isinstance(row, dict) and row.get("ccy")
        )
        return str(info.get("eventType") or "snapshot"), currencies

    def ticker_stream(self, hub: StreamHub, **options: Any) -> Any:
        """OKX's public ``tickers`` channel on this account's host."""
        from keyfolio.exchanges.okx_stream import OkxTickerStream

        return OkxTickerStream(
            hub, ws_url=self.ws_url, rest_url=self.rest_url, demo=self.spec.demo, **options
        )

    async def history_streams(self, context: HistoryContext) -> list[HistoryStream]:
        """Fills of every instrument type, deposits, withdrawals, trading and funding bills, and
        (live keys) the quarterly bills and fills archives before the API's 3 months."""
        from keyfolio.exchanges.okx_archive import archive_streams
        from keyfolio.exchanges.okx_history import okx_streams

        streams: list[HistoryStream] = list(okx_streams(self))
        if not self.spec.demo:  # Demo Trading has no archives
            streams += archive_streams(self)
        return streams

    async def server_time_ms(self) -> int:
        data = await self._raw("publicGetPublicTime", "server time")
        try:
            return int(data[0]["ts"])
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise ExchangeResponseError("OKX sent an unreadable server time.") from exc
