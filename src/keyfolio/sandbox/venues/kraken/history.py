"""Kraken trade, ledger and funding history: ``TradesHistory``, ``Ledgers``, ``DepositStatus`` and
``WithdrawStatus``.

``TradesHistory`` and ``Ledgers`` answer 50 records a page, newest first, with ``count`` (every
match); ``ofs`` skips that many; ``start`` is exclusive and ``end`` inclusive, in unix seconds or a
record id. A trade's ``fee`` is in the quote currency. ``DepositStatus`` and ``WithdrawStatus``
answer a list, or with ``cursor`` (``true``, then the ``next_cursor`` given) an object that pages.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from keyfolio.sandbox.core.book import Fill, Key, Transfer
from keyfolio.sandbox.venues.kraken.auth import KrakenFailure
from keyfolio.sandbox.venues.kraken.book import KrakenBook, LedgerRow, asset_row
from keyfolio.sandbox.venues.kraken.market import Params, Result, fixed, pair_decimals

__all__ = ["PAGE", "deposit_status", "ledgers", "trade_row", "trades_history", "withdraw_status"]

PAGE = 50
_DEPOSIT_STATUS = {"ok": "Success", "pending": "Settled", "failed": "Failure"}
_WITHDRAWAL_STATUS = {"ok": "Success", "pending": "Pending", "failed": "Failure"}


def seconds(ms: int) -> float:
    """Kraken's time: unix seconds as a number with up to 4 decimals."""
    return float(Decimal(ms) / 1000)


def trade_row(book: KrakenBook, account: str, fill: Fill) -> dict[str, Any]:
    """One ``TradesHistory`` record (its txid is the key it is listed under)."""
    pair = book.pair_of(fill.symbol)
    _, order = book.fill_ids(account, fill)
    fee = fill.fee * fill.price if fill.fee_asset == pair.ticker.base else fill.fee
    return {
        "ordertxid": order,
        "postxid": "TKH2SE-M7IF5-CFI7LT",
        "pair": pair.key,
        "time": seconds(fill.ts),
        "type": fill.side,
        "ordertype": "limit",
        "price": fixed(fill.price, pair_decimals(fill.price)),
        "cost": fixed(fill.notional, 5),
        "fee": fixed(fee, 5),
        "vol": fixed(fill.amount, 8),
        "margin": "0.00000",
        "misc": "",
        "trade_id": 40_000_000 + fill.id,
        "maker": fill.maker,
    }


def _bound(params: Params, name: str, times: dict[str, int]) -> int | None:
    """``start``/``end`` in ms: unix seconds, or the id of a record (its time)."""
    raw = params.get(name, "")
    if not raw:
        return None
    if raw in times:
        return times[raw]
    try:
        return int(Decimal(raw) * 1000)
    except ArithmeticError:
        raise KrakenFailure(f"EGeneral:Invalid arguments:{name}") from None


def _offset(params: Params) -> int:
    raw = params.get("ofs", "") or "0"
    if not raw.isdigit():
        raise KrakenFailure("EGeneral:Invalid arguments:ofs")
    return int(raw)


def _window(
    rows: list[tuple[str, int, Any]], params: Params
) -> tuple[list[tuple[str, int, Any]], int]:
    """The page of ``(id, ms, record)`` rows (newest first) the params ask for, and the count."""
    times = {ident: ms for ident, ms, _ in rows}
    start, end = _bound(params, "start", times), _bound(params, "end", times)
    chosen = [
        row for row in rows if (start is None or row[1] > start) and (end is None or row[1] <= end)
    ]
    chosen.sort(key=lambda row: (row[1], row[0]), reverse=True)
    offset = _offset(params)
    return chosen[offset : offset + PAGE], len(chosen)


