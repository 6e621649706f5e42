"""Trade, transfer and ledger history of an OKX account: OKX's newest-first ``after`` paging.

Every page comes through ccxt (unified ``fetch_my_trades``, ``fetch_deposits``,
``fetch_withdrawals`` and ``fetch_ledger``), but amounts are read from the raw OKX strings in each
record's ``info`` (:mod:`keyfolio.exchanges.okx_records`); ccxt's float fields are never used.

Each OKX stream (``trades:SPOT``, ``deposits``, ``ledger:funding``...) pages by a key: OKX's
``billId`` for fills and trading bills, the ``ts`` in ms for deposits, withdrawals and funding
bills. :func:`fetch_page` returns the newest ``limit`` records older than ``after`` (OKX's
``after`` cursor), newest first, as OKX does. :class:`OkxStream` walks them with a
:class:`WalkCursor`:

* ``done``: every record with a paging key at or below it is stored; while a walk is under way,
  ``walk`` = {``top``: the newest key of this walk, ``low``: the oldest key stored so far,
  ``after``: the next request's cursor, ``hold``: the oldest pending transfer}.
* A walk reads pages newest first down to ``done``; when it gets there (or to the end of the
  history), ``done`` becomes ``top``; a deposit or withdrawal still pending holds ``done`` below
  it, so its final state is read again next time.

Trading bills are read with ccxt's implicit ``privateGetAccountBillsArchive`` (3 months):
ccxt 4.5.90's ``fetch_ledger`` always adds ``instType`` (``SPOT`` by default), which would hide
transfer bills and the bills of other instrument types.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from keyfolio.domain.history import HistoryKind, LedgerEntry, Trade, Transfer
from keyfolio.errors import ExchangeResponseError
from keyfolio.exchanges.history import HistoryPage, HistoryRecord, HistoryStream
from keyfolio.exchanges.okx import OkxConnector
from keyfolio.exchanges.okx_records import (
    bill_from_okx,
    deposit_from_okx,
    funding_bill_from_okx,
    trade_from_okx,
    withdrawal_from_okx,
)

__all__ = [
    "INST_TYPES",
    "PAGE_LIMIT",
    "OkxPage",
    "OkxStream",
    "WalkCursor",
    "fetch_page",
    "okx_streams",
]

logger = logging.getLogger(__name__)

PAGE_LIMIT = 100
"""OKX's largest page on every history endpoint."""

INST_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")
_STREAMS: tuple[tuple[str, HistoryKind, str], ...] = (
    *((f"trades:{t}", HistoryKind.TRADES, "id") for t in INST_TYPES),
    ("deposits", HistoryKind.DEPOSITS, "ts"),
    ("withdrawals", HistoryKind.WITHDRAWALS, "ts"),
    ("ledger:trading", HistoryKind.LEDGER, "id"),
    ("ledger:funding", HistoryKind.LEDGER, "ts"),
)


@dataclass(frozen=True)
class OkxPage:
    """One OKX page: (paging key, record) pairs, newest first; ``full`` if it held ``limit``."""

    records: list[tuple[int, HistoryRecord]]
    full: bool


@dataclass
class WalkCursor:
    """The persisted import position of one OKX stream (see the module docstring)."""

    done: int | None = None
    top: int | None = None
    low: int | None = None
    after: int | None = None
    hold: int | None = None

    @property
    def walking(self) -> bool:
        return self.top is not None

    def dump(self) -> str:
        """The cursor as JSON text (the ``import_cursors.cursor`` column)."""
        if not self.walking:
            return json.dumps({"done": self.done})
        walk = {"top": self.top, "low": self.low, "after": self.after, "hold": self.hold}
        return json.dumps({"done": self.done, "walk": walk})

    @classmethod
    def load(cls, text: str | None) -> WalkCursor:
        """Parse a stored cursor; a missing or unreadable one starts from scratch."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            walk = data.get("walk") or {}
            return cls(
                done=_opt_int(data.get("done")),
                top=_opt_int(walk.get("top")),
                low=_opt_int(walk.get("low")),
                after=_opt_int(walk.get("after")),
                hold=_opt_int(walk.get("hold")),
            )
        except (ValueError, TypeError, AttributeError):
            logger.warning("unreadable import cursor %r: starting over", text[:80])
            return cls()


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _pending(record: HistoryRecord) -> bool:
    return isinstance(record, Transfer) and record.status == "pending"


class OkxStream(HistoryStream):
    """One OKX history list, walked newest first down to its ``done`` mark."""

    def __init__(self, connector: OkxConnector, key: str, kind: HistoryKind, paged_by: str):
        self.connector = connector
        self.key = key
        self.kind = kind
        self.paged_by = paged_by

    def _next_after(self, low: int, previous: int | None) -> int:
        """The next ``after``: below ``low`` for ids; for times ``low + 1`` (records sharing
        ``low`` may continue on the next page), unless that would repeat the last request."""
        if self.paged_by == "id":
            return low
        if previous is not None and low + 1 >= previous:
            logger.warning("more than a page of %s records at ts %d: skipping on", self.key, low)
            return low
        return low + 1

    async def next_page(self, cursor: str | None) -> HistoryPage:
        state = WalkCursor.load(cursor)
        request_after = state.after if state.walking else None
        page = await fetch_page(self.connector, self, after=request_after)
        keys = [key for key, _ in page.records]
        if not state.walking:
            if not keys or (state.done is not None and max(keys) <= state.done):
                return HistoryPage([], state.dump(), done=True)  # nothing newer than stored
            state.top, state.low = max(keys), min(keys)
        elif keys:
            state.low = min(min(keys), state.low if state.low is not None else min(keys))
        held = [key for key, record in page.records if _pending(record)]
        if held:
            state.hold = min([*held, *([state.hold] if state.hold is not None else [])])
        low = state.low if state.low is not None else 0
        finished = not keys or not page.full or (state.done is not None and low <= state.done)
        if finished:
            assert state.top is not None
            done = state.top if state.hold is None else min(state.top, state.hold - 1)
            state = WalkCursor(done=done)
        else:
            state.after = self._next_after(low, request_after)
        records = [record for _, record in page.records]
        return HistoryPage(records, state.dump(), done=finished)


def okx_streams(connector: OkxConnector) -> list[OkxStream]:
    """Every history stream of an OKX account."""
    return [OkxStream(connector, key, kind, paged_by) for key, kind, paged_by in _STREAMS]


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
    connector: OkxConnector,
    stream: OkxStream,
    *,
    after: int | None,
    limit: int = PAGE_LIMIT,
) -> OkxPage:
    """The newest ``limit`` records of ``stream`` older than ``after`` (all if None).

    Retried on temporary failures; raises keyfolio ``ExchangeError`` subclasses.
    """
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
    return OkxPage(records=records, full=len(rows) >= limit)
