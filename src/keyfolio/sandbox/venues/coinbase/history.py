"""Coinbase history: Advanced Trade fills (v3) and each wallet's Coinbase App transactions (v2).

* ``GET /api/v3/brokerage/orders/historical/fills``: newest first, ``cursor`` paging (``limit``
  100 by default), filters ``product_ids`` (repeated; ccxt sends the older ``product_id``),
  ``order_ids``, ``trade_ids``, ``start_sequence_timestamp``/``end_sequence_timestamp``
  (RFC 3339). The commission is in the quote currency.
* ``GET /v2/accounts/{id}/transactions``: the wallet's ledger, newest first, ``/v2`` paging. A
  fill is an ``advanced_trade_fill`` row in the base and in the quote wallet (the commission
  sits on the base row, outside both amounts); a crypto deposit or withdrawal is a ``send``
  (a withdrawal's amount is the whole debit, ``network.transaction_amount`` what was sent);
  cash moves are ``fiat_deposit`` / ``fiat_withdrawal``.
* ``GET /v2/accounts/{id}/deposits`` and ``/withdrawals``: bank transfers of cash wallets only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from keyfolio.sandbox.core.book import Account, Book, Fill, Transfer
from keyfolio.sandbox.venues.coinbase.account import find_v2, wallet_id
from keyfolio.sandbox.venues.coinbase.common import (
    FIAT,
    Query,
    Row,
    account_of,
    fixed,
    iso,
    iso_ms,
    portfolio_uuid,
    usd_native,
    uuid_of,
    v2_page,
    v3_failure,
)

__all__ = ["fill_row", "fills", "fiat_transfers", "transactions"]

_STATUS = {"ok": "completed", "pending": "pending", "failed": "failed"}
_FIAT_STATUS = {"ok": "completed", "pending": "created", "failed": "canceled"}
_ZERO = Decimal(0)


def _plain(value: Decimal) -> str:
    return f"{value:f}"


def fill_row(account: str, fill: Fill) -> Row:
    """One fill as ``/orders/historical/fills`` lists it."""
    return {
        "entry_id": uuid_of("fill", account, str(fill.id)),
        "trade_id": uuid_of("trade", account, str(fill.id)),
        "order_id": uuid_of("order", account, str(fill.order_id)),
        "trade_time": iso_ms(fill.ts), "trade_type": "FILL", "price": _plain(fill.price),
        "size": _plain(fill.amount), "commission": _plain(fill.fee),
        "product_id": fill.symbol, "sequence_timestamp": iso_ms(fill.ts),
        "liquidity_indicator": "MAKER" if fill.maker else "TAKER", "size_in_quote": False,
        "user_id": uuid_of("user", account), "side": fill.side.upper(),
        "retail_portfolio_id": portfolio_uuid(account),
    }  # fmt: skip


def _rfc3339_ms(text: str, name: str) -> int:
    """Milliseconds of an RFC 3339 time (fractions of any length)."""
    head, dot, tail = text.removesuffix("Z").partition(".")
    digits = "".join(c for c in tail if c.isdigit())
    try:
        moment = datetime.fromisoformat(head).replace(tzinfo=UTC)
    except ValueError:
        raise v3_failure(400, "INVALID_ARGUMENT", f"{name} is not an RFC 3339 time") from None
    micros = int((digits + "000000")[:6]) if dot else 0
    return int(moment.timestamp()) * 1000 + micros // 1000


def fills(book: Book, query: Query) -> Row:
    """``GET /api/v3/brokerage/orders/historical/fills``: newest first, ``cursor`` paging."""
    acct = account_of(book, query)
    products = query.all("product_ids") + query.all("product_id")
    orders, trades = set(query.all("order_ids")), set(query.all("trade_ids"))
    start = query.get("start_sequence_timestamp")
    end = query.get("end_sequence_timestamp")
    start_ms = _rfc3339_ms(start, "start_sequence_timestamp") if start else None
    end_ms = _rfc3339_ms(end, "end_sequence_timestamp") if end else None
    raw_limit, cursor = query.get("limit", "100"), query.get("cursor")
    if not raw_limit.isdigit() or (cursor and not cursor.isdigit()):
        raise v3_failure(400, "INVALID_ARGUMENT", "limit and cursor must be integers")
    rows = [
        fill_row(acct.name, f)
        for f in sorted(acct.fills, key=lambda f: (f.ts, f.id), reverse=True)
        if (not products or f.symbol in products)
        and (start_ms is None or f.ts >= start_ms)
        and (end_ms is None or f.ts <= end_ms)
    ]
    rows = [r for r in rows if (not orders or r["order_id"] in orders)
            and (not trades or r["trade_id"] in trades)]  # fmt: skip
    offset, limit = int(cursor or 0), min(max(int(raw_limit), 1), 1000)
    page = rows[offset : offset + limit]
    more = offset + len(page) < len(rows)
    return {"fills": page, "cursor": str(offset + len(page)) if more else ""}


def _tx(acct: Account, kind: str, key: str, asset: str, amount: Decimal, ts: int) -> Row:
    tx_id = uuid_of("tx", acct.name, kind, key, asset)
    return {
        "id": tx_id, "type": kind, "status": "completed",
        "amount": {"amount": fixed(amount, asset), "currency": asset},
        "description": None, "created_at": iso(ts), "updated_at": iso(ts),
        "resource": "transaction",
        "resource_path": f"/v2/accounts/{wallet_id(acct.name, asset)}/transactions/{tx_id}",
        "instant_exchange": False,
        "details": {"title": kind.replace("_", " ").title(), "subtitle": "", "header": "",
                    "health": "positive"},
    }  # fmt: skip


def _fill_rows(book: Book, acct: Account, asset: str) -> list[tuple[int, Row]]:
    rows = []
    for f in acct.fills:
        if asset not in (f.base, f.quote):
            continue
        sign = 1 if (f.side == "buy") == (asset == f.base) else -1
        amount = sign * (f.amount if asset == f.base else f.notional)
        row = _tx(acct, "advanced_trade_fill", str(f.id), asset, amount, f.ts)
        row["advanced_trade_fill"] = {
            "fill_price": _plain(f.price), "product_id": f.symbol,
            "order_id": uuid_of("order", acct.name, str(f.order_id)),
            "commission": _plain(f.fee) if asset == f.base else "0", "order_side": f.side,
        }  # fmt: skip
        row["native_amount"] = usd_native(book, asset, amount)
        rows.append((f.ts, row))
    return rows


def _transfer_row(book: Book, acct: Account, t: Transfer, *, deposit: bool) -> Row:
    fiat = t.asset in FIAT
    kind = ("fiat_deposit" if deposit else "fiat_withdrawal") if fiat else "send"
    amount = t.amount if deposit else -(t.amount + t.fee)
    row = _tx(acct, kind, ("d" if deposit else "w") + t.id, t.asset, amount, t.ts)
    row["status"] = _STATUS[t.status]
    row["native_amount"] = usd_native(book, t.asset, amount)
    if fiat:
        row[kind] = {"id": uuid_of(kind, acct.name, t.id), "resource": kind}
        return row
    network: Row = {"status": "confirmed" if t.status == "ok" else t.status, "hash": t.txid,
                    "network_name": t.network.lower()}  # fmt: skip
    address = t.address or f"addr-{t.asset.lower()}"
    if deposit:
        row["from"] = {"resource": "address", "address": address}
    else:
        network["transaction_fee"] = {"amount": fixed(t.fee, t.asset), "currency": t.asset}
        network["transaction_amount"] = {"amount": fixed(t.amount, t.asset), "currency": t.asset}
        row["to"] = {"resource": "address", "address": address}
    row["network"] = network
    return row


def transactions(book: Book, query: Query) -> Row:
    """``GET /v2/accounts/{account_id}/transactions``: the wallet's ledger, newest first."""
    acct = account_of(book, query)
    wallet = find_v2(book, query)
    asset = wallet["currency"]["code"]
    found: list[tuple[int, Row]] = []
    if wallet["primary"]:  # a staking wallet has no transfers or fills of its own here
        found += _fill_rows(book, acct, asset)
        found += [(t.ts, _transfer_row(book, acct, t, deposit=True))
                  for t in acct.deposits if t.asset == asset]  # fmt: skip
        found += [(t.ts, _transfer_row(book, acct, t, deposit=False))
                  for t in acct.withdrawals if t.asset == asset]  # fmt: skip
    found.sort(key=lambda pair: (pair[0], pair[1]["id"]), reverse=True)
    path = f"/v2/accounts/{wallet['id']}/transactions"
    return v2_page([row for _, row in found], query, path)


