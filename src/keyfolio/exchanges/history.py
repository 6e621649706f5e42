"""Trade, transfer and ledger history, one page at a time: the stream interface and two walkers.

A *stream* is one paged list of one account (``trades:SPOT``, ``trades:BTCUSDT``, ``deposits``,
``ledger:funding``...). :meth:`HistoryStream.next_page` reads the page after ``cursor`` and returns
its records with the cursor to persist *together with them* (one transaction), so an import that
stops anywhere resumes where it stopped, and a page read twice adds nothing (records have unique
ids). Cursors are JSON text owned by the stream.

Venues page differently, so each venue module builds its streams from these parts:

* :class:`IdWalk` -- ids that grow, read oldest first from an id (Binance ``myTrades?fromId``);
* :class:`WindowWalk` -- time windows of a fixed width (Binance deposits: 90 days; Bybit
  executions: 7 days), walked back from now to the venue's first day on the first import, then
  forward from the last import; a record still pending holds the mark so it is read again;
* OKX's newest-first ``after`` cursor (``keyfolio.exchanges.okx_history``).
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from keyfolio.domain.history import HistoryKind, LedgerEntry, Trade, Transfer
from keyfolio.errors import KeyfolioError

__all__ = [
    "HistoryContext",
    "HistoryPage",
    "HistoryRecord",
    "HistoryStream",
    "IdWalk",
    "WindowWalk",
    "at_ms",
    "load_cursor",
]

logger = logging.getLogger(__name__)

HistoryRecord = Trade | Transfer | LedgerEntry


def at_ms(ms: int) -> datetime:
    """A UTC datetime from Unix milliseconds, exactly."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


