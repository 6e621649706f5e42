"""Bybit V5 history: spot executions, deposits, withdrawals and the Unified transaction log.

========================================  ==============================================  =====
endpoint                                  time window (``startTime``/``endTime``, ms)      page
========================================  ==============================================  =====
``/v5/execution/list?category=spot``      none: last 7 days; one: 7 days from it; both:   100
                                          at most 7 days apart
``/v5/asset/deposit/query-record``        none: last 30 days; both: less than 30 days     50
``/v5/asset/withdraw/query-record``       as deposits; ``withdrawType`` 0 on-chain        50
                                          (default), 1 internal, 2 all
``/v5/account/transaction-log``           none: last 24 h; one: 24 h from it; both: at    50
                                          most 7 days apart
========================================  ==============================================  =====

Lists are newest first and paged with an opaque ``cursor`` (``nextPageCursor``; ``""`` on the
last page): URL-encoded offsets for executions and the log (``2%3A0%2C2%3A0``), base64 for
deposits and withdrawals. A withdrawal whose state ``network`` is ``internal`` is an internal
(off-chain) transfer. The transaction log is derived from the fills: one ``TRADE`` row per coin
per fill, ``cashBalance`` the Unified balance after it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar
from urllib.parse import quote, unquote

from keyfolio.sandbox.core.book import Account, Book, Fill, Key, Transfer, digest, now_ms
from keyfolio.sandbox.venues.bybit.auth import failure
from keyfolio.sandbox.venues.bybit.views import Params, Row, account_of, plain

__all__ = ["deposit_records", "execution_list", "execution_row", "transaction_log",
           "withdraw_records"]  # fmt: skip

T = TypeVar("T")
_DAY_MS = 86_400_000
_DEPOSIT_STATUS = {"ok": 3, "pending": 2, "failed": 4}
_WITHDRAWAL_STATUS = {"ok": "success", "pending": "Pending", "failed": "Fail"}


def _int(params: Params, name: str) -> int | None:
    raw = params.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit():
        raise failure(10001, detail=f"params error: {name} invalid")
    return int(raw)


def _limit(params: Params, default: int, maximum: int) -> int:
    limit = _int(params, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise failure(10001, detail=f"params error: limit must be in [1, {maximum}]")
    return limit


def _window(params: Params, *, alone: int, most: int, strict: bool = False) -> tuple[int, int]:
    """The ``[start, end]`` of a query: ``alone`` ms from one given bound (or back from now),
    both at most ``most`` ms apart (less than, when ``strict``)."""
    start, end = _int(params, "startTime"), _int(params, "endTime")
    if start is not None and end is not None:
        span = end - start
        if span < 0 or span > most or (strict and span >= most):
            days = most // _DAY_MS
            raise failure(
                10001, detail=f"The time range between startTime and endTime cannot exceed "
                f"{days} days"
            )  # fmt: skip
        return start, end
    if start is not None:
        return start, start + alone
    if end is not None:
        return end - alone, end
    now = now_ms()
    return now - alone, now


@dataclass(frozen=True)
class _Cursor:
    encode: Callable[[int], str]
    decode: Callable[[str], int]


def _offset_cursor(offset: int) -> str:
    return quote(f"{offset}:0,{offset}:0", safe="")


def _read_offset_cursor(text: str) -> int:
    head = unquote(unquote(text)).split(":", 1)[0]
    if not head.isdigit():
        raise failure(10001, detail="params error: cursor invalid")
    return int(head)


def _b64_cursor(offset: int) -> str:
    raw = json.dumps({"minID": offset, "maxID": offset}, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode().rstrip("=")


def _read_b64_cursor(text: str) -> int:
    try:
        data = json.loads(base64.b64decode(text + "=" * (-len(text) % 4)))
        return int(data["minID"])
    except (ValueError, KeyError, TypeError):
        raise failure(10001, detail="params error: cursor invalid") from None


_OFFSETS = _Cursor(_offset_cursor, _read_offset_cursor)
_BASE64 = _Cursor(_b64_cursor, _read_b64_cursor)


def _page(rows: Sequence[T], params: Params, limit: int, cursor: _Cursor) -> tuple[list[T], str]:
    offset = cursor.decode(params["cursor"]) if params.get("cursor") else 0
    page = list(rows[offset : offset + limit])
    more = offset + limit < len(rows)
    return page, cursor.encode(offset + limit) if more else ""


def _uuid(*parts: str) -> str:
    d = digest(*parts)
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


def execution_row(fill: Fill) -> Row:
    """One ``/v5/execution/list`` spot row (spot has no ``createType``)."""
    return {
        "symbol": fill.base + fill.quote, "orderType": "Market", "underlyingPrice": "",
        "orderLinkId": "", "orderId": str(fill.order_id), "stopOrderType": "",
        "execTime": str(fill.ts), "feeCurrency": fill.fee_asset, "feeRate": "0.001",
        "tradeIv": "", "blockTradeId": "", "markPrice": "", "execPrice": plain(fill.price),
        "markIv": "", "orderQty": plain(fill.amount), "orderPrice": plain(fill.price),
        "execValue": plain(fill.notional), "closedSize": "", "execType": "Trade",
        "seq": fill.id, "side": "Buy" if fill.side == "buy" else "Sell", "indexPrice": "",
        "leavesQty": "0", "isMaker": fill.maker, "execFee": plain(fill.fee),
        "execId": _uuid("exec", str(fill.id), str(fill.ts)), "marketUnit": "",
        "execQty": plain(fill.amount), "extraFees": "",
    }  # fmt: skip


def execution_list(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/execution/list``: ``category`` required; spot fills newest first, 7-day windows."""
    category = params.get("category", "")
    if category not in ("spot", "linear", "inverse", "option"):
        raise failure(10001, detail="params error: Illegal category")
    acct = account_of(book, key)
    start, end = _window(params, alone=7 * _DAY_MS, most=7 * _DAY_MS)
    limit = _limit(params, 50, 100)
    symbol, order_id = params.get("symbol"), params.get("orderId")
    base, exec_type = params.get("baseCoin"), params.get("execType")
    chosen = [
        f for f in acct.fills
        if category == "spot" and start <= f.ts <= end
        and (not symbol or f.base + f.quote == symbol)
        and (not order_id or str(f.order_id) == order_id)
        and (not base or f.base == base) and exec_type in (None, "", "Trade")
    ]  # fmt: skip
    chosen.sort(key=lambda f: (f.ts, f.id), reverse=True)
    page, cursor = _page(chosen, params, limit, _OFFSETS)
    return {"category": category, "list": [execution_row(f) for f in page],
            "nextPageCursor": cursor}  # fmt: skip


