"""OKX's raw history rows as domain records: fills, deposits, withdrawals, bills.

Amounts are read from OKX's own strings (``fillSz``, ``fillPx``, ``fee``, ``balChg``...) into
``Decimal``; ccxt's float fields are never used. Each parser returns the record with its paging
key: OKX's ``billId`` for fills and trading bills, the ``ts`` in ms for the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from keyfolio.domain.history import LedgerEntry, Trade, TradeSide, Transfer, TransferKind
from keyfolio.errors import ExchangeResponseError
from keyfolio.exchanges.history import at_ms
from keyfolio.exchanges.raw_fields import RawFields

__all__ = [
    "bill_from_okx",
    "deposit_from_okx",
    "funding_bill_from_okx",
    "trade_from_okx",
    "withdrawal_from_okx",
]

logger = logging.getLogger(__name__)

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
#: Bill subtypes, for rows without a ``type`` (the bills archive's CSV has only ``subType``).
_BILL_SUBTYPES = {
    "1": "trade",
    "2": "trade",
    "3": "trade",
    "4": "trade",
    "5": "trade",
    "6": "trade",
    "9": "interest",
    "11": "transfer",
    "12": "transfer",
    "14": "interest",
    "173": "funding_fee",
    "174": "funding_fee",
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


_RAW = RawFields("OKX")
_text = _RAW.text
_decimal = _RAW.decimal


def _ms(row: Mapping[str, Any], name: str, what: str) -> int:
    value = _text(row, name, what)
    if not value.isdigit():
        raise ExchangeResponseError(f"OKX {what}: {name} {value!r} is not a time in ms.")
    return int(value)


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
        at=at_ms(ts),
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
        at=at_ms(ts),
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
        at=at_ms(ts),
        kind=TransferKind.WITHDRAWAL,
        asset=asset,
        amount=_decimal(row, "amt", what),
        fee=fee if fee_ccy == asset else Decimal(0),
        txid=str(row.get("txId") or "") or None,
        status=_WITHDRAWAL_STATES.get(state, "pending"),
    )


def _bill_kind(row: Mapping[str, Any]) -> str:
    bill_type = str(row.get("type") or "")
    if bill_type:
        return _BILL_TYPES.get(bill_type, f"type {bill_type}")
    sub_type = str(row.get("subType") or "")
    return _BILL_SUBTYPES.get(sub_type, f"subType {sub_type}")


def bill_from_okx(account: str, row: Mapping[str, Any]) -> tuple[int, LedgerEntry]:
    """A trading-account bill (``/account/bills-archive``, or a row of the bills archive's CSV,
    which has ``subType`` but no ``type``) as (billId, LedgerEntry)."""
    what = "trading bills"
    bill_id = _text(row, "billId", what)
    bal = row.get("bal")
    return int(bill_id), LedgerEntry(
        account=account,
        entry_id=bill_id,
        at=at_ms(_ms(row, "ts", what)),
        asset=_text(row, "ccy", what),
        change=_decimal(row, "balChg", what),
        balance_after=_decimal(row, "bal", what) if isinstance(bal, str) and bal else None,
        kind=_bill_kind(row),
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
        at=at_ms(ts),
        asset=_text(row, "ccy", what),
        change=_decimal(row, "balChg", what),
        balance_after=_decimal(row, "bal", what) if isinstance(bal, str) and bal else None,
        kind=_FUNDING_BILL_TYPES.get(bill_type, f"type {bill_type}"),
        source="funding",
        reference=str(row.get("clientId") or "") or None,
    )
