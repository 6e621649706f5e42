"""The Bybit connector: the Unified Trading wallet, Funding, Flexible Saving and On-chain Earn,
read from Bybit V5's raw JSON strings.

=====================  =================================================================  ======
Source                 Endpoint (ccxt implicit method)                                    Amount
=====================  =================================================================  ======
Unified Trading        ``GET /v5/account/wallet-balance?accountType=UNIFIED``             ``walletBalance - spotBorrow``
Funding                ``GET /v5/asset/transfer/query-account-coins-balance?accountType=FUND``  ``walletBalance``
Flexible Savings       ``GET /v5/earn/position?category=FlexibleSaving``                  ``amount``
On-chain Earn          ``GET /v5/earn/position?category=OnChain``                         ``amount``
=====================  =================================================================  ======

**Never count one coin twice.** Earn principal leaves the wallets, so the four sources do not
overlap, with one exception: an On-chain Earn product in *LST mode* (``swapCoin`` set in
``GET /v5/earn/product``) credits a liquid staking token (``BBSOL`` for SOL) to Funding or
Unified. That token is the holding; its position row is not counted again. ``BYUSDT`` (minted
from Flexible Saving into Unified) is counted once, in Unified: ``/v5/earn/token/position``
lists the same holding and is not read. See docs/exchanges/bybit.md.
"""  # noqa: E501

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from keyfolio.domain.balances import KeyInfo, PermissionWords, Source
from keyfolio.domain.records import Ticker
from keyfolio.errors import (
    ClockSkewError,
    ExchangeError,
    ExchangeResponseError,
    RateLimitedError,
)
from keyfolio.exchanges.bybit_codes import BYBIT_CODES, BYBIT_HINTS, IP_BLOCK_SECONDS
from keyfolio.exchanges.connector import Amounts, Feed, VenueConnector, add_amount, ticker_of
from keyfolio.exchanges.history import HistoryContext, HistoryStream
from keyfolio.exchanges.markets import MarketData
from keyfolio.exchanges.venue import IpLimit, SourceInfo, VenueInfo

if TYPE_CHECKING:
    from keyfolio.exchanges.stream import StreamHub

__all__ = ["PERMISSION_WORDS", "VENUE", "BybitConnector", "key_info"]

logger = logging.getLogger(__name__)

_GUIDE = (
    "In Bybit open Account & Security > API > Create New Key > System-generated API Keys, choose "
    "'API Transaction' and 'Read-Only' (not 'Read-Write'), tick Earn so the Earn balances can "
    "be read, bind the key to your IP address, and link that key."
)

#: How keyfolio names a key's abilities: ``readOnly`` for a key whose ``readOnly`` is 1 (its
#: areas can then only be read), else ``readWrite`` and each ``Area:Permission`` it lists.
PERMISSION_WORDS = PermissionWords(
    read=frozenset({"readOnly"}),
    labels={
        "readOnly": "Read-Only",
        "readWrite": "Read-Write",
        "ContractTrade:Order": "Contract - Orders",
        "ContractTrade:Position": "Contract - Positions",
        "Spot:SpotTrade": "Spot - Trade",
        "Wallet:AccountTransfer": "Wallet - Account Transfer",
        "Wallet:SubMemberTransfer": "Wallet - Subaccount Transfer",
        "Wallet:Withdraw": "Wallet - Withdrawal",
        "Options:OptionsTrade": "Options - Trade",
        "Derivatives:DerivativesTrade": "Unified Trading - Trade",
        "Exchange:ExchangeHistory": "Exchange - Convert",
        "Earn:Earn": "Earn",
        "CopyTrading:CopyTrading": "Copy Trading",
        "BlockTrade:BlockTrade": "Block Trade",
        "NFT:NFTQueryProductList": "NFT",
        "Affiliate:Affiliate": "Affiliate",
    },
)

