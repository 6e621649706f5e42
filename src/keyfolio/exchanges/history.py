"""Trade, transfer and ledger history of an OKX account, one page at a time.

Every page comes through ccxt (unified ``fetch_my_trades``, ``fetch_deposits``,
``fetch_withdrawals`` and ``fetch_ledger``), but amounts are read from the raw OKX strings
in each record's ``info`` (``fillSz``, ``fillPx``, ``fee``, ``balChg``...) into ``Decimal``;
ccxt's float fields are never used.

A *stream* is one paged list (``trades:SPOT``, ``deposits``, ``ledger:funding``...). Each record
comes with its paging key: OKX's ``billId`` for fills and trading bills, the ``ts`` in ms for
deposits, withdrawals and funding bills. :func:`fetch_page` returns the newest ``limit``
records older than ``after`` (OKX's ``after`` cursor), newest first, as OKX does.

Trading bills are read with ccxt's implicit ``privateGetAccountBillsArchive`` (3 months):
ccxt 4.5.90's ``fetch_ledger`` always adds ``instType`` (``SPOT`` by default), which would hide
transfer bills and the bills of other instrument types.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from keyfolio.domain.history import (
    HistoryKind,
    LedgerEntry,
    Trade,
    TradeSide,
    Transfer,
    TransferKind,
)
from keyfolio.domain.money import BOUNDS_HINT, parse_decimal
from keyfolio.errors import ExchangeResponseError, ExchangeUnsupportedError
from keyfolio.exchanges.base import ExchangeConnector
from keyfolio.exchanges.okx import OkxConnector

__all__ = [
    "OKX_STREAMS",
    "PAGE_LIMIT",
    "HistoryPage",
    "HistoryRecord",
    "HistoryStream",
    "bill_from_okx",
    "deposit_from_okx",
    "fetch_page",
    "funding_bill_from_okx",
    "history_streams",
    "trade_from_okx",
    "withdrawal_from_okx",
]

logger = logging.getLogger(__name__)

PAGE_LIMIT = 100
"""OKX's largest page on every history endpoint."""

HistoryRecord = Trade | Transfer | LedgerEntry


@dataclass(frozen=True)
class HistoryStream:
    """One paged history list of an exchange account.

    ``key`` names its import cursor; ``paged_by`` is ``"id"`` (unique, increasing ids) or
    ``"ts"`` (milliseconds; several records may share one).
    """

    key: str
    kind: HistoryKind
    paged_by: str


@dataclass(frozen=True)
class HistoryPage:
    """One page: (paging key, record) pairs, newest first; ``full`` if it held ``limit`` rows."""

    records: list[tuple[int, HistoryRecord]]
    full: bool


INST_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")

OKX_STREAMS: tuple[HistoryStream, ...] = (
    *(HistoryStream(f"trades:{t}", HistoryKind.TRADES, "id") for t in INST_TYPES),
    HistoryStream("deposits", HistoryKind.DEPOSITS, "ts"),
    HistoryStream("withdrawals", HistoryKind.WITHDRAWALS, "ts"),
    HistoryStream("ledger:trading", HistoryKind.LEDGER, "id"),
    HistoryStream("ledger:funding", HistoryKind.LEDGER, "ts"),
)

_DEPOSIT_STATES = {"0": "pending", "1": "ok", "2": "ok"}
_WITHDRAWAL_STATES = {"2": "ok", "-1": "failed", "-2": "canceled"}
_BILL_TYPES = {
    "1": "transfer",
    "2": "trade",
    "3": "delivery",
    "4": "auto_conversion",
    "5": "liquidation",
    "6": "margin_transfer",
    "7": "interest",
    "8": "funding_fee",
    "9": "adl",
    "10": "clawback",
    "11": "system_conversion",
    "12": "strategy_transfer",
    "13": "ddh",
    "14": "block_trade",
    "15": "quick_margin",
    "22": "repay",
}
_FUNDING_BILL_TYPES = {
    "1": "deposit",
    "2": "withdrawal",
    "13": "withdrawal_canceled",
    "20": "transfer_to_sub",
    "21": "transfer_from_sub",
    "130": "transfer_from_trading",
    "131": "transfer_to_trading",
    "75": "savings_subscribe",
    "76": "savings_redeem",
}


# ----------------------------------------------------------------- parsing raw OKX rows


