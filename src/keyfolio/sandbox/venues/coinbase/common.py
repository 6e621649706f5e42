"""What every Coinbase view shares: the request it reads, error answers, ids, times and numbers.

Advanced Trade (``/api/v3/brokerage``) errors are compact JSON ``{"error", "error_details",
"message"}``; Coinbase App (``/v2``) errors are ``{"errors": [{"id", "message"}]}``. Failed
authentication is neither: HTTP 401 with the text ``Unauthorized``. Every id is derived from the
account and the record, so two servers started from one state answer the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from keyfolio.sandbox.core.book import STABLE_USD, Account, Book, Key, digest

__all__ = [
    "FIAT",
    "CoinbaseFailure",
    "Query",
    "Row",
    "account_of",
    "fixed",
    "iso",
    "iso_ms",
    "portfolio_uuid",
    "usd_native",
    "uuid_of",
    "v2_failure",
    "v2_page",
    "v3_failure",
    "with_places",
]

Row = dict[str, Any]
FIAT = frozenset({"USD", "EUR", "GBP"})
"""The cash currencies: ``ACCOUNT_TYPE_FIAT`` wallets, bank deposits and withdrawals."""


@dataclass(frozen=True)
class Query:
    """One request as a view reads it: the query (repeatable names kept), the path's ids, the
    caller's key (private routes) and the host it was sent to."""

    params: Mapping[str, list[str]] = field(default_factory=dict)
    match: Mapping[str, str] = field(default_factory=dict)
    key: Key | None = None
    host: str = ""

    def get(self, name: str, default: str = "") -> str:
        values = self.params.get(name)
        return values[-1] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.params.get(name, []))


@dataclass
class CoinbaseFailure(Exception):
    """An error answer: its HTTP status, its body (JSON value or text) and the request-log code."""

    status: int
    body: Any
    code: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}"


def v3_failure(status: int, error: str, details: str) -> CoinbaseFailure:
    """An Advanced Trade error: ``{"error": "NOT_FOUND", "error_details": ..., "message": ...}``."""
    return CoinbaseFailure(
        status, {"error": error, "error_details": details, "message": details}, error
    )


def v2_failure(status: int, error_id: str, message: str) -> CoinbaseFailure:
    """A Coinbase App error: ``{"errors": [{"id": "not_found", "message": "Not found"}]}``."""
    return CoinbaseFailure(status, {"errors": [{"id": error_id, "message": message}]}, error_id)


def account_of(book: Book, query: Query) -> Account:
    assert query.key is not None  # private routes only
    return book.account(query.key.account)


def uuid_of(*parts: str) -> str:
    """A stable UUID (Coinbase's id format) for ``parts``."""
    return str(uuid.UUID(digest(*parts)[:32]))


def portfolio_uuid(account: str) -> str:
    """The uuid of an account's default portfolio (every key is scoped to it)."""
    return uuid_of("portfolio", account)


def iso(ms: int) -> str:
    """RFC 3339 in whole seconds, as ``/v2`` writes times: ``2024-11-03T13:50:09Z``."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ms: int) -> str:
    """RFC 3339 with milliseconds, as Advanced Trade writes times: ``...T09:59:59.000Z``."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def with_places(value: Decimal, places: int) -> str:
    """``value`` with at least ``places`` decimals, never rounded (``"0.5000000000000000"``)."""
    return f"{value:.{max(places, _places(value))}f}"


def fixed(value: Decimal, asset: str) -> str:
    """A ``/v2`` amount in the currency's exponent: 2 decimals for cash, 8 for crypto."""
    return with_places(value, 2 if asset in FIAT else 8)


def usd_native(book: Book, asset: str, amount: Decimal) -> Row:
    """``native_amount``: the amount in USD at today's price, to the cent (display only)."""
    price = Decimal(1) if asset in STABLE_USD else book.usd_price(asset)
    value = (amount * price).quantize(Decimal("0.01")) if price is not None else Decimal("0.00")
    return {"amount": f"{value:.2f}", "currency": "USD"}


def _int(query: Query, name: str, default: int) -> int:
    raw = query.get(name)
    if raw == "":
        return default
    if not raw.isdigit():
        raise v2_failure(400, "invalid_request", f"{name} must be a positive integer")
    return int(raw)


def v2_page(rows: list[Row], query: Query, path: str) -> Row:
    """One ``/v2`` page of ``rows`` (each with an ``id``): ``limit`` (25, at most 100),
    ``order`` (``desc`` as listed, ``asc`` reversed), ``starting_after``/``ending_before`` an id."""
    limit = min(max(_int(query, "limit", 25), 1), 100)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise v2_failure(400, "invalid_request", "order must be asc or desc")
    ordered = rows if order == "desc" else list(reversed(rows))
    ids = [row["id"] for row in ordered]
    after, before = query.get("starting_after"), query.get("ending_before")
    for cursor in (after, before):
        if cursor and cursor not in ids:
            raise v2_failure(404, "not_found", "Not found")
    if after:
        start = ids.index(after) + 1
        page = ordered[start : start + limit]
    elif before:
        end = ids.index(before)
        page = ordered[max(0, end - limit) : end]
    else:
        page = ordered[:limit]
    more = bool(page) and ids.index(page[-1]["id"]) + 1 < len(ids)
    last = page[-1]["id"] if more else None
    following = f"{path}?limit={limit}&order={order}&starting_after={last}" if last else None
    return {
        "pagination": {
            "ending_before": before or None, "starting_after": after or None,
            "previous_ending_before": page[0]["id"] if page and (after or before) else None,
            "next_starting_after": last, "limit": limit, "order": order,
            "previous_uri": None,
            "next_uri": following,
        },
        "data": page,
    }  # fmt: skip
