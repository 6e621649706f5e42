"""OKX's own CSV files: fills (trade history) and trading-account bills, in OKX's field names.

These are the files OKX's archives produce (:mod:`keyfolio.exchanges.okx_archive` downloads them
itself; a file downloaded by hand is read the same way by ``keyfolio import csv``, zipped,
gzip'd or plain):

* **fills**: the fields of ``/api/v5/trade/fills-history``: ``instId``, ``tradeId``, ``side``,
  ``fillPx``, ``fillSz``, ``ts`` (or ``fillTime``), and ``fee``, ``feeCcy``, ``billId``,
  ``ordId``, ``instType``. A trade's id is ``instId:tradeId``, as the API import's.
* **bills** (the bills archive, "since 2021"): ``billId``, ``ccy``, ``balChg``, ``ts`` and the
  documented others (``bal``, ``subType``, ``instId``, ``tradeId``, ``px``, ``sz``, ``fee``...).
  Each bill is a trading-account ledger entry with its ``billId`` as id. A spot fill has two
  bills, one per currency; keyfolio also makes the trade out of the pair, but only when both
  bills agree exactly (``balChg - fee`` is ``sz`` in the base and ``px x sz`` in the quote, with
  opposite signs), so a trade older than the fills archive is not lost and never guessed.

Amounts are read from the strings into ``Decimal`` by the API parsers of
:mod:`keyfolio.exchanges.okx_records`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.history import Trade, TradeSide
from keyfolio.domain.money import multiply, parse_decimal, subtract
from keyfolio.errors import ExchangeResponseError
from keyfolio.exchanges.exports import ExportFormat, ExportRecord, Row
from keyfolio.exchanges.history import at_ms
from keyfolio.exchanges.okx_records import bill_from_okx, trade_from_okx

__all__ = [
    "BILLS",
    "FILLS",
    "FORMATS",
    "parse_bills",
    "parse_fills",
    "trades_from_bills",
]

logger = logging.getLogger(__name__)

_FILL_FIELDS = (
    "instType", "instId", "tradeId", "ordId", "billId", "side", "fillPx", "fillSz", "fee",
    "feeCcy", "ts", "fillTime",
)  # fmt: skip
_BILL_FIELDS = (
    "billId", "ccy", "balChg", "bal", "ts", "type", "subType", "instType", "instId", "tradeId",
    "ordId", "px", "sz", "fee", "fillTime", "clOrdId",
)  # fmt: skip
_SPOT_SIDES = {"1": TradeSide.BUY, "2": TradeSide.SELL}


def _fields(row: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    """The row under OKX's own (camelCase) names; a missing column is ``""``."""
    return {name: (row.get(name.lower()) or "").strip() for name in names}


def _problem(line: int, exc: ExchangeResponseError) -> str:
    message = exc.message.split(": ", 1)[-1] if exc.message.startswith("OKX ") else exc.message
    return f"line {line}: {message.rstrip('.')}"


def parse_fills(
    account: str, rows: Sequence[Row], assets: AssetMap
) -> tuple[list[ExportRecord], list[str]]:
    """Fills as trades (id ``instId:tradeId``); a row OKX would not send is a problem."""
    records: list[ExportRecord] = []
    problems: list[str] = []
    for line, row in rows:
        fields = _fields(row, _FILL_FIELDS)
        fields["billId"] = fields["billId"] or "0"  # the API's paging key: not needed here
        try:
            records.append(trade_from_okx(account, fields)[1])
        except ExchangeResponseError as exc:
            problems.append(_problem(line, exc))
    return records, problems


def _derive(account: str, legs: list[dict[str, str]]) -> Trade | None:
    """The trade of a spot fill's two bills, when both agree exactly; else None."""
    if len(legs) != 2 or any(leg["subType"] not in _SPOT_SIDES for leg in legs):
        return None
    first = legs[0]
    side = _SPOT_SIDES[first["subType"]]
    base, _, quote = first["instId"].partition("-")
    by_ccy = {leg["ccy"]: leg for leg in legs}
    if set(by_ccy) != {base, quote} or any(leg["subType"] != first["subType"] for leg in legs):
        return None
    try:
        amount = parse_decimal(by_ccy[base]["sz"], field="sz")
        price = parse_decimal(by_ccy[base]["px"], field="px")
        fees = {ccy: parse_decimal(leg["fee"] or "0", field="fee") for ccy, leg in by_ccy.items()}
        net = {
            ccy: subtract(parse_decimal(leg["balChg"], field="balChg"), fees[ccy])
            for ccy, leg in by_ccy.items()
        }
        ts = int(first["fillTime"] or first["ts"])
    except (ValueError, ArithmeticError):
        return None
    sign = 1 if side is TradeSide.BUY else -1
    notional = multiply(amount, price)
    if amount <= 0 or price <= 0 or net[base] != sign * amount or net[quote] != -sign * notional:
        return None
    paid = [(ccy, fee) for ccy, fee in fees.items() if fee]
    if len(paid) > 1:
        return None
    fee_asset, fee = paid[0] if paid else (None, Decimal(0))
    return Trade(
        account=account,
        trade_id=f"{first['instId']}:{first['tradeId']}",
        at=at_ms(ts),
        base=base,
        quote=quote,
        side=side,
        amount=amount,
        price=price,
        fee=fee.copy_negate(),
        fee_asset=fee_asset,
        inst_type=first["instType"] or "SPOT",
        order_id=first["ordId"] or None,
    )


def trades_from_bills(account: str, bills: Sequence[Mapping[str, str]]) -> list[Trade]:
    """The spot trades whose two bills (same ``instId:tradeId``; OKX's field names) agree
    exactly."""
    legs: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for bill in bills:
        fields = _fields({k.lower(): v for k, v in bill.items()}, _BILL_FIELDS)
        if fields.get("instId") and fields.get("tradeId") and fields.get("subType") in _SPOT_SIDES:
            legs[(fields["instId"], fields["tradeId"])].append(fields)
    trades = [_derive(account, pair) for pair in legs.values()]
    found = [trade for trade in trades if trade is not None]
    if len(found) != len(trades):
        logger.info("%d OKX trade bill pairs do not agree: no trade made", len(trades) - len(found))
    return found


def parse_bills(
    account: str, rows: Sequence[Row], assets: AssetMap
) -> tuple[list[ExportRecord], list[str]]:
    """Bills as trading-account ledger entries, plus the trades their pairs make."""
    records: list[ExportRecord] = []
    problems: list[str] = []
    good: list[Mapping[str, str]] = []
    for line, row in rows:
        fields = _fields(row, _BILL_FIELDS)
        try:
            records.append(bill_from_okx(account, fields)[1])
        except ExchangeResponseError as exc:
            problems.append(_problem(line, exc))
            continue
        good.append(fields)
    records.extend(trades_from_bills(account, good))
    return records, problems


FILLS = ExportFormat(
    venue="okx",
    name="OKX fills (trade history)",
    required=frozenset({"instid", "tradeid", "side", "fillpx", "fillsz", "ts"}),
    optional=frozenset(f.lower() for f in _FILL_FIELDS) - {"instid", "tradeid", "side"},
    parse=parse_fills,
)
BILLS = ExportFormat(
    venue="okx",
    name="OKX bills (trading account)",
    required=frozenset({"billid", "ccy", "balchg", "ts"}),
    optional=frozenset(f.lower() for f in _BILL_FIELDS) - {"billid", "ccy", "balchg", "ts"},
    parse=parse_bills,
)
FORMATS = (FILLS, BILLS)
"""What ``keyfolio import csv`` recognises as OKX's."""