def load_cursor(text: str | None) -> dict[str, Any]:
    """A stored cursor as a dict; a missing or unreadable one starts from scratch."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        logger.warning("unreadable import cursor %r: starting over", text[:80])
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class HistoryContext:
    """What the import knows that a venue may need to choose its streams.

    ``assets`` are the canonical assets the account ever held, deposited, withdrew or traded
    (Binance's ``myTrades`` needs one symbol per request: the symbols come from these).
    """

    assets: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HistoryPage:
    """One page: its records, the cursor to store with them, and whether the stream is done."""

    records: list[HistoryRecord]
    cursor: str
    done: bool
    requests: int = 1
    error: KeyfolioError | None = None
    """A problem to report once this page is stored (the stream then stops for this run)."""


class HistoryStream(ABC):
    """One paged list of one account.

    ``pages_per_run`` bounds how many pages one import reads (None: until done): a stream whose
    endpoint is expensive (Binance withdrawals weigh 18,000 of a 180,000 per-minute budget) walks
    a little further at every sync instead of holding one sync for minutes or hitting the limit.
    """

    key: str
    kind: HistoryKind
    pages_per_run: int | None = None

    def resting(self, cursor: str | None, written_at: datetime | None) -> bool:
        """Whether a walk still under way should wait before its next run (a paced backfill)."""
        return False

    def progress(self, cursor: str | None) -> str | None:
        """How far a stream that is not finished has come, in words (``None``: nothing left).

        Shown after an import; a stream with progress counts as unfinished, so the next sync
        imports the account's history again. Streams that read to their end need not say.
        """
        return None

    @abstractmethod
    async def next_page(self, cursor: str | None) -> HistoryPage:
        """The page after ``cursor`` (None: the first import), with its new cursor."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"


IdFetch = Callable[[int, int], Awaitable[list[tuple[int, HistoryRecord]]]]
"""``fetch(from_id, limit)`` -> (id, record) pairs with ids >= from_id, oldest first."""


@dataclass(eq=False)
class IdWalk(HistoryStream):
    """Records with growing ids, read oldest first from the id after the last one stored."""

    key: str
    kind: HistoryKind
    fetch: IdFetch
    limit: int

    async def next_page(self, cursor: str | None) -> HistoryPage:
        start = int(load_cursor(cursor).get("from_id", 0))
        pairs = await self.fetch(start, self.limit)
        top = max((i for i, _ in pairs), default=start - 1)
        return HistoryPage(
            records=[record for _, record in pairs],
            cursor=json.dumps({"from_id": max(start, top + 1)}),
            done=len(pairs) < self.limit,
        )


WindowFetch = Callable[[int, int, Any], Awaitable[tuple[list[HistoryRecord], Any]]]
"""``fetch(start_ms, end_ms, page)`` -> (records, next page token or None) for one window;
``page`` is None for a window's first page."""


def _pending(record: HistoryRecord) -> bool:
    return isinstance(record, Transfer) and record.status == "pending"


@dataclass(eq=False)
class WindowWalk(HistoryStream):
    """Time windows of ``width_ms``: back from now to ``floor_ms`` first, then forward.

    The cursor is ``{"done": ms}`` (everything up to it is stored) plus, during a walk,
    ``{"walk": {"dir", "start", "end", "page", "top", "hold"}}`` for the window in progress.
    """

    key: str
    kind: HistoryKind
    fetch: WindowFetch
    width_ms: int
    floor_ms: int
    pages_per_run: int | None = None
    pause_s: float = 0.0
    """While a walk is under way, seconds between two runs (a rate budget per minute)."""
    overlap_ms: int = 60_000
    windows_per_page: int = 1
    """Empty windows read into one page (one stored cursor): narrow windows (Bybit's 7 days)
    would otherwise store a cursor per empty week. A page then costs up to this many requests,
    so a rate budget is ``pages_per_run`` x ``windows_per_page`` requests a run."""
    clock: Callable[[], float] = field(default=time.time)

    def resting(self, cursor: str | None, written_at: datetime | None) -> bool:
        if not self.pause_s or written_at is None or "walk" not in load_cursor(cursor):
            return False
        return self.clock() - written_at.timestamp() < self.pause_s

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def next_page(self, cursor: str | None) -> HistoryPage:
        requests = 0
        while True:
            page = await self._window_page(load_cursor(cursor))
            requests += 1
            if page.records or page.done or requests >= self.windows_per_page:
                return replace(page, requests=requests)
            cursor = page.cursor

    async def _window_page(self, state: dict[str, Any]) -> HistoryPage:
        walk = state.get("walk")
        done = state.get("done")
        if not isinstance(walk, dict):
            now = self._now_ms()
            if done is None:  # the first import: back from now
                walk = {"dir": "back", "start": max(self.floor_ms, now - self.width_ms),
                        "end": now, "page": None, "top": now, "hold": None}  # fmt: skip
            else:  # later imports: forward from a little before the mark
                start = max(self.floor_ms, int(done) - self.overlap_ms)
                walk = {"dir": "forward", "start": start, "end": min(now, start + self.width_ms),
                        "page": None, "top": now, "hold": None}  # fmt: skip
        records, token = await self.fetch(int(walk["start"]), int(walk["end"]), walk["page"])
        held = [int(r.at.timestamp() * 1000) for r in records if _pending(r)]
        if held:
            walk["hold"] = min([*held, *([walk["hold"]] if walk["hold"] is not None else [])])
        return self._advance(state, walk, records, token)

    def _advance(
        self, state: dict[str, Any], walk: dict[str, Any], records: Sequence[HistoryRecord],
        token: Any,
    ) -> HistoryPage:  # fmt: skip
        if token is not None:  # more pages in this window
            walk["page"] = token
            return HistoryPage(list(records), json.dumps({**state, "walk": walk}), done=False)
        walk["page"] = None
        if walk["dir"] == "back" and walk["start"] > self.floor_ms:
            walk["end"] = walk["start"]
            walk["start"] = max(self.floor_ms, walk["end"] - self.width_ms)
            return HistoryPage(list(records), json.dumps({**state, "walk": walk}), done=False)
        if walk["dir"] == "forward" and walk["end"] < walk["top"]:
            walk["start"] = walk["end"]
            walk["end"] = min(walk["top"], walk["start"] + self.width_ms)
            return HistoryPage(list(records), json.dumps({**state, "walk": walk}), done=False)
        top = int(walk["top"])
        mark = top if walk["hold"] is None else min(top, int(walk["hold"]) - 1)
        return HistoryPage(list(records), json.dumps({"done": mark}), done=True)