def _text(row: Mapping[str, Any], name: str, what: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise ExchangeResponseError(f"OKX {what}: a record has no {name!r} ({value!r}).")
    return value


def _decimal(row: Mapping[str, Any], name: str, what: str) -> Decimal:
    value = row.get(name, "")
    if not isinstance(value, str):
        raise ExchangeResponseError(f"OKX {what}: {name} is not a string: {value!r}.")
    try:
        return parse_decimal(value, field=f"{what} {name}")
    except ValueError as exc:
        raise ExchangeResponseError(
            f"OKX {what}: {exc}.",
            hint=f"Nothing of this page was imported. {BOUNDS_HINT} If OKX's own site shows "
            "this record, report it with the --debug output.",
        ) from exc


def _ms(row: Mapping[str, Any], name: str, what: str) -> int:
    value = _text(row, name, what)
    if not value.isdigit():
        raise ExchangeResponseError(f"OKX {what}: {name} {value!r} is not a time in ms.")
    return int(value)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


def trade_from_okx(account: str, row: Mapping[str, Any]) -> tuple[int, Trade]:
    """A fill of ``/trade/fills-history`` as (billId, Trade).

    OKX's fee is negative when paid and positive for a rebate; ``Trade.fee`` is the opposite.
    The id is ``instId:tradeId`` (tradeIds are unique per instrument only).
    """
    what = "fills history"
    inst_id = _text(row, "instId", what)
    parts = inst_id.split("-")
    if len(parts) < 2:
        raise ExchangeResponseError(f"OKX {what}: unreadable instId {inst_id!r}.")
    side = _text(row, "side", what)
    if side not in ("buy", "sell"):
        raise ExchangeResponseError(f"OKX {what}: unknown side {side!r}.")
    ts = _ms(row, "fillTime" if row.get("fillTime") else "ts", what)
    fee_asset = row.get("feeCcy") or None
    trade = Trade(
        account=account,
        trade_id=f"{inst_id}:{_text(row, 'tradeId', what)}",
        at=_at(ts),
        base=parts[0],
        quote=parts[1],
        side=TradeSide(side),
        amount=_decimal(row, "fillSz", what),
        price=_decimal(row, "fillPx", what),
        fee=_decimal(row, "fee", what).copy_negate(),  # exact: no context involved
        fee_asset=str(fee_asset) if fee_asset else None,
        inst_type=str(row.get("instType") or "SPOT"),
        order_id=str(row.get("ordId") or "") or None,
    )
    return int(_text(row, "billId", what)), trade


def deposit_from_okx(account: str, row: Mapping[str, Any]) -> tuple[int, Transfer]:
    """A row of ``/asset/deposit-history`` as (ts, Transfer)."""
    what = "deposit history"
    ts = _ms(row, "ts", what)
    state = str(row.get("state", ""))
    return ts, Transfer(
        account=account,
        transfer_id=_text(row, "depId", what),
        at=_at(ts),
        kind=TransferKind.DEPOSIT,
        asset=_text(row, "ccy", what),
        amount=_decimal(row, "amt", what),
        txid=str(row.get("txId") or "") or None,
        status=_DEPOSIT_STATES.get(state, "pending"),
    )


def withdrawal_from_okx(account: str, row: Mapping[str, Any]) -> tuple[int, Transfer]:
    """A row of ``/asset/withdrawal-history`` as (ts, Transfer); the fee is paid on top."""
    what = "withdrawal history"
    ts = _ms(row, "ts", what)
    state = str(row.get("state", ""))
    asset = _text(row, "ccy", what)
    fee_ccy = row.get("feeCcy") or asset
    fee = _decimal(row, "fee", what)
    if fee_ccy != asset and fee:
        logger.warning("withdrawal %s: fee paid in %s, not %s", row.get("wdId"), fee_ccy, asset)
    return ts, Transfer(
        account=account,
        transfer_id=_text(row, "wdId", what),
        at=_at(ts),
        kind=TransferKind.WITHDRAWAL,
        asset=asset,
        amount=_decimal(row, "amt", what),
        fee=fee if fee_ccy == asset else Decimal(0),
        txid=str(row.get("txId") or "") or None,
        status=_WITHDRAWAL_STATES.get(state, "pending"),
    )


def bill_from_okx(account: str, row: Mapping[str, Any]) -> tuple[int, LedgerEntry]:
    """A trading-account bill (``/account/bills-archive``) as (billId, LedgerEntry)."""
    what = "trading bills"
    bill_id = _text(row, "billId", what)
    bal = row.get("bal")
    bill_type = str(row.get("type", ""))
    return int(bill_id), LedgerEntry(
        account=account,
        entry_id=bill_id,
        at=_at(_ms(row, "ts", what)),
        asset=_text(row, "ccy", what),
        change=_decimal(row, "balChg", what),
        balance_after=_decimal(row, "bal", what) if isinstance(bal, str) and bal else None,
        kind=_BILL_TYPES.get(bill_type, f"type {bill_type}"),
        source="trading",
        reference=str(row.get("tradeId") or row.get("ordId") or "") or None,
    )


def funding_bill_from_okx(account: str, row: Mapping[str, Any]) -> tuple[int, LedgerEntry]:
    """A funding-account bill (``/asset/bills``) as (ts, LedgerEntry)."""
    what = "funding bills"
    ts = _ms(row, "ts", what)
    bal = row.get("bal")
    bill_type = str(row.get("type", ""))
    return ts, LedgerEntry(
        account=account,
        entry_id=_text(row, "billId", what),
        at=_at(ts),
        asset=_text(row, "ccy", what),
        change=_decimal(row, "balChg", what),
        balance_after=_decimal(row, "bal", what) if isinstance(bal, str) and bal else None,
        kind=_FUNDING_BILL_TYPES.get(bill_type, f"type {bill_type}"),
        source="funding",
        reference=str(row.get("clientId") or "") or None,
    )


# ----------------------------------------------------------------- fetching


def history_streams(connector: ExchangeConnector) -> tuple[HistoryStream, ...]:
    """The history streams of a connector's exchange (OKX only, for now)."""
    if isinstance(connector, OkxConnector):
        return OKX_STREAMS
    raise ExchangeUnsupportedError(
        f"keyfolio imports trade history from OKX accounts only, not {connector.exchange_id}.",
        hint="Import older or other trades from a CSV file: `keyfolio import csv FILE "
        "--account NAME` (see docs/import.md).",
    )


def _infos(entries: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(entries, list):
        raise ExchangeResponseError(f"OKX {what}: expected a list.")
    rows = [entry.get("info") if isinstance(entry, Mapping) else None for entry in entries]
    if not all(isinstance(row, Mapping) for row in rows):
        raise ExchangeResponseError(f"OKX {what}: a record has no raw 'info'.")
    return [row for row in rows if isinstance(row, Mapping)]


def _data(response: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(response, Mapping) or not isinstance(response.get("data"), list):
        raise ExchangeResponseError(f"OKX {what}: not the JSON envelope.")
    rows = response["data"]
    if not all(isinstance(row, Mapping) for row in rows):
        raise ExchangeResponseError(f"OKX {what}: expected a list of objects.")
    return list(rows)


Parser = (
    Callable[[str, Mapping[str, Any]], tuple[int, Trade]]
    | Callable[[str, Mapping[str, Any]], tuple[int, Transfer]]
    | Callable[[str, Mapping[str, Any]], tuple[int, LedgerEntry]]
)


async def fetch_page(
    connector: ExchangeConnector,
    stream: HistoryStream,
    *,
    after: int | None,
    limit: int = PAGE_LIMIT,
) -> HistoryPage:
    """The newest ``limit`` records of ``stream`` older than ``after`` (all if None).

    Retried on temporary failures; raises keyfolio ``ExchangeError`` subclasses.
    """
    if not isinstance(connector, OkxConnector):
        history_streams(connector)  # raises ExchangeUnsupportedError
        raise AssertionError("unreachable")
    await connector.load_markets()
    client = connector._client()
    params: dict[str, Any] = {} if after is None else {"after": str(after)}
    name = connector.spec.name
    call: Callable[[], Awaitable[list[Mapping[str, Any]]]]
    parse: Parser
    if stream.key.startswith("trades:"):
        params["instType"] = stream.key.split(":", 1)[1]

        async def call() -> list[Mapping[str, Any]]:
            return _infos(await client.fetch_my_trades(None, None, limit, params), stream.key)

        parse = trade_from_okx
    elif stream.key in ("deposits", "withdrawals"):
        method = client.fetch_deposits if stream.key == "deposits" else client.fetch_withdrawals

        async def call() -> list[Mapping[str, Any]]:
            return _infos(await method(None, None, limit, params), stream.key)

        parse = deposit_from_okx if stream.key == "deposits" else withdrawal_from_okx
    elif stream.key == "ledger:funding":
        params["method"] = "privateGetAssetBills"

        async def call() -> list[Mapping[str, Any]]:
            return _infos(await client.fetch_ledger(None, None, limit, params), stream.key)

        parse = funding_bill_from_okx
    elif stream.key == "ledger:trading":

        async def call() -> list[Mapping[str, Any]]:
            request = {**params, "limit": str(limit)}
            return _data(await client.privateGetAccountBillsArchive(request), stream.key)

        parse = bill_from_okx
    else:
        raise ValueError(f"unknown history stream {stream.key!r}")
    rows = await connector._retrying(call, stream.key)
    records: list[tuple[int, HistoryRecord]] = [parse(name, row) for row in rows]
    records.sort(key=lambda pair: pair[0], reverse=True)
    return HistoryPage(records=records, full=len(rows) >= limit)