def _transfers(records: list[Transfer], params: Params, wanted: Callable[[Transfer], bool]) -> \
        tuple[list[Transfer], str]:  # fmt: skip
    start, end = _window(params, alone=30 * _DAY_MS, most=30 * _DAY_MS, strict=True)
    limit = _limit(params, 50, 50)
    coin = params.get("coin")
    chosen = [
        t for t in records
        if start // 1000 <= t.ts // 1000 <= end // 1000 and (not coin or t.asset == coin)
        and wanted(t)
    ]  # fmt: skip
    chosen.sort(key=lambda t: (t.ts, t.id), reverse=True)
    return _page(chosen, params, limit, _BASE64)


def deposit_records(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/asset/deposit/query-record`` [``id``, ``txID``, ``coin``]: windows of under 30 days,
    filtered at second precision on ``successAt``."""
    acct = account_of(book, key)
    by_id, txid = params.get("id"), params.get("txID")
    page, cursor = _transfers(
        acct.deposits, params, lambda t: (not by_id or t.id == by_id) and (not txid or
                                                                           t.txid == txid)
    )  # fmt: skip
    rows = [
        {"id": t.id, "coin": t.asset, "chain": t.network, "amount": plain(t.amount),
         "txID": t.txid, "status": _DEPOSIT_STATUS[t.status],
         "toAddress": t.address or f"addr-{t.asset.lower()}", "tag": "", "depositFee": "",
         "successAt": str(t.ts), "confirmations": "12", "txIndex": "0",
         "blockHash": "0x" + digest("block", t.txid)[:40], "batchReleaseLimit": "-1",
         "depositType": "0", "fromAddress": ""}
        for t in page
    ]  # fmt: skip
    return {"rows": rows, "nextPageCursor": cursor}


def _is_internal(t: Transfer) -> bool:
    return t.network.lower() == "internal"


def withdraw_records(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/asset/withdraw/query-record`` [``withdrawID``, ``coin``, ``withdrawType``]: on-chain
    withdrawals only unless ``withdrawType`` is 1 (internal) or 2 (all)."""
    acct = account_of(book, key)
    kind = params.get("withdrawType", "0")
    if kind not in ("0", "1", "2"):
        raise failure(10001, detail="params error: withdrawType invalid")
    by_id = params.get("withdrawID")

    def wanted(t: Transfer) -> bool:
        typed = kind == "2" or (kind == "1") == _is_internal(t)
        return typed and (not by_id or t.id == by_id)

    page, cursor = _transfers(acct.withdrawals, params, wanted)
    rows = [
        {"coin": t.asset, "chain": "internalAddressChain" if _is_internal(t) else t.network,
         "amount": plain(t.amount), "txID": "" if t.status == "failed" else t.txid,
         "status": _WITHDRAWAL_STATUS[t.status],
         "toAddress": t.address or ("100000001" if _is_internal(t) else
                                    f"addr-{t.asset.lower()}"),
         "tag": "", "withdrawFee": plain(t.fee), "createTime": str(t.ts),
         "updateTime": str(t.ts + 60_000), "withdrawId": t.id,
         "withdrawType": 1 if _is_internal(t) else 0}
        for t in page
    ]  # fmt: skip
    return {"rows": rows, "nextPageCursor": cursor}


def _log_rows(acct: Account) -> list[tuple[str, Row]]:
    """(base coin, row) for every ``TRADE`` row of the account, oldest first, with
    ``cashBalance`` worked back from the Unified balances now."""
    rows: list[tuple[str, Row]] = []
    for fill in sorted(acct.fills, key=lambda f: (f.ts, f.id)):
        sign = 1 if fill.side == "buy" else -1
        for index, (coin, flow) in enumerate(
            ((fill.base, sign * fill.amount), (fill.quote, -sign * fill.notional))
        ):
            fee = fill.fee if fill.fee_asset == coin else Decimal(0)
            rows.append((fill.base,
                {"id": str(fill.id * 10 + index), "symbol": fill.base + fill.quote,
                 "category": "spot", "side": "Buy" if sign > 0 else "Sell",
                 "transactionTime": str(fill.ts), "type": "TRADE", "transSubType": "",
                 "qty": plain(fill.amount), "size": plain(fill.amount), "currency": coin,
                 "tradePrice": plain(fill.price), "funding": "", "fee": plain(fee),
                 "cashFlow": plain(flow), "change": plain(flow - fee), "cashBalance": "",
                 "feeRate": "0.001", "bonusChange": "", "tradeId": _uuid("exec", str(fill.id),
                                                                        str(fill.ts)),
                 "orderId": str(fill.order_id), "orderLinkId": "", "extraFees": ""}
            ))  # fmt: skip
    balance = dict(acct.balances.get("unified", {}))
    for _, row in reversed(rows):
        coin = row["currency"]
        after = balance.get(coin, Decimal(0))
        row["cashBalance"] = plain(after)
        balance[coin] = after - Decimal(row["change"])
    return rows


def transaction_log(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/account/transaction-log`` [``accountType=UNIFIED``, ``category``, ``currency``,
    ``type``]: newest first; 24 h by default, at most 7 days per query."""
    if params.get("accountType", "UNIFIED") != "UNIFIED":
        raise failure(10001, detail="accountType only support UNIFIED.")
    acct = account_of(book, key)
    start, end = _window(params, alone=_DAY_MS, most=7 * _DAY_MS)
    limit = _limit(params, 20, 50)
    category, currency = params.get("category"), params.get("currency")
    kind, base = params.get("type"), params.get("baseCoin")
    chosen = [
        row for row_base, row in _log_rows(acct)
        if start <= int(row["transactionTime"]) <= end
        and (not category or row["category"] == category)
        and (not currency or row["currency"] == currency)
        and (not kind or row["type"] == kind)
        and (not base or row_base == base)
    ]  # fmt: skip
    chosen.reverse()
    page, cursor = _page(chosen, params, limit, _OFFSETS)
    return {"list": page, "nextPageCursor": cursor}
