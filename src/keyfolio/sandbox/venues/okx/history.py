"""REST history endpoints: fills, bills, deposits and withdrawals, with OKX's paging.

All lists come newest first, at most ``limit`` per page (default 100; larger values are
capped at 100, as OKX does).

* fills and bills page by ``billId``: ``after`` returns older records than the id,
  ``before`` newer ones; ``begin``/``end`` filter on ``ts`` (inclusive, ms).
* deposits, withdrawals and funding bills (``/asset/bills``) page by ``ts``: ``after``
  older, ``before`` newer. Funding bills are derived from the deposits (type ``1``) and
  withdrawals (type ``2``, amount plus fee) of the funding account.

OKX's retention windows are enforced against the server's clock, so a client cannot read
an old record where OKX no longer serves it: ``/trade/fills`` 3 days, ``/trade/fills-history``
3 months (90 days), ``/account/bills`` 7 days, ``/account/bills-archive`` 3 months (90 days),
``/asset/bills`` 1 month (30 days). Older fills and trading bills are served only through the
quarterly archives (:mod:`keyfolio.sandbox.venues.okx.archive`). Deposits and withdrawals have
no window (OKX documents no depth limit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from keyfolio.sandbox.venues.okx.book import Account, Book, Fill
from keyfolio.sandbox.venues.okx.protocol import failure, fmt, now_ms

__all__ = [
    "WINDOWS_MS",
    "account_bills",
    "bill_rows",
    "bills_archive",
    "deposit_history",
    "fill_row",
    "fills",
    "fills_history",
    "funding_bills",
    "recent_bills",
    "recent_fills",
    "withdrawal_history",
]

Row = dict[str, Any]
Query = Mapping[str, str]
T = TypeVar("T")
_FEE_RATE_STEP = Decimal("0.0000000001")
_DAY_MS = 86_400_000

WINDOWS_MS: dict[str, int] = {
    "/api/v5/trade/fills": 3 * _DAY_MS,
    "/api/v5/trade/fills-history": 90 * _DAY_MS,
    "/api/v5/account/bills": 7 * _DAY_MS,
    "/api/v5/account/bills-archive": 90 * _DAY_MS,
    "/api/v5/asset/bills": 30 * _DAY_MS,
}
"""How far back each windowed endpoint reaches (OKX: 3 days, 3 months, 7 days, 3 months,
1 month)."""


def _int_param(query: Query, name: str) -> int | None:
    raw = query.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit():
        raise failure("51000", param=name)
    return int(raw)


def _limit(query: Query) -> int:
    limit = _int_param(query, "limit")
    if limit is None:
        return 100
    if limit < 1:
        raise failure("51000", param="limit")
    return min(limit, 100)  # OKX caps larger limits at 100 (ccxt's paginate sends 1000)


def _page(
    records: Sequence[T],
    query: Query,
    cursor: Callable[[T], int],
    ts: Callable[[T], int],
    *,
    window_ms: int | None = None,
) -> list[T]:
    """Newest-first page of ``records`` (sorted oldest first) under OKX's cursor rules; with
    ``window_ms`` only records of the last ``window_ms`` exist."""
    since = None if window_ms is None else now_ms() - window_ms
    after = _int_param(query, "after")
    before = _int_param(query, "before")
    begin = _int_param(query, "begin")
    end = _int_param(query, "end")
    limit = _limit(query)
    chosen = [
        r
        for r in records
        if (since is None or ts(r) >= since)
        and (after is None or cursor(r) < after)
        and (before is None or cursor(r) > before)
        and (begin is None or ts(r) >= begin)
        and (end is None or ts(r) <= end)
    ]
    chosen.sort(key=cursor)
    if before is not None and after is None:
        page = chosen[:limit]  # the records just newer than the cursor
    else:
        page = chosen[-limit:]  # the most recent ones
    page.reverse()
    return page


def _fee_rate(fill: Fill) -> str:
    base = fill.sz if fill.fee_ccy == fill.base else fill.px * fill.sz
    if base == 0:
        return "0"
    return fmt((fill.fee / base).quantize(_FEE_RATE_STEP))


def fill_row(fill: Fill) -> Row:
    return {
        "instType": "SPOT",
        "instId": fill.symbol,
        "tradeId": fill.trade_id,
        "ordId": fill.ord_id,
        "clOrdId": "",
        "billId": str(fill.bill_id),
        "subType": "1" if fill.side == "buy" else "2",
        "tag": "",
        "fillPx": fmt(fill.px),
        "fillSz": fmt(fill.sz),
        "fillIdxPx": "",
        "fillPnl": "0",
        "fillPxVol": "",
        "fillPxUsd": "",
        "fillMarkVol": "",
        "fillFwdPx": "",
        "fillMarkPx": "",
        "side": fill.side,
        "posSide": "net",
        "execType": fill.exec_type,
        "feeCcy": fill.fee_ccy,
        "fee": fmt(fill.fee),
        "feeRate": _fee_rate(fill),
        "ts": str(fill.ts),
        "fillTime": str(fill.ts),
    }


def _matches(fill_like: Mapping[str, str], query: Query, names: Iterable[str]) -> bool:
    return all(not query.get(n) or fill_like.get(n) == query.get(n) for n in names)


def fills(book: Book, account: Account, query: Query, *, window_ms: int) -> list[Row]:
    """``/api/v5/trade/fills`` and ``/fills-history``; ``instType`` is required."""
    inst_type = query.get("instType", "")
    if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
        raise failure("51000", param="instType")
    if inst_type != "SPOT":
        chosen: list[Fill] = []
    else:
        chosen = [
            f
            for f in account.fills
            if _matches({"instId": f.symbol, "ordId": f.ord_id}, query, ("instId", "ordId"))
        ]
    page = _page(chosen, query, lambda f: f.bill_id, lambda f: f.ts, window_ms=window_ms)
    return [fill_row(f) for f in page]


def recent_fills(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/trade/fills``: the last 3 days."""
    return fills(book, account, query, window_ms=WINDOWS_MS["/api/v5/trade/fills"])