VENUE = VenueInfo(
    id="bybit",
    name="Bybit",
    ccxt_id="bybit",
    credentials=("apiKey", "secret"),
    labels={"apiKey": "API Key", "secret": "API Secret"},
    sources=(
        SourceInfo(Source.TRADING, "Unified Trading", "GET /v5/account/wallet-balance"),
        SourceInfo(Source.FUNDING, "Funding", "GET /v5/asset/transfer/query-account-coins-balance"),
        SourceInfo(Source.SAVINGS, "Flexible Savings", "GET /v5/earn/position?FlexibleSaving"),
        SourceInfo(Source.ONCHAIN_EARN, "On-chain Earn", "GET /v5/earn/position?OnChain"),
    ),
    words=PERMISSION_WORDS,
    key_guide=_GUIDE,
    connector="keyfolio.exchanges.bybit:BybitConnector",
    concurrency=50,  # per-UID limits; 600 requests / 5 s per IP is 150 refreshes of 4
    hosts=("bybit.com", "bytick.com"),
    ip_limits=(IpLimit("all", ("/",), 600, 5.0),),  # 600 requests / 5 s per IP, every path
    codes=BYBIT_CODES,
    hints=BYBIT_HINTS,
    streams=True,
)

_EARN = "privateGetV5EarnPosition"


def key_info(row: Mapping[str, Any]) -> KeyInfo:
    """What ``/v5/user/query-api`` says about the key, in keyfolio's words for Bybit's.

    ``readOnly`` is Bybit's only write switch: 1 is read-only whatever areas the key lists;
    anything else is ``readWrite`` plus each ``Area:Permission`` (``Spot:SpotTrade``,
    ``Wallet:Withdraw``...). ``ips`` ``["*"]`` means unbound.
    """
    read_only = row.get("readOnly")
    if read_only == 1:
        words = {"readOnly"}
    else:
        words = {"readWrite" if read_only == 0 else f"readOnly={read_only!r}"}
        areas = row.get("permissions")
        for area, granted in areas.items() if isinstance(areas, Mapping) else []:
            if isinstance(granted, list):
                words.update(f"{area}:{word}" for word in granted if isinstance(word, str))
    ips = row.get("ips")
    bound = tuple(ip for ip in ips if isinstance(ip, str) and ip != "*") if isinstance(
        ips, list) else ()  # fmt: skip
    return KeyInfo(
        permissions=frozenset(words),
        ip_whitelist=bound,
        uid=str(row.get("userID") or ""),
        label=str(row.get("note") or ""),
        verified=True,
        words=PERMISSION_WORDS,
    )


def _result(data: Any, what: str) -> Mapping[str, Any]:
    """The ``result`` object of a Bybit envelope (ccxt has already raised for ``retCode`` != 0)."""
    result = data.get("result") if isinstance(data, Mapping) else None
    if not isinstance(result, Mapping):
        raise ExchangeResponseError(f"Bybit {what}: the answer has no result object.")
    return result


def _rows(value: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(row, Mapping) for row in value):
        raise ExchangeResponseError(f"Bybit {what}: expected a list of objects.")
    return list(value)


