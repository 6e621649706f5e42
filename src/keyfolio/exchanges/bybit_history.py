"""Bybit history: spot executions, deposits, withdrawals and the Unified transaction log, read
from the raw strings, each walked in the time windows Bybit serves.

=====================  =====================================  ==========  ====================
Stream                 Endpoint                               Window      How far back
=====================  =====================================  ==========  ====================
``trades:spot``        ``GET /v5/execution/list?category=     7 days      2 years (Bybit's
                       spot`` (100 a page, newest first)                  limit)
``deposits``           ``GET /v5/asset/deposit/query-record``  < 30 days   2018-03-01 (launch;
                       (50 a page)                                        no limit documented)
``withdrawals``        ``GET /v5/asset/withdraw/query-record   < 30 days   2018-03-01
                       ?withdrawType=2`` (on-chain and
                       internal)
``ledger:unified``     ``GET /v5/account/transaction-log``     7 days      2 years
                       (50 a page)
=====================  =====================================  ==========  ====================

The first import walks back from now window by window; later ones walk forward from the last
import (:class:`~keyfolio.exchanges.history.WindowWalk`), and a deposit or withdrawal still
pending holds the mark so it is read again. Pages inside a window follow ``nextPageCursor``.
Empty windows are read several to a page (one stored cursor for half a year of empty weeks).
Deposit records allow 100 requests a minute (withdrawal records 300): each of those walks reads
at most 50 windows a run, a run a minute, so a sync stays short while the first import walks
back to 2018.
Symbols are split by the spot instruments' ``baseCoin``/``quoteCoin``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.history import (
    HistoryKind,
    LedgerEntry,
    Trade,
    TradeSide,
    Transfer,
    TransferKind,
)
from keyfolio.errors import ExchangeResponseError
from keyfolio.exchanges.history import HistoryRecord, HistoryStream, WindowFetch, WindowWalk, at_ms
from keyfolio.exchanges.raw_fields import RawFields

if TYPE_CHECKING:
    from keyfolio.exchanges.bybit import BybitConnector

__all__ = [
    "LAUNCH_MS",
    "bybit_streams",
    "deposit_from_bybit",
    "entry_from_bybit",
    "trade_from_bybit",
    "withdrawal_from_bybit",
]

logger = logging.getLogger(__name__)

LAUNCH_MS = 1_519_862_400_000  # 2018-03-01T00:00:00Z, Bybit's first month
_DAY_MS = 86_400_000
_RECENT_MS = 729 * _DAY_MS  # "two years" with a day to spare: an older window is refused
_SEVEN_DAYS = 7 * _DAY_MS
_UNDER_30_DAYS = 30 * _DAY_MS - 1000  # "less than 30 days", at second precision
_QUOTES = ("USDT", "USDC", "USDE", "BTC", "ETH", "EUR", "BRL", "PLN", "TRY", "DAI", "MNT")
_DEPOSIT_STATUS = {0: "pending", 1: "pending", 2: "pending", 3: "ok", 4: "failed",
                   7: "pending", 10011: "pending", 10012: "ok", 70011: "failed",
                   70012: "failed", 70013: "failed"}  # fmt: skip
_WITHDRAWAL_STATUS = {"SecurityCheck": "pending", "Pending": "pending", "success": "ok",
                      "BlockchainConfirmed": "ok", "CancelByUser": "canceled",
                      "Reject": "failed", "Fail": "failed", "MoreInformationRequired": "pending",
                      "Unknown": "pending"}  # fmt: skip


_RAW = RawFields("Bybit", ints_as_text=True, blank_is_zero=True)
_text = _RAW.text
_decimal = _RAW.decimal


def _ms(row: Mapping[str, Any], name: str, what: str) -> int:
    text = _text(row, name, what)
    if not text.isdigit():
        raise ExchangeResponseError(f"Bybit {what}: {name} is not a time in ms: {text!r}.")
    return int(text)


def trade_from_bybit(
    account: str, row: Mapping[str, Any], base: str, quote: str, assets: AssetMap
) -> Trade:
    """One spot execution. The fee coin is ``feeCurrency``; without it, Bybit's rule: a buy pays
    in the base, a sell in the quote, the other way round for a rebate (a negative fee)."""
    what = "spot executions"
    side = TradeSide.BUY if _text(row, "side", what) == "Buy" else TradeSide.SELL
    fee = _decimal(row, "execFee", what)
    fee_coin = row.get("feeCurrency")
    if isinstance(fee_coin, str) and fee_coin:
        fee_asset = assets.asset(fee_coin)
    else:
        pays_base = (side is TradeSide.BUY) == (fee >= 0)
        fee_asset = base if pays_base else quote
    return Trade(
        account=account,
        trade_id=_text(row, "execId", what),
        at=at_ms(_ms(row, "execTime", what)),
        base=base,
        quote=quote,
        side=side,
        amount=_decimal(row, "execQty", what),
        price=_decimal(row, "execPrice", what),
        fee=fee,
        fee_asset=fee_asset,
        inst_type="SPOT",
        order_id=str(row.get("orderId") or "") or None,
    )


def deposit_from_bybit(account: str, row: Mapping[str, Any], assets: AssetMap) -> Transfer:
    """One on-chain deposit record; its time is ``successAt``."""
    what = "deposits"
    status = row.get("status")
    return Transfer(
        account=account,
        transfer_id=_text(row, "id", what),
        at=at_ms(_ms(row, "successAt", what)),
        kind=TransferKind.DEPOSIT,
        asset=assets.asset(_text(row, "coin", what)),
        amount=_decimal(row, "amount", what),
        txid=str(row.get("txID") or "") or None,
        status=_DEPOSIT_STATUS.get(status if isinstance(status, int) else -1, "pending"),
    )


def withdrawal_from_bybit(account: str, row: Mapping[str, Any], assets: AssetMap) -> Transfer:
    """One withdrawal (on-chain or internal); ``withdrawFee`` is paid on top of ``amount``."""
    what = "withdrawals"
    status = row.get("status")
    return Transfer(
        account=account,
        transfer_id=_text(row, "withdrawId", what),
        at=at_ms(_ms(row, "createTime", what)),
        kind=TransferKind.WITHDRAWAL,
        asset=assets.asset(_text(row, "coin", what)),
        amount=_decimal(row, "amount", what),
        fee=_decimal(row, "withdrawFee", what),
        txid=str(row.get("txID") or "") or None,
        status=_WITHDRAWAL_STATUS.get(status if isinstance(status, str) else "", "pending"),
    )


def entry_from_bybit(account: str, row: Mapping[str, Any], assets: AssetMap) -> LedgerEntry:
    """One Unified transaction-log row: ``change`` (= cash flow + funding - fee) and
    ``cashBalance`` after it, of one coin."""
    what = "transaction log"
    balance = row.get("cashBalance")
    moment = _ms(row, "transactionTime", what)
    reference = str(row.get("tradeId") or row.get("orderId") or "") or None
    entry_id = str(row.get("id") or "") or (
        f"{moment}:{row.get('currency')}:{reference}:{row.get('type')}:{row.get('change')}"
    )
    return LedgerEntry(
        account=account,
        entry_id=entry_id,
        at=at_ms(moment),
        asset=assets.asset(_text(row, "currency", what)),
        change=_decimal(row, "change", what),
        balance_after=_decimal(row, "cashBalance", what) if balance else None,
        kind=_text(row, "type", what).lower(),
        source="trading",
        reference=reference,
    )


def _rows(data: Any, what: str, name: str) -> tuple[list[Mapping[str, Any]], str | None]:
    """The rows (``list``/``rows``) of a result and its next cursor (None on the last page)."""
    result = data.get("result") if isinstance(data, Mapping) else None
    rows = result.get(name) if isinstance(result, Mapping) else None
    if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
        raise ExchangeResponseError(f"Bybit {what}: expected a list of objects.")
    cursor = result.get("nextPageCursor") if isinstance(result, Mapping) else None
    return list(rows), cursor if isinstance(cursor, str) and cursor else None


def _split(connector: BybitConnector, symbol: str) -> tuple[str, str]:
    """Base and quote of a spot symbol: the instruments' own, else a known quote (a delisted
    market is not in the list)."""
    markets = (connector._client().markets_by_id or {}).get(symbol)
    if markets:
        return str(markets[0]["baseId"]), str(markets[0]["quoteId"])
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            logger.info("Bybit market %s is not listed: split as %s/%s", symbol,
                        symbol[: -len(quote)], quote)  # fmt: skip
            return symbol[: -len(quote)], quote
    raise ExchangeResponseError(f"Bybit spot executions: unknown market {symbol!r}.")


RowParser = Callable[[Mapping[str, Any], AssetMap], HistoryRecord]
"""One raw row (and the account's asset map) as a record."""


def _window_fetch(
    connector: BybitConnector, method: str, what: str, fixed: dict[str, Any], *, limit: int,
    rows: str, parse: RowParser,
) -> WindowFetch:  # fmt: skip
    """The fetch of one page of a window: ``fixed`` params, the window, ``limit``, the cursor."""

    async def fetch(start: int, end: int, page: Any) -> tuple[list[HistoryRecord], Any]:
        params = {**fixed, "startTime": start, "endTime": end, "limit": limit}
        if page:
            params["cursor"] = page
        found, cursor = _rows(await connector.call(method, params, what=what), what, rows)
        assets = connector.assets
        records = [parse(row, assets) for row in found]
        return records, cursor if len(found) >= limit else None

    return fetch


def bybit_streams(connector: BybitConnector) -> list[HistoryStream]:
    """Deposits, withdrawals, spot executions and the Unified transaction log."""
    name = connector.spec.name
    recent = int(time.time() * 1000) - _RECENT_MS

    def trade(row: Mapping[str, Any], assets: AssetMap) -> Trade:
        base, quote = _split(connector, _text(row, "symbol", "spot executions"))
        return trade_from_bybit(name, row, assets.asset(base), assets.asset(quote), assets)

    executions = _window_fetch(
        connector, "privateGetV5ExecutionList", "spot executions", {"category": "spot"},
        limit=100, rows="list", parse=trade,
    )  # fmt: skip

    async def trades(start: int, end: int, page: Any) -> tuple[list[HistoryRecord], Any]:
        await connector.load_markets()  # symbols are split by the instruments
        return await executions(start, end, page)

    deposits = _window_fetch(
        connector, "privateGetV5AssetDepositQueryRecord", "deposits", {}, limit=50, rows="rows",
        parse=lambda row, assets: deposit_from_bybit(name, row, assets),
    )  # fmt: skip
    withdrawals = _window_fetch(
        connector, "privateGetV5AssetWithdrawQueryRecord", "withdrawals", {"withdrawType": 2},
        limit=50, rows="rows", parse=lambda row, assets: withdrawal_from_bybit(name, row, assets),
    )  # fmt: skip
    ledger = _window_fetch(
        connector, "privateGetV5AccountTransactionLog", "transaction log",
        {"accountType": "UNIFIED"}, limit=50, rows="list",
        parse=lambda row, assets: entry_from_bybit(name, row, assets),
    )  # fmt: skip
    return [
        # 100 deposit-record requests a minute: at most 50 windows a run, a run a minute
        WindowWalk("deposits", HistoryKind.DEPOSITS, deposits, width_ms=_UNDER_30_DAYS,
                   floor_ms=LAUNCH_MS, pages_per_run=5, windows_per_page=10, pause_s=60.0),
        WindowWalk("withdrawals", HistoryKind.WITHDRAWALS, withdrawals, width_ms=_UNDER_30_DAYS,
                   floor_ms=LAUNCH_MS, pages_per_run=5, windows_per_page=10, pause_s=60.0),
        WindowWalk("trades:spot", HistoryKind.TRADES, trades, width_ms=_SEVEN_DAYS,
                   floor_ms=recent, windows_per_page=26),
        WindowWalk("ledger:unified", HistoryKind.LEDGER, ledger, width_ms=_SEVEN_DAYS,
                   floor_ms=recent, windows_per_page=26),
    ]  # fmt: skip