def fills_history(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/trade/fills-history``: the last 3 months."""
    return fills(book, account, query, window_ms=WINDOWS_MS["/api/v5/trade/fills-history"])


def bill_rows(account: Account) -> list[Row]:
    """Every trading-account bill of ``account`` (Decimal amounts), oldest first."""
    return _bills(account)


def _bills(account: Account) -> list[Row]:
    """Two bills per fill (base and quote currency), with ``bal`` walked back from now."""
    rows: list[Row] = []
    for fill in account.fills:
        changes = fill.changes()
        for offset, ccy in enumerate((fill.base, fill.quote)):
            rows.append(
                {
                    "bal": Decimal(0),
                    "balChg": changes[ccy],
                    "billId": fill.bill_id + offset,
                    "ccy": ccy,
                    "clOrdId": "",
                    "earnAmt": "",
                    "earnApr": "",
                    "execType": fill.exec_type,
                    "fee": fmt(fill.fee) if ccy == fill.fee_ccy else "0",
                    "fillFwdPx": "",
                    "fillIdxPx": "",
                    "fillMarkPx": "",
                    "fillMarkVol": "",
                    "fillPxUsd": "",
                    "fillPxVol": "",
                    "fillTime": str(fill.ts),
                    "from": "",
                    "instId": fill.symbol,
                    "instType": "SPOT",
                    "interest": "0",
                    "mgnMode": "cash",
                    "notes": "",
                    "ordId": fill.ord_id,
                    "pnl": "0",
                    "posBal": "0",
                    "posBalChg": "0",
                    "px": fmt(fill.px),
                    "subType": "1" if fill.side == "buy" else "2",
                    "sz": fmt(fill.sz),
                    "tag": "",
                    "to": "",
                    "tradeId": fill.trade_id,
                    "ts": str(fill.ts),
                    "type": "2",
                }
            )
    rows.sort(key=lambda r: int(r["billId"]))
    running = dict(account.trading)
    for row in reversed(rows):
        ccy = row["ccy"]
        balance = running.get(ccy, Decimal(0))
        row["bal"] = balance
        running[ccy] = balance - row["balChg"]
    return rows


def account_bills(book: Book, account: Account, query: Query, *, window_ms: int) -> list[Row]:
    """``/api/v5/account/bills`` and ``/bills-archive``: trade bills of the trading account."""
    names = ("instType", "ccy", "mgnMode", "type", "subType", "instId")
    chosen = [r for r in _bills(account) if _matches({n: str(r[n]) for n in names}, query, names)]
    page = _page(
        chosen, query, lambda r: int(r["billId"]), lambda r: int(r["ts"]), window_ms=window_ms
    )
    return [
        {**r, "bal": fmt(r["bal"]), "balChg": fmt(r["balChg"]), "billId": str(r["billId"])}
        for r in page
    ]


def recent_bills(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/account/bills``: the last 7 days."""
    return account_bills(book, account, query, window_ms=WINDOWS_MS["/api/v5/account/bills"])


def bills_archive(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/account/bills-archive``: the last 3 months."""
    window = WINDOWS_MS["/api/v5/account/bills-archive"]
    return account_bills(book, account, query, window_ms=window)


def _transfers(records: list[Row], query: Query, names: tuple[str, ...]) -> list[Row]:
    wanted_ccy = query.get("ccy", "")
    chosen = [
        r
        for r in records
        if (not wanted_ccy or r["ccy"] == wanted_ccy)
        and _matches({n: str(r.get(n, "")) for n in names}, query, names)
    ]
    ts_query = {k: v for k, v in query.items() if k not in ("begin", "end")}
    return _page(chosen, ts_query, lambda r: int(r["ts"]), lambda r: int(r["ts"]))


def deposit_history(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/asset/deposit-history``, paged by ``ts``."""
    return _transfers(account.deposits, query, ("depId", "txId", "state"))


def withdrawal_history(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/asset/withdrawal-history``, paged by ``ts``."""
    return _transfers(account.withdrawals, query, ("wdId", "clientId", "txId", "state"))


def _funding_bills(account: Account) -> list[Row]:
    """Funding bills: one per successful deposit (+amt) and withdrawal (-amt-fee)."""
    rows: list[Row] = []
    for kind, records in (("1", account.deposits), ("2", account.withdrawals)):
        for record in records:
            if str(record["state"]) != "2":
                continue
            amount = Decimal(str(record["amt"]))
            if kind == "2" and record.get("feeCcy") == record["ccy"]:
                amount += Decimal(str(record.get("fee") or "0"))
            ident = str(record["depId"] if kind == "1" else record["wdId"])
            rows.append(
                {
                    "billId": ("1" if kind == "1" else "2") + ident,
                    "ccy": record["ccy"],
                    "clientId": "",
                    "balChg": amount if kind == "1" else -amount,
                    "bal": Decimal(0),
                    "type": kind,
                    "notes": "",
                    "ts": str(record["ts"]),
                }
            )
    rows.sort(key=lambda r: (int(r["ts"]), r["billId"]))
    running = dict(account.funding)
    for row in reversed(rows):
        balance = running.get(row["ccy"], Decimal(0))
        row["bal"] = balance
        running[row["ccy"]] = balance - row["balChg"]
    return rows


def funding_bills(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/asset/bills``: funding-account bills of the last month, paged by ``ts``."""
    names = ("ccy", "type", "clientId")
    chosen = [
        r for r in _funding_bills(account) if _matches({n: str(r[n]) for n in names}, query, names)
    ]
    ts_query = {k: v for k, v in query.items() if k not in ("begin", "end")}
    window = WINDOWS_MS["/api/v5/asset/bills"]
    page = _page(chosen, ts_query, lambda r: int(r["ts"]), lambda r: int(r["ts"]), window_ms=window)
    return [{**r, "bal": fmt(r["bal"]), "balChg": fmt(r["balChg"])} for r in page]
