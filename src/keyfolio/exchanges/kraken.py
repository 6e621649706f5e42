"""The Kraken connector: one ``BalanceEx`` read into four sources, from Kraken's raw strings.

=================  ===================================  ==========================================
Source             Kraken codes                         Endpoint
=================  ===================================  ==========================================
Spot (trading)     ``XXBT``, ``ZUSD``, ``USDT``, ...    ``POST /0/private/BalanceEx`` (``balance``)
Earn (flexible)    ``USDT.F`` (Auto Earn), ``XBT.M``    the same answer, suffixed rows
Earn (bonded)      ``ETH.B``                            the same answer, suffixed rows
Staking            ``DOT.S``, ``ETH2.S``, ``ETH2``,     the same answer, suffixed rows
                   ``DOT.P``
=================  ===================================  ==========================================

**Never count one coin twice.** Each suffixed row is a sub-balance of its own, never part of its
base row (with Auto Earn the ``SOL`` row drops to zero and ``SOL.F`` holds the funds), so a
holding is the sum of its rows, each in its own source. ``Earn/Allocations`` lists the same earn
funds again and the WebSocket groups them under the base asset: neither is added to
``BalanceEx``. ``hold_trade`` is part of ``balance``; a credit line is not a holding.

Every signed call passes the key's :class:`~keyfolio.exchanges.keygate.KeyGate`: one at a time,
with a nonce that only grows (kept in the data directory across runs), paced by Kraken's call
counter. See docs/exchanges/kraken.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from keyfolio.domain.assets import AssetRule
from keyfolio.domain.balances import KeyInfo, PermissionWords, Source
from keyfolio.domain.records import Ticker
from keyfolio.errors import (
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    InvalidKeyError,
    InvalidNonceError,
    InvalidSignatureError,
    PermissionDeniedError,
    RateLimitedError,
)
from keyfolio.exchanges.connector import Amounts, Feed, VenueConnector, add_amount, ticker_of
from keyfolio.exchanges.history import HistoryContext, HistoryStream
from keyfolio.exchanges.keygate import CallCounter, KeyGate, key_gate
from keyfolio.exchanges.venue import IpLimit, SourceInfo, VenueInfo

__all__ = ["COUNTER", "PERMISSION_WORDS", "VENUE", "KrakenConnector", "result_of"]

logger = logging.getLogger(__name__)

_TRACKER = "Query Funds, Query Closed Orders & Trades and Query Ledger Entries"
_GUIDE = (
    "In Kraken open Settings > API (Connections & API) > Create API key, tick only "
    f"{_TRACKER} (and WebSocket interface for live updates), leave every Funds, Orders & "
    "Trades and Earn permission that creates, cancels, deposits, withdraws or allocates "
    "unticked, restrict the key to your IP address, and link that key."
)

#: ``GetApiKeyInfo`` permissions and their names in Kraken's key settings. Only the read words
#: may be on; unknown ``query-*`` words are taken as read-only with a warning (see check_key).
PERMISSION_WORDS = PermissionWords(
    read=frozenset(
        {"query-funds", "query-open-trades", "query-closed-trades", "query-ledger", "export-data"}
    ),
    labels={
        "query-funds": "Query Funds",
        "deposit-funds": "Deposit Funds",
        "withdraw-funds": "Withdraw Funds",
        "earn-funds": "Earn Funds",
        "query-open-trades": "Query Open Orders & Trades",
        "query-closed-trades": "Query Closed Orders & Trades",
        "modify-trades": "Create & Modify Orders",
        "cancel-trades": "Cancel & Close Orders",
        "query-ledger": "Query Ledger Entries",
        "export-data": "Export Data",
    },
)

#: Kraken's "Starter" call counter (the lowest tier: keyfolio cannot tell a key's tier).
COUNTER = CallCounter(maximum=15, decay=0.33)
_COSTS = {"TradesHistory": 2, "Ledgers": 2, "QueryTrades": 2, "QueryLedgers": 2, "AddOrder": 0}
_RATE_LIMITED = "EAPI:Rate limit exceeded"
_UNKNOWN_METHOD = "EGeneral:Unknown method"
_PERMISSION_HINT = (
    f"A tracker's key needs {_TRACKER} (Query Ledger Entries also reads withdrawals). Kraken "
    "gives this same answer when the key is bound to IP addresses that do not include this "
    "machine, and when the key has a 2FA password. Edit the key in Kraken (Settings > API), or "
    "create a new read-only one."
)


#: Kraken's legacy X/Z codes (``code=asset``); newer assets use their plain tickers.
_LEGACY = (
    "XXBT=BTC XBT=BTC XETH=ETH XXRP=XRP XLTC=LTC XXDG=DOGE XDG=DOGE XXLM=XLM XXMR=XMR "
    "XZEC=ZEC XETC=ETC XMLN=MLN XREP=REP ZUSD=USD ZEUR=EUR ZGBP=GBP ZCAD=CAD ZJPY=JPY "
    "ZAUD=AUD FEE=KFEE"
)


def _legacy(code: str, asset: str) -> AssetRule:
    return AssetRule(code=code, asset=asset, note="Kraken's legacy X/Z code")


VENUE = VenueInfo(
    id="kraken",
    name="Kraken",
    ccxt_id="kraken",
    credentials=("apiKey", "secret"),
    labels={"apiKey": "API Key", "secret": "Private Key"},
    sources=(
        SourceInfo(Source.TRADING, "Spot", "POST /0/private/BalanceEx"),
        SourceInfo(Source.SAVINGS, "Earn (flexible)", "POST /0/private/BalanceEx (.F, .M rows)"),
        SourceInfo(Source.LOCKED_EARN, "Earn (bonded)", "POST /0/private/BalanceEx (.B rows)"),
        SourceInfo(Source.STAKED, "Staking", "POST /0/private/BalanceEx (.S, .P rows, ETH2)"),
    ),
    words=PERMISSION_WORDS,
    key_guide=_GUIDE,
    connector="keyfolio.exchanges.kraken:KrakenConnector",
    concurrency=50,  # a call counter per key: accounts never compete (docs/benchmarks.md)
    hosts=("kraken.com",),
    ip_limits=(IpLimit("public", ("/0/public/",), 1, 1.0),),  # public: about 1 call / s per IP
    asset_rules=(
        *(_legacy(*pair.split("=")) for pair in _LEGACY.split()),
        AssetRule(
            code="ETH2",
            asset="ETH",
            source=Source.STAKED,
            note="legacy staked ETH, beside ETH2.S; both are ETH",
        ),
        AssetRule(suffix=".S", source=Source.STAKED, note="staked (legacy on-chain staking)"),
        AssetRule(suffix=".P", source=Source.STAKED, note="parachain bonding (legacy)"),
        AssetRule(suffix=".F", source=Source.SAVINGS, note="Auto Earn (flexible rewards)"),
        AssetRule(suffix=".M", source=Source.SAVINGS, note="opt-in rewards (legacy)"),
        AssetRule(suffix=".B", source=Source.LOCKED_EARN, note="bonded Earn allocation"),
    ),
    codes={
        "EAPI:Invalid key": (InvalidKeyError, "does not know the API key{account}"),
        "EAPI:Invalid signature": (
            InvalidSignatureError,
            "rejected the signature{account}: the Private Key does not belong to this API key",
        ),
        "EAPI:Invalid nonce": (
            InvalidNonceError,
            "refused the request's nonce{account}: the key has already seen a larger one",
        ),
        "EGeneral:Permission denied": (
            PermissionDeniedError,
            "refused the request{account}: the key lacks its permission",
        ),
        _RATE_LIMITED: (RateLimitedError, "is rate limiting this API key{account}"),
        "EGeneral:Too many requests": (RateLimitedError, "is rate limiting requests{account}"),
        "EGeneral:Temporary lockout": (
            RateLimitedError,
            "has locked this API key out for a while{account}",
        ),
        "EService:Unavailable": (ExchangeUnavailableError, "is unavailable{account}"),
        "EService:Busy": (ExchangeUnavailableError, "is busy{account}"),
        "EGeneral:Internal error": (ExchangeUnavailableError, "had an internal error{account}"),
        "EDatabase:Internal error": (ExchangeUnavailableError, "had an internal error{account}"),
        _UNKNOWN_METHOD: (ExchangeUnsupportedError, "does not know this API method{account}"),
        "EQuery:Unknown asset pair": (ExchangeError, "does not know the pair{account}"),
    },
    hints={
        "EAPI:Invalid key": "Copy the API Key again from Kraken (Settings > API), or create a "
        "new read-only key: this one was deleted, mistyped or belongs to Kraken Futures.",
        "EAPI:Invalid signature": "Paste the Private Key of this API key again, exactly (base64 "
        "text of about 88 characters). Kraken shows it only once: create a new read-only key "
        "if it is lost.",
        "EAPI:Invalid nonce": "Kraken accepts a nonce only above the last one this API key "
        "accepted. Another program (a bot, another keyfolio data directory) is using the same "
        "key, or the key was used with larger nonces (a program sending microseconds, or a "
        "nonce counter that was reset or a clock set back). Create an API key for keyfolio "
        "alone; keyfolio keeps its own nonce in its data directory.",
        "EGeneral:Permission denied": _PERMISSION_HINT,
        _RATE_LIMITED: "keyfolio paces its calls by Kraken's call counter and waits before "
        "sending more; another program using the same key spends the same counter. Sync again "
        "in a minute.",
        "EGeneral:Temporary lockout": "Too many calls failed authentication. keyfolio sends "
        "nothing more now: wait about 15 minutes, check the API Key and Private Key, then sync "
        "again.",
        _UNKNOWN_METHOD: "This Kraken API does not offer the method; keyfolio uses another "
        "way where there is one.",
        **dict.fromkeys(
            (
                "EService:Unavailable",
                "EService:Busy",
                "EGeneral:Internal error",
                "EDatabase:Internal error",
            ),
            "Kraken is busy or in maintenance (see status.kraken.com). keyfolio retried; the "
            "last good balances are kept. Sync again later.",
        ),
    },
    streams=True,
)


def result_of(data: Any, what: str) -> Any:
    """The ``result`` of Kraken's envelope (errors were raised by ccxt already)."""
    if not isinstance(data, Mapping) or "result" not in data:
        raise ExchangeResponseError(f"Kraken {what}: the answer has no result.")
    return data["result"]


