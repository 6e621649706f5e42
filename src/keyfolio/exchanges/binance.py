"""The Binance connector: spot, funding and Simple Earn (flexible and locked), read from raw JSON.

===================  ==================================================  ========================
Source               Endpoint (ccxt implicit method)                     Amount
===================  ==================================================  ========================
Spot (trading)       ``GET /api/v3/account`` (``privateGetAccount``)     ``free`` + ``locked``
Funding              ``POST /sapi/v1/asset/get-funding-asset``           ``free + locked + freeze
                                                                         + withdrawing``
Simple Earn flex.    ``GET /sapi/v1/simple-earn/flexible/position``      ``totalAmount``
Simple Earn locked   ``GET /sapi/v1/simple-earn/locked/position``        sum of ``amount``
===================  ==================================================  ========================

**Never count one coin twice:** Binance lists every flexible Earn position again in spot as
``LD<ASSET>`` (``LDBTC``). Those mirror rows are dropped from spot: flexible Earn is counted once,
from its own endpoint. ``LDO`` (Lido DAO) is a real asset with markets, so it is not a mirror
(the prefix rule applies only to codes Binance does not list). See docs/exchanges/binance.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from keyfolio.domain.assets import AssetRule
from keyfolio.domain.balances import KeyInfo, PermissionWords, Source
from keyfolio.domain.records import Ticker
from keyfolio.errors import (
    ClockSkewError,
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
    InvalidKeyError,
    InvalidSignatureError,
    KeyRefusedError,
    RateLimitedError,
)
from keyfolio.exchanges.connector import Amounts, Feed, VenueConnector, add_amount, ticker_of
from keyfolio.exchanges.history import HistoryContext, HistoryStream
from keyfolio.exchanges.venue import IpLimit, SourceInfo, VenueInfo

__all__ = ["PERMISSION_WORDS", "VENUE", "BinanceConnector"]

_GUIDE = (
    "In Binance open Account > API Management > Create API (System generated), leave only "
    "'Enable Reading' ticked, restrict access to your IP address, and link that key."
)

#: ``/sapi/v1/account/apiRestrictions`` flags and their names in API Management. Only the two
#: read flags may be on; ``ipRestrict`` is the IP binding, not a permission.
PERMISSION_WORDS = PermissionWords(
    read=frozenset({"enableReading", "enableFixReadOnly"}),
    labels={
        "enableReading": "Enable Reading",
        "enableFixReadOnly": "FIX API Read Only",
        "enableSpotAndMarginTrading": "Enable Spot & Margin Trading",
        "enableWithdrawals": "Enable Withdrawals",
        "enableInternalTransfer": "Enable Internal Transfer",
        "enableMargin": "Enable Margin Loan, Repay & Transfer",
        "enableFutures": "Enable Futures",
        "permitsUniversalTransfer": "Permits Universal Transfer",
        "enableVanillaOptions": "Enable European Options",
        "enableFixApiTrade": "FIX API Trading",
        "enablePortfolioMarginTrading": "Enable Portfolio Margin Trading",
    },
)

VENUE = VenueInfo(
    id="binance",
    name="Binance",
    ccxt_id="binance",
    credentials=("apiKey", "secret"),
    labels={"apiKey": "API Key", "secret": "Secret Key"},
    sources=(
        SourceInfo(Source.TRADING, "Spot", "GET /api/v3/account"),
        SourceInfo(Source.FUNDING, "Funding", "POST /sapi/v1/asset/get-funding-asset"),
        SourceInfo(
            Source.SAVINGS, "Simple Earn Flexible", "GET /sapi/v1/simple-earn/flexible/position"
        ),
        SourceInfo(
            Source.LOCKED_EARN, "Simple Earn Locked", "GET /sapi/v1/simple-earn/locked/position"
        ),
    ),
    words=PERMISSION_WORDS,
    key_guide=_GUIDE,
    connector="keyfolio.exchanges.binance:BinanceConnector",
    concurrency=39,  # 12,000 IP weight a minute on /sapi / 301 per refresh (docs/benchmarks.md)
    hosts=("binance.com",),
    ip_limits=(
        # /api: 6,000 weight a minute per IP, shared by every endpoint; /sapi: 12,000 a minute
        # per IP and endpoint (withdrawal history counts per account instead).
        IpLimit(
            "api",
            ("/api/",),
            6000,
            60.0,
            weights={
                "/api/v3/exchangeInfo": 20,
                "/api/v3/ticker/24hr": 80,
                "/api/v3/ticker/price": 4,
                "/api/v3/account": 20,
                "/api/v3/myTrades": 20,
            },
        ),  # fmt: skip
        IpLimit(
            "sapi",
            ("/sapi/",),
            12000,
            60.0,
            per_path=True,
            weights={
                "/sapi/v3/asset/getUserAsset": 5,
                "/sapi/v1/capital/config/getall": 10,
                "/sapi/v1/margin/isolated/allPairs": 10,
                "/sapi/v1/simple-earn/flexible/position": 150,
                "/sapi/v1/simple-earn/locked/position": 150,
                "/sapi/v1/simple-earn/account": 150,
                "/sapi/v1/asset/wallet/balance": 60,
            },
            exempt=frozenset({"/sapi/v1/capital/withdraw/history"}),
        ),  # fmt: skip
    ),
    asset_rules=(
        AssetRule(
            prefix="LD",
            source=Source.SAVINGS,
            note="spot mirror of a flexible Simple Earn position (LDBTC is BTC); dropped from "
            "spot, counted from the Simple Earn endpoint",
        ),
    ),
    codes={
        "-2015": (
            KeyRefusedError,
            "refused the API key{account}: the key is unknown, this IP address is not on its "
            "list, or it lacks a permission",
        ),
        "-2014": (InvalidKeyError, "says the API key{account} is not in its format"),
        "-2008": (InvalidKeyError, "does not know the API key{account}"),
        "-1021": (ClockSkewError, "refused the request timestamp{account} (outside recvWindow)"),
        "-1022": (
            InvalidSignatureError,
            "rejected the signature{account}: the secret key is wrong",
        ),
        "-1003": (RateLimitedError, "is rate limiting requests{account}"),
        "-1001": (ExchangeUnavailableError, "had an internal error{account}"),
        "-1008": (ExchangeUnavailableError, "is overloaded{account}"),
        "-1121": (ExchangeError, "does not know the market{account}"),
    },
    hints={
        "-2015": "Binance gives one answer (-2015) for three causes: the API key was deleted or "
        "mistyped; the key is restricted to IP addresses that do not include this machine "
        "(API Management > Edit restrictions); or the key lacks 'Enable Reading'. Check each; "
        "if in doubt create a new read-only key.",
        "-2014": "Copy the API Key again from Binance API Management (64 letters and digits).",
        "-2008": "The API key is not known to Binance: copy it again, or create a new "
        "read-only key in API Management.",
        "-1022": "The Secret Key does not belong to this API key. Binance shows it only once; "
        "create a new read-only key if it is lost.",
        "-1021": "Synchronise this machine's clock (e.g. `timedatectl set-ntp true`): Binance "
        "refuses a request more than 1 s ahead of its clock or older than its recvWindow.",
        "-1003": "keyfolio waits as long as Binance's Retry-After asks before sending again, so "
        "the IP address is never banned. Sync again in a minute.",
    },
    streams=True,
    exports="keyfolio.exchanges.binance_exports",
)

_PAGE = 100  # Simple Earn pages: at most 100 rows


def _rows(data: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
        raise ExchangeResponseError(f"Binance {what}: expected a list of objects.")
    return list(data)


class BinanceConnector(VenueConnector):
    """A Binance account (binance.com; Binance.US and Binance TR are other exchanges)."""

    venue: ClassVar[VenueInfo] = VENUE
    feeds: ClassVar[tuple[Feed, ...]] = (
        Feed(Source.TRADING, "_read_spot"),
        Feed(Source.FUNDING, "_read_funding"),
        Feed(Source.SAVINGS, "_read_flexible"),
        Feed(Source.LOCKED_EARN, "_read_locked"),
    )

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["enableRateLimit"] = False  # the limit is per IP: Retry-After is honoured instead
        config["options"] = {
            **config["options"],
            "fetchMarkets": {"types": ["spot"]},
            "fetchMargins": False,
            "fetchCurrencies": False,
        }
        return config

    @property
    def private_ws_url(self) -> str:
        """The WebSocket API, where the user data stream is subscribed with a signature."""
        if not self.spec.api_url:
            return "wss://ws-api.binance.com:443/ws-api/v3"
        scheme = "wss" if self.spec.api_url.startswith("https") else "ws"
        return f"{scheme}://{urlsplit(self.spec.api_url).netloc}/ws-api/v3"

    async def confirm_subscription(self, exchange: Any) -> bool:
        """``userDataStream.subscribe.signature`` on the WebSocket API (ccxt.pro's spot
        ``authenticate``): Binance answers with a subscription id and then pushes
        ``outboundAccountPosition`` only when the balance changes."""
        from ccxt.base.errors import BaseError

        try:
            await exchange.authenticate({"type": "spot"})
        except KeyError as exc:
            # ccxt 4.5.x forgets a refused subscription twice (handle_ws_error, then the
            # subscribe's own cleanup), so Binance's error (-1022...) is this KeyError's context.
            refused = exc.__context__
            if not isinstance(refused, BaseError):
                raise
            raise refused from None
        return True

    # ----------------------------------------------------------------- balances

    async def _account(self) -> Mapping[str, Any]:
        data = await self.call(
            "privateGetAccount", {"omitZeroBalances": "true"}, what="spot balance"
        )
        if not isinstance(data, Mapping):
            raise ExchangeResponseError("Binance spot balance: expected an object.")
        return data

    async def _read_spot(self) -> Amounts:
        """Spot ``free + locked`` (its ``LD`` mirror rows are dropped when the codes are mapped:
        the asset table sends them to Simple Earn, which its own endpoint reads)."""
        amounts: Amounts = {}
        for row in _rows((await self._account()).get("balances"), "spot balance"):
            code = row.get("asset")
            for field in ("free", "locked"):
                add_amount(amounts, code, row.get(field), venue="Binance", what="spot balance")
        return amounts

    async def _read_funding(self) -> Amounts:
        amounts: Amounts = {}
        data = await self.call("sapiPostAssetGetFundingAsset", what="funding balance")
        for row in _rows(data, "funding balance"):
            for field in ("free", "locked", "freeze", "withdrawing"):
                add_amount(
                    amounts, row.get("asset"), row.get(field, "0"), venue="Binance",
                    what="funding balance",
                )  # fmt: skip
        return amounts

    async def _earn(self, method: str, field: str, what: str) -> Amounts:
        """Every page of a Simple Earn position list, summed per asset."""
        amounts: Amounts = {}
        current = 1
        while True:
            data = await self.call(method, {"current": current, "size": _PAGE}, what=what)
            if not isinstance(data, Mapping):
                raise ExchangeResponseError(f"Binance {what}: expected an object.")
            rows = _rows(data.get("rows", []), what)
            for row in rows:
                add_amount(amounts, row.get("asset"), row.get(field), venue="Binance", what=what)
            total = data.get("total")
            if not isinstance(total, int) or current * _PAGE >= total or not rows:
                return amounts
            current += 1

    async def _read_flexible(self) -> Amounts:
        return await self._earn(
            "sapiGetSimpleEarnFlexiblePosition", "totalAmount", "Simple Earn flexible"
        )

    async def _read_locked(self) -> Amounts:
        return await self._earn("sapiGetSimpleEarnLockedPosition", "amount", "Simple Earn locked")

    # ----------------------------------------------------------------- key and clock

    async def check_key(self) -> KeyInfo:
        """The key's flags from ``/sapi/v1/account/apiRestrictions``, the uid from the account."""
        data = await self.call("sapiGetAccountApiRestrictions", what="API key restrictions")
        if not isinstance(data, Mapping):
            raise ExchangeResponseError("Binance API key restrictions: expected an object.")
        try:
            account = await self._account()
        except ExchangeError as exc:
            raise await self._explained(exc) from exc
        granted = frozenset(
            name for name, value in data.items() if value is True and name != "ipRestrict"
        )
        return KeyInfo(
            permissions=granted,
            ip_restricted=data.get("ipRestrict") is True,
            uid=str(account.get("uid") or ""),
            verified=True,
            words=PERMISSION_WORDS,
        )

    async def history_streams(self, context: HistoryContext) -> list[HistoryStream]:
        """Deposits, withdrawals, and trades of the markets the account's assets make."""
        from keyfolio.exchanges.binance_history import binance_streams

        return await binance_streams(self, context)

    async def server_time_ms(self) -> int:
        data = await self.call("publicGetTime", what="server time")
        try:
            return int(data["serverTime"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ExchangeResponseError("Binance sent an unreadable server time.") from exc

    async def _spot_tickers(self) -> list[Ticker]:
        """``/api/v3/ticker/24hr`` for every market (weight 80), symbols split by the markets."""
        await self.load_markets()
        by_id = self._client().markets_by_id or {}
        rows = await self.call("publicGetTicker24hr", what="spot tickers")
        found: list[Ticker] = []
        for row in rows if isinstance(rows, list) else []:
            markets = by_id.get(row.get("symbol")) if isinstance(row, Mapping) else None
            if not markets:
                continue  # a market the spot list does not name (delisted, or another type)
            market = markets[0]
            ticker = ticker_of(
                "binance", f"{market['baseId']}-{market['quoteId']}", row.get("lastPrice"),
                row.get("openPrice"), row.get("closeTime"),
            )  # fmt: skip
            if ticker is not None:
                found.append(ticker)
        return found