def fiat_transfers(book: Book, query: Query, *, deposits: bool) -> Row:
    """``GET /v2/accounts/{id}/deposits`` or ``/withdrawals``: bank transfers (cash only)."""
    acct = account_of(book, query)
    wallet = find_v2(book, query)
    asset = wallet["currency"]["code"]
    records = acct.deposits if deposits else acct.withdrawals
    rows = []
    for t in sorted(records, key=lambda t: t.ts, reverse=True):
        if t.asset != asset or asset not in FIAT or not wallet["primary"]:
            continue
        kind = "deposit" if deposits else "withdrawal"
        tx_id = uuid_of("tx", acct.name, f"fiat_{kind}", ("d" if deposits else "w") + t.id, asset)
        money = {"amount": fixed(t.amount, asset), "currency": asset}
        rows.append({
            "id": uuid_of(f"fiat_{kind}", acct.name, t.id), "status": _FIAT_STATUS[t.status],
            "payment_method": {"id": uuid_of("bank", acct.name), "resource": "payment_method"},
            "transaction": {"id": tx_id, "resource": "transaction"},
            "amount": money, "subtotal": money,
            "fee": {"amount": fixed(t.fee, asset), "currency": asset},
            "created_at": iso(t.ts), "updated_at": iso(t.ts), "resource": kind,
            "resource_path": f"/v2/accounts/{wallet['id']}/{kind}s/{uuid_of(kind, t.id)}",
            "committed": True, "payout_at": iso(t.ts),
        })  # fmt: skip
    return v2_page(
        rows, query, f"/v2/accounts/{wallet['id']}/{'deposits' if deposits else 'withdrawals'}"
    )