def _method(path: Any) -> str:
    return str(path).rsplit("/", 1)[-1]


class KrakenConnector(VenueConnector):
    """A Kraken spot account (kraken.com; Kraken Futures is another API with other keys)."""

    venue: ClassVar[VenueInfo] = VENUE
    feeds: ClassVar[tuple[Feed, ...]] = (
        Feed(
            Source.TRADING,
            "_read_balances",
            moves_to=(Source.SAVINGS, Source.LOCKED_EARN, Source.STAKED),
        ),
    )

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["enableRateLimit"] = False  # keyfolio paces by Kraken's counter (the KeyGate)
        return config

    # ----------------------------------------------------------------- the key's gate

    @property
    def gate(self) -> KeyGate | None:
        """The API key's gate (None without credentials: public calls only)."""
        api_key = self._credentials.fields.get("apiKey")
        if not api_key:
            return None
        return key_gate(self.settings.home, self.venue.id, api_key, COUNTER)

    def _configure(self, exchange: Any) -> None:
        super()._configure(exchange)
        self._guard(exchange)

    def _guard(self, exchange: Any) -> None:
        """Route every private call of ``exchange`` (REST or ccxt.pro) through the key's gate:
        one at a time, each with the next persisted nonce, paced by the call counter."""
        gate = self.gate
        if gate is None:
            return
        original = exchange.request
        pace = self._enable_rate_limit

        async def request(
            path: Any,
            api: Any = "public",
            method: str = "GET",
            params: Any = None,
            config: Any = None,
        ) -> Any:
            name = api if isinstance(api, str) else api[0]
            if name != "private":
                return await original(path, api, method, params or {}, config or {})
            cost = _COSTS.get(_method(path), 1)
            async with gate.hold(cost, pace=pace):
                try:
                    return await original(path, api, method, params or {}, config or {})
                except Exception as exc:  # only noted for pacing; re-raised unchanged
                    if _RATE_LIMITED in str(exc):
                        gate.penalise(cost)
                    raise

        exchange.request = request
        exchange.nonce = gate.nonce

    # ----------------------------------------------------------------- balances

    async def _read_balances(self) -> Amounts:
        """Every ``BalanceEx`` row's ``balance`` (``hold_trade`` is part of it)."""
        data = await self.call("privatePostBalanceEx", what="balances")
        rows = result_of(data, "balances")
        if not isinstance(rows, Mapping):
            raise ExchangeResponseError("Kraken balances: expected an object of assets.")
        amounts: Amounts = {}
        for code, row in rows.items():
            value = row.get("balance") if isinstance(row, Mapping) else row
            add_amount(amounts, code, value, venue="Kraken", what="balances")
        return amounts

    # ----------------------------------------------------------------- key and clock

    async def check_key(self) -> KeyInfo:
        """The key's permissions from ``GetApiKeyInfo``; where Kraken does not offer it, from
        requests that change nothing (:mod:`keyfolio.exchanges.kraken_probes`)."""
        try:
            data = await self.call("privatePostGetApiKeyInfo", what="API key info")
        except ExchangeUnsupportedError as exc:
            # EGeneral:Unknown method, or a bare 404/405 (its status is unverified): probe.
            logger.info(
                "Kraken has no GetApiKeyInfo for %s (%s): probing",
                self.spec.name,
                exc.exchange_code or exc.message,
            )
            from keyfolio.exchanges.kraken_probes import probe_key

            return await probe_key(self)
        from keyfolio.exchanges.kraken_probes import key_info

        return key_info(result_of(data, "API key info"))

    async def server_time_ms(self) -> int:
        data = await self.call("publicGetTime", what="server time")
        try:
            return int(result_of(data, "server time")["unixtime"]) * 1000
        except (KeyError, TypeError, ValueError) as exc:
            raise ExchangeResponseError("Kraken sent an unreadable server time.") from exc

    # ----------------------------------------------------------------- markets and prices

    def pair_codes(self) -> dict[str, tuple[str, str]]:
        """Pair key or altname -> (base, quote) in Kraken's asset ids, from AssetPairs."""
        found: dict[str, tuple[str, str]] = {}
        for market in (self._client().markets or {}).values():
            info = market.get("info") or {}
            base, quote = info.get("base"), info.get("quote")
            if isinstance(base, str) and isinstance(quote, str):
                for name in (market.get("id"), info.get("altname")):
                    if isinstance(name, str):
                        found.setdefault(name, (base, quote))
        return found

    async def _spot_tickers(self) -> list[Ticker]:
        """``Ticker`` for every pair (one request). Kraken's ``o`` is today's open at 00:00
        UTC, not a rolling 24 h open: the tickers say so (``open_basis="utc_day"``)."""
        await self.load_markets()
        pairs = self.pair_codes()
        rows = result_of(await self.call("publicGetTicker", what="spot tickers"), "tickers")
        now = int(time.time() * 1000)
        found: list[Ticker] = []
        for key, row in rows.items() if isinstance(rows, Mapping) else ():
            codes = pairs.get(key)
            if codes is None or not isinstance(row, Mapping):
                continue  # a pair AssetPairs does not list (delisted or not spot)
            last = row.get("c")
            ticker = ticker_of(
                "kraken",
                f"{codes[0]}-{codes[1]}",
                last[0] if isinstance(last, list) else None,
                row.get("o"),
                now,
                open_basis="utc_day",
            )
            if ticker is not None:
                found.append(ticker)
        return found

    # ----------------------------------------------------------------- history and streams

    async def history_streams(self, context: HistoryContext) -> list[HistoryStream]:
        """Trades, and the ledger with its deposits and withdrawals."""
        from keyfolio.exchanges.kraken_history import kraken_streams

        return await kraken_streams(self, context)

    @property
    def private_ws_url(self) -> str:
        """WebSocket v2 on Kraken's authenticated host, where ccxt.pro reads ``balances``."""
        if not self.spec.api_url:
            return "wss://ws-auth.kraken.com/v2"
        scheme = "wss" if self.spec.api_url.startswith("https") else "ws"
        return f"{scheme}://{urlsplit(self.spec.api_url).netloc}/v2"

    def parse_push(self, balance: Any) -> tuple[str, tuple[str, ...]]:
        """(snapshot | update, assets) of a ``balances`` push, from its raw message."""
        info = balance.get("info") if isinstance(balance, Mapping) else None
        if not isinstance(info, Mapping):
            return "update", ()
        event = "snapshot" if info.get("type") == "snapshot" else "update"
        data = info.get("data")
        assets = tuple(
            str(row["asset"])
            for row in (data if isinstance(data, list) else ())
            if isinstance(row, Mapping) and isinstance(row.get("asset"), str)
        )
        return event, assets