class BybitConnector(VenueConnector):
    """A Bybit Unified Trading Account (bybit.com, or a regional site through ``--api-url``)."""

    venue: ClassVar[VenueInfo] = VENUE
    feeds: ClassVar[tuple[Feed, ...]] = (
        Feed(Source.TRADING, "_read_unified"),
        Feed(Source.FUNDING, "_read_fund"),
        Feed(Source.SAVINGS, "_read_flexible"),
        Feed(Source.ONCHAIN_EARN, "_read_onchain"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("enable_rate_limit", False)  # limits are per UID and endpoint: 10006
        super().__init__(*args, **kwargs)

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["options"] = {
            **config["options"],
            "fetchMarkets": {"types": ["spot"]},
            "defaultType": "spot",
            # keyfolio reads Unified Trading Accounts only: ccxt.pro need not ask over REST
            "enableUnifiedAccount": True,
            "enableUnifiedMargin": False,
        }
        return config

    async def _load_markets_data(self) -> MarketData:
        """The spot instruments only: no signed coin list (ccxt's ``fetch_currencies``)."""
        markets = await self._client().fetch_markets()
        return MarketData(markets=list(markets))

    def _retry_after(self, exc: RateLimitedError) -> float | None:
        """HTTP 403 blocks the IP for 10 minutes; a 10006 lasts until the window's
        ``X-Bapi-Limit-Reset-Timestamp``."""
        if exc.exchange_code == "HTTP 403":
            return IP_BLOCK_SECONDS
        headers = getattr(self._exchange, "last_response_headers", None) or {}
        for name, value in dict(headers).items():
            if str(name).lower() == "x-bapi-limit-reset-timestamp":
                try:
                    reset = int(value)
                except (TypeError, ValueError):
                    break
                return max(0.05, (reset - self._signing_clock_ms()) / 1000)
        return super()._retry_after(exc)

    # ----------------------------------------------------------------- balances

    async def _get(self, method: str, params: dict[str, Any], what: str) -> Mapping[str, Any]:
        return _result(await self.call(method, params, what=what), what)

    async def _read_unified(self) -> Amounts:
        """``walletBalance - spotBorrow`` of every coin of the Unified wallet (non-zero coins
        only: Bybit leaves zero coins out when no ``coin`` is asked for)."""
        what = "unified wallet"
        result = await self._get(
            "privateGetV5AccountWalletBalance", {"accountType": "UNIFIED"}, what
        )
        amounts: Amounts = {}
        for account in _rows(result.get("list"), what):
            for row in _rows(account.get("coin"), what):
                code = row.get("coin")
                add_amount(amounts, code, row.get("walletBalance"), venue="Bybit", what=what)
                borrowed = row.get("spotBorrow") or "0"
                if borrowed != "0":  # borrowed coins sit in walletBalance: a debt, not a holding
                    if not isinstance(borrowed, str) or borrowed.startswith("-"):
                        raise ExchangeResponseError(
                            f"Bybit {what}: unreadable spotBorrow for {code}: {borrowed!r}."
                        )
                    add_amount(amounts, code, "-" + borrowed, venue="Bybit", what=what)
        return amounts

    async def _read_fund(self) -> Amounts:
        what = "funding balance"
        result = await self._get(
            "privateGetV5AssetTransferQueryAccountCoinsBalance", {"accountType": "FUND"}, what
        )
        amounts: Amounts = {}
        for row in _rows(result.get("balance"), what):
            add_amount(amounts, row.get("coin"), row.get("walletBalance"), venue="Bybit",
                       what=what)  # fmt: skip
        return amounts

    async def _read_flexible(self) -> Amounts:
        what = "Flexible Saving"
        result = await self._get(_EARN, {"category": "FlexibleSaving"}, what)
        amounts: Amounts = {}
        for row in _rows(result.get("list"), what):
            add_amount(amounts, row.get("coin"), row.get("amount"), venue="Bybit", what=what)
        return amounts

    async def _lst_products(self) -> frozenset[str]:
        """The OnChain product ids in LST mode (``swapCoin`` set): one public request."""
        what = "On-chain Earn products"
        result = await self._get("publicGetV5EarnProduct", {"category": "OnChain"}, what)
        return frozenset(
            str(row.get("productId"))
            for row in _rows(result.get("list"), what)
            if isinstance(row.get("swapCoin"), str) and row.get("swapCoin")
        )

    async def _read_onchain(self) -> Amounts:
        """Active OnChain positions, except LST-mode ones: their token sits in a wallet."""
        what = "On-chain Earn"
        rows = _rows((await self._get(_EARN, {"category": "OnChain"}, what)).get("list"), what)
        lst = await self._lst_products() if rows else frozenset()
        amounts: Amounts = {}
        for row in rows:
            if str(row.get("productId")) in lst:
                logger.debug("Bybit OnChain %s is LST mode: counted as its token", row.get("coin"))
                continue
            add_amount(amounts, row.get("coin"), row.get("amount"), venue="Bybit", what=what)
        return amounts

    # ----------------------------------------------------------------- key and clock

    async def check_key(self) -> KeyInfo:
        """``readOnly``, ``permissions``, ``ips``, ``userID`` and ``note`` of the key."""
        try:
            result = await self._get("privateGetV5UserQueryApi", {}, "API key information")
        except ClockSkewError as exc:
            raise await self._explained(exc) from exc
        return key_info(result)

    async def server_time_ms(self) -> int:
        result = await self._get("publicGetV5MarketTime", {}, "server time")
        try:
            return int(str(result["timeNano"])) // 1_000_000
        except (KeyError, ValueError) as exc:
            raise ExchangeResponseError("Bybit sent an unreadable server time.") from exc

    async def _spot_tickers(self) -> list[Ticker]:
        """``/v5/market/tickers?category=spot``: every spot market in one request, symbols split
        by the instruments' ``baseCoin``/``quoteCoin`` (never by suffix)."""
        await self.load_markets()
        by_id = self._client().markets_by_id or {}
        data = await self.call("publicGetV5MarketTickers", {"category": "spot"}, what="tickers")
        stamp = data.get("time") if isinstance(data, Mapping) else None
        found: list[Ticker] = []
        for row in _rows(_result(data, "spot tickers").get("list"), "spot tickers"):
            markets = by_id.get(row.get("symbol"))
            if not markets:
                continue  # a market the spot list does not name (delisted, or another type)
            market = markets[0]
            ticker = ticker_of(
                "bybit", f"{market['baseId']}-{market['quoteId']}", row.get("lastPrice"),
                row.get("prevPrice24h") or None, stamp,
            )  # fmt: skip
            if ticker is not None:
                found.append(ticker)
        return found

    async def history_streams(self, context: HistoryContext) -> list[HistoryStream]:
        """Spot executions, deposits, withdrawals and the Unified transaction log."""
        from keyfolio.exchanges.bybit_history import bybit_streams

        return bybit_streams(self)

    # ----------------------------------------------------------------- streaming

    @property
    def private_ws_url(self) -> str:
        """``wss://stream.<site>/v5/private`` (the REST host's site), or the sandbox's."""
        from keyfolio.exchanges.bybit_stream import private_ws_url

        return private_ws_url(self.spec.api_url)

    def stream_client(self, hub: StreamHub, keepalive: float) -> Any:
        """A ccxt.pro client that confirms the ``wallet`` subscription, on the account's site."""
        from keyfolio.exchanges.bybit_stream import client_class

        options = dict(self._config().get("options", {}))
        exchange = hub.client(self.ccxt_id, options=options, keepalive=keepalive,
                              cls=client_class())  # fmt: skip
        self._configure(exchange)
        exchange.urls["api"]["ws"]["private"]["contract"] = self.private_ws_url
        self._set_credentials(exchange)
        exchange.set_markets([])  # a push is only a trigger: no markets needed
        return exchange

    async def confirm_subscription(self, exchange: Any) -> bool:
        """``auth``, then ``subscribe`` to ``wallet``: live once Bybit acknowledges it (Bybit
        sends no snapshot; the Unified wallet is re-read over REST instead)."""
        from keyfolio.exchanges.bybit_stream import subscribe_wallet

        await subscribe_wallet(exchange, self.private_ws_url)
        return True

    def parse_push(self, balance: Any) -> tuple[str, tuple[str, ...]]:
        """A ``wallet`` push: the coins in ``data[].coin``."""
        from keyfolio.exchanges.bybit_stream import push_coins

        return "update", push_coins(balance)

    def explain_ws(self, exc: ExchangeError, *, url: str) -> ExchangeError:
        from keyfolio.exchanges.bybit_stream import explain_bybit_ws

        return explain_bybit_ws(exc, account=self.spec.name, url=url)
