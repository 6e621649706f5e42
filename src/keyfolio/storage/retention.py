"""Retention of balance snapshot sets, defined here once: the policy and the compaction.

Sets younger than 7 days are all kept; from 7 to 90 days the last set per (account, source) and
UTC hour; older, the last per (account, source) and UTC day. The hour and day grids are absolute
and the region boundaries are floored to them, so a later compaction only ever merges whole
buckets. :func:`retention_bucket` is also what the value series use to downsample, which keeps a
series identical before and after compaction; :func:`retained` does the same to stored rows, in
the database.

:class:`Compaction` is the part of ``SnapshotRepo`` (``store.snapshots.compact``) that applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CompoundSelect, case, delete, func, select, union_all
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from keyfolio.storage._errors import translated
from keyfolio.storage._types import as_utc
from keyfolio.storage.tables_snapshots import (
    MaintenanceRow,
    SnapshotRow,
    SnapshotSetRow,
    ValueSeriesStateRow,
)

__all__ = [
    "COMPACT_TASK",
    "DAILY_AFTER",
    "HOURLY_AFTER",
    "CompactReport",
    "Compaction",
    "compaction_victims",
    "retained",
    "retention_bucket",
    "retention_bucketer",
    "retention_cutoffs",
]

logger = logging.getLogger(__name__)

COMPACT_TASK = "compact_snapshots"
HOURLY_AFTER = timedelta(days=7)
"""Sets older than this (floored to the hour) keep one per (account, source) and hour."""
DAILY_AFTER = timedelta(days=90)
"""Sets older than this (floored to the day) keep one per (account, source) and UTC day."""
_CHUNK = 500


@dataclass(frozen=True)
class CompactReport:
    """What one compaction did, at ``now``, with the retention boundaries it used."""

    now: datetime
    daily_before: datetime
    hourly_before: datetime
    sets_removed: int
    snapshots_removed: int
    sets_kept: int


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def retention_cutoffs(now: datetime) -> tuple[datetime, datetime]:
    """``(daily_before, hourly_before)``: sets before the first keep one per day, those
    between the two one per hour, and those at or after ``hourly_before`` every one."""
    return _floor_hour(now - DAILY_AFTER).replace(hour=0), _floor_hour(now - HOURLY_AFTER)


def retention_bucketer(now: datetime) -> Callable[[datetime], datetime | None]:
    """:func:`retention_bucket` at a fixed ``now``, with the cutoffs computed once."""
    daily_before, hourly_before = retention_cutoffs(now)

    def bucket(at: datetime) -> datetime | None:
        if at >= hourly_before:
            return None
        if at >= daily_before:
            return _floor_hour(at)
        return _floor_hour(at).replace(hour=0)

    return bucket


def retention_bucket(at: datetime, now: datetime) -> datetime | None:
    """The start of the retention bucket (UTC hour or day) holding ``at`` at ``now``;
    ``None`` when ``at`` is recent enough to be kept as it is."""
    return retention_bucketer(now)(at)


class _UTCHour(FunctionElement[Any]):
    """SQL: the UTC hour holding a stored moment, as a key that orders like the moments."""

    inherit_cache = True
    unit, chars = "hour", 13


class _UTCDay(_UTCHour):
    """SQL: the UTC day holding a stored moment, as a key that orders like the moments."""

    inherit_cache = True
    unit, chars = "day", 10


@compiles(_UTCHour)
def _truncated(element: _UTCHour, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"date_trunc('{element.unit}', timezone('UTC', {compiler.process(element.clauses, **kw)}))"
    )


@compiles(_UTCHour, "sqlite")
def _prefix(element: _UTCHour, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the naive UTC moment as text, "2026-11-25 12:30:00.000000": its hour and its
    # day are its first 13 and 10 characters.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, {element.chars})"


def retained(
    columns: Sequence[ColumnElement[Any]],
    at: InstrumentedAttribute[datetime],
    where: Sequence[ColumnElement[bool]],
    *,
    now: datetime,
) -> CompoundSelect[Any]:
    """SQL: ``columns`` of the rows ``where`` selects that retention keeps at ``now``, by
    ``at``: the last row of each UTC day before the daily cutoff and of each UTC hour before
    the hourly cutoff, and every row after (``downsample`` with :func:`retention_bucketer`, in
    the database: the rows it drops are never read). ``at`` is unique among those rows.

    A union of the buckets' last rows (found by key) and the recent rows: SQLite answered
    ``at IN (...) OR at >= ?`` by testing every row of the window, in twice the time. The UTC
    hour and day are SQLite's text prefixes, elsewhere (PostgreSQL) ``date_trunc`` of the UTC
    time.
    """
    daily_before, hourly_before = retention_cutoffs(as_utc(now, field="now"))
    bucket = case((at >= daily_before, _UTCHour(at)), else_=_UTCDay(at))
    last = select(func.max(at)).where(*where, at < hourly_before).group_by(bucket)
    return union_all(
        select(*columns).where(*where, at.in_(last.scalar_subquery())),
        select(*columns).where(*where, at >= hourly_before),
    ).order_by(at)


def compaction_victims(
    sets: Iterable[tuple[int, Hashable, datetime]], *, now: datetime
) -> list[int]:
    """The ids of the sets ``(id, key, at)`` that retention removes at ``now``.

    Per key and retention bucket the latest set survives (the higher id on a tie). Applying
    it again at the same or a later ``now`` never brings anything back; at the same ``now``
    it removes nothing more (idempotent).
    """
    bucket_of = retention_bucketer(now)
    latest: dict[tuple[Hashable, datetime], tuple[datetime, int]] = {}
    victims: list[int] = []
    for set_id, key, at in sets:
        bucket = bucket_of(at)
        if bucket is None:
            continue
        slot = (key, bucket)
        kept = latest.get(slot)
        if kept is None:
            latest[slot] = (at, set_id)
        elif (at, set_id) > kept:
            victims.append(kept[1])
            latest[slot] = (at, set_id)
        else:
            victims.append(set_id)
    return sorted(victims)


class Compaction:
    """Applies retention to the stored sets (a part of ``SnapshotRepo``, in its transaction)."""

    _session: Session
    _where: str

    @translated
    def compact(self, *, now: datetime) -> CompactReport:
        """Apply retention at ``now`` (all sets of the last 7 days, then the last set per
        account, source and hour up to 90 days, then per UTC day). Idempotent. Records the
        run (see :meth:`last_compaction`)."""
        when = as_utc(now, field="now")
        daily_before, hourly_before = retention_cutoffs(when)
        candidates = self._session.execute(
            select(
                SnapshotSetRow.id,
                SnapshotSetRow.account_id,
                SnapshotSetRow.source,
                SnapshotSetRow.at,
            ).where(SnapshotSetRow.at < hourly_before)
        )
        victims = compaction_victims(
            ((set_id, (account_id, source), at) for set_id, account_id, source, at in candidates),
            now=when,
        )
        snapshots_removed = 0
        for start in range(0, len(victims), _CHUNK):
            chunk = victims[start : start + _CHUNK]
            result = self._session.execute(delete(SnapshotRow).where(SnapshotRow.set_id.in_(chunk)))
            snapshots_removed += cast(CursorResult[Any], result).rowcount
            self._session.execute(delete(SnapshotSetRow).where(SnapshotSetRow.id.in_(chunk)))
        if victims:  # a stored value series may count a removed set: each is rebuilt
            self._session.execute(delete(ValueSeriesStateRow))
        kept = self._session.scalar(select(func.count()).select_from(SnapshotSetRow)) or 0
        self._mark_run(COMPACT_TASK, when)
        logger.info(
            "compacted snapshots: removed %d sets (%d rows), %d sets kept",
            len(victims),
            snapshots_removed,
            kept,
        )
        return CompactReport(
            now=when,
            daily_before=daily_before,
            hourly_before=hourly_before,
            sets_removed=len(victims),
            snapshots_removed=snapshots_removed,
            sets_kept=kept,
        )

    @translated
    def last_compaction(self) -> datetime | None:
        """When :meth:`compact` last ran; ``None`` if never."""
        return self._session.scalar(
            select(MaintenanceRow.last_run_at).where(MaintenanceRow.task == COMPACT_TASK)
        )

    def _mark_run(self, task: str, at: datetime) -> None:
        row = self._session.get(MaintenanceRow, task)
        if row is None:
            self._session.add(MaintenanceRow(task=task, last_run_at=at))
        else:
            row.last_run_at = at
        self._session.flush()
