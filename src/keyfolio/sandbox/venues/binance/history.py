"""Binance trade and transfer history: ``myTrades`` (one symbol, ``fromId`` or 24 h windows),
deposits and withdrawals (90-day windows, newest first, ``offset`` paging).
"""

from __future__ import annotations

from datetime import UTC, datetime

from keyfolio.sandbox.core.book import Book, Fill, Key, Transfer, now_ms
from keyfolio.sandbox.venues.binance.auth import failure
from keyfolio.sandbox.venues.binance.views import Params, Row, account_of, f8, markets, plain

__all__ = ["deposits", "my_trades", "trade_row", "withdrawals"]

_DAY_MS = 86_400_000
_DEPOSIT_STATUS = {"ok": 1, "pending": 0, "failed": 2}
_WITHDRAWAL_STATUS = {"ok": 6, "pending": 4, "failed": 5}

# -- history --------------------------------------------------------------------------------


def _int(params: Params, name: str) -> int | None:
    raw = params.get(name, "")
    if raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise failure(-1102, param=name)
    return int(raw)


def _limit(params: Params, default: int, maximum: int) -> int:
    limit = _int(params, "limit")
    if limit is None:
        return default
    if limit < 1:
        raise failure(-1102, param="limit")
    return min(limit, maximum)


def trade_row(fill: Fill) -> Row:
    """One ``/api/v3/myTrades`` row."""
    return {
        "symbol": fill.base + fill.quote,
        "id": fill.id,
        "orderId": fill.order_id,
        "orderListId": -1,
        "price": f8(fill.price),
        "qty": f8(fill.amount),
        "quoteQty": f8(fill.notional),
        "commission": f8(fill.fee),
        "commissionAsset": fill.fee_asset,
        "time": fill.ts,
        "isBuyer": fill.side == "buy",
        "isMaker": fill.maker,
        "isBestMatch": True,
    }


def my_trades(book: Book, key: Key | None, params: Params) -> list[Row]:
    """``/api/v3/myTrades``: one ``symbol`` (required); ``fromId`` or a window of 24 h at most."""
    acct = account_of(book, key)
    symbol = params.get("symbol", "")
    if not symbol:
        raise failure(-1102, param="symbol")
    if symbol not in markets(book):
        raise failure(-1121)
    start, end, from_id = _int(params, "startTime"), _int(params, "endTime"), _int(params, "fromId")
    order_id = _int(params, "orderId")
    limit = _limit(params, 500, 1000)
    if start is not None and end is not None and end - start > _DAY_MS:
        raise failure(-1127, hours=24)
    if start is not None and end is None:
        end = start + _DAY_MS
    elif end is not None and start is None:
        start = end - _DAY_MS
    chosen = [
        f
        for f in acct.fills
        if f.base + f.quote == symbol
        and (from_id is None or f.id >= from_id)
        and (order_id is None or f.order_id == order_id)
        and (start is None or f.ts >= start)
        and (end is None or f.ts <= end)
    ]
    chosen.sort(key=lambda f: f.id)
    page = chosen[:limit] if from_id is not None or start is not None else chosen[-limit:]
    return [trade_row(f) for f in page]


def _window(params: Params) -> tuple[int, int]:
    """``startTime``/``endTime`` of a deposit or withdrawal query: at most 90 days apart."""
    start, end = _int(params, "startTime"), _int(params, "endTime")
    span = 90 * _DAY_MS
    if start is not None and end is not None:
        if end - start > span:
            raise failure(-1127, msg="Time interval must be within 0-90 days")
        return start, end
    if start is not None:
        return start, start + span
    if end is not None:
        return end - span, end
    now = now_ms()
    return now - span, now


def _transfers(records: list[Transfer], params: Params, asset_param: str) -> list[Transfer]:
    start, end = _window(params)
    wanted = params.get(asset_param)
    offset = _int(params, "offset") or 0
    limit = _limit(params, 1000, 1000)
    chosen = [t for t in records if start <= t.ts <= end and (not wanted or t.asset == wanted)]
    chosen.sort(key=lambda t: t.ts, reverse=True)  # newest first
    return chosen[offset : offset + limit]


def deposits(book: Book, key: Key | None, params: Params) -> list[Row]:
    """``/sapi/v1/capital/deposit/hisrec``: newest first, a window of 90 days at most."""
    acct = account_of(book, key)
    status = _int(params, "status")
    return [
        {"id": t.id, "amount": plain(t.amount), "coin": t.asset, "network": t.network,
         "status": _DEPOSIT_STATUS[t.status], "address": t.address or f"addr-{t.asset.lower()}",
         "addressTag": "", "txId": t.txid, "insertTime": t.ts, "completeTime": t.ts + 60_000,
         "transferType": 0, "confirmTimes": "12/12", "unlockConfirm": 0, "walletType": 0}
        for t in _transfers(acct.deposits, params, "coin")
        if status is None or _DEPOSIT_STATUS[t.status] == status
    ]  # fmt: skip


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def withdrawals(book: Book, key: Key | None, params: Params) -> list[Row]:
    """``/sapi/v1/capital/withdraw/history``: newest first; times are UTC strings."""
    acct = account_of(book, key)
    status = _int(params, "status")
    return [
        {"id": t.id, "amount": plain(t.amount), "transactionFee": plain(t.fee),
         "coin": t.asset, "status": _WITHDRAWAL_STATUS[t.status],
         "address": t.address or f"addr-{t.asset.lower()}", "txId": t.txid,
         "applyTime": _utc(t.ts), "network": t.network, "transferType": 0, "info": "",
         "confirmNo": 3, "walletType": 1, "txKey": "", "completeTime": _utc(t.ts + 60_000)}
        for t in _transfers(acct.withdrawals, params, "coin")
        if status is None or _WITHDRAWAL_STATUS[t.status] == status
    ]  # fmt: skip