def trades_history(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``TradesHistory``: ``{"trades": {txid: record}, "count": n}``."""
    assert key is not None
    account = book.account(key.account)
    rows = [(book.fill_ids(key.account, f)[0], f.ts, f) for f in account.fills]
    page, count = _window(rows, params)
    return {
        "trades": {txid: trade_row(book, key.account, fill) for txid, _, fill in page},
        "count": count,
    }


def _ledger_json(row: LedgerRow) -> dict[str, Any]:
    places = asset_row(row.asset).decimals
    return {
        "refid": row.refid,
        "time": seconds(row.time_ms),
        "type": row.type,
        "subtype": "",
        "aclass": "currency",
        "asset": row.asset,
        "amount": fixed(row.amount, places),
        "fee": fixed(row.fee, places),
        "balance": fixed(row.balance, places),
    }


def ledgers(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``Ledgers``: ``{"ledger": {id: entry}, "count": n}``; ``asset`` a list of ids or
    altnames, ``type`` one entry type (``all`` by default), ``without_count`` drops the count."""
    assert key is not None
    wanted = {name for name in params.get("asset", "").split(",") if name and name != "all"}
    kind = params.get("type", "all") or "all"
    entries = [
        row
        for row in book.ledger(key.account)
        if (kind == "all" or row.type == kind)
        and (not wanted or row.asset in wanted or asset_row(row.asset).altname in wanted)
    ]
    page, count = _window([(row.id, row.time_ms, row) for row in entries], params)
    result: dict[str, Any] = {"ledger": {ident: _ledger_json(row) for ident, _, row in page}}
    if params.get("without_count", "").lower() != "true":
        result["count"] = count
    return result


def _transfer_json(
    book: KrakenBook, account: str, transfer: Transfer, *, deposit: bool
) -> dict[str, Any]:
    row = asset_row(transfer.asset)
    places = row.decimals
    statuses = _DEPOSIT_STATUS if deposit else _WITHDRAWAL_STATUS
    found: dict[str, Any] = {
        "method": transfer.network if transfer.network != transfer.asset else row.altname,
        "aclass": "currency",
        "asset": row.id,
        "refid": book.transfer_refid(account, transfer.id),
        "txid": transfer.txid,
        "info": transfer.address or f"{row.altname.lower()}-address-1",
        "amount": fixed(transfer.amount, places),
        "fee": fixed(transfer.fee, places),
        "time": transfer.ts // 1000,
        "status": statuses[transfer.status],
    }
    if not deposit:
        found["network"] = found["method"]
        found["key"] = f"{row.altname.lower()}-wallet-1"
    return found


def _cursor_offset(raw: str) -> int | None:
    """The offset a cursor stands for: ``true`` -> 0, a cursor given earlier -> its offset."""
    if raw.lower() == "true":
        return 0
    try:
        return int(base64.urlsafe_b64decode(raw.encode()).decode())
    except ValueError:
        raise KrakenFailure("EGeneral:Invalid arguments:cursor") from None


def _funding(book: KrakenBook, key: Key | None, params: Params, *, deposit: bool) -> Result:
    assert key is not None
    account = book.account(key.account)
    records = account.deposits if deposit else account.withdrawals
    times = {t.id: t.ts for t in records}
    start, end = _bound(params, "start", times), _bound(params, "end", times)
    wanted, method = params.get("asset", ""), params.get("method", "")
    chosen = [
        _transfer_json(book, key.account, t, deposit=deposit)
        for t in sorted(records, key=lambda t: t.ts, reverse=True)
        if (start is None or t.ts > start) and (end is None or t.ts <= end)
    ]
    chosen = [
        row
        for row in chosen
        if (not wanted or wanted in (row["asset"], asset_row(row["asset"]).altname))
        and (not method or row["method"] == method)
    ]
    raw_limit = params.get("limit", "")
    limit = (
        int(raw_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else (25 if deposit else 500)
    )
    cursor = params.get("cursor", "")
    if not cursor or cursor.lower() == "false":
        return chosen[:limit]
    offset = _cursor_offset(cursor) or 0
    page = chosen[offset : offset + limit]
    result: dict[str, Any] = {"deposit" if deposit else "withdrawals": page}
    if offset + limit < len(chosen):
        result["next_cursor"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
    return result


def deposit_status(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``DepositStatus`` (Query Funds): recent deposits, newest first."""
    return _funding(book, key, params, deposit=True)


def withdraw_status(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``WithdrawStatus`` (Withdraw Funds or Query Ledger Entries): recent withdrawals."""
    return _funding(book, key, params, deposit=False)
