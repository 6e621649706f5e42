"""Retention of balance snapshot sets, defined here once: the policy and the compaction.

Sets younger than 7 days are all kept; from 7 to 90 days the last set per (account, source) and
UTC hour; older, the last per (account, source) and UTC day. The hour and day grids are absolute
and the region boundaries are floored to them, so a later compaction only ever merges whole
buckets. :func:`retention_bucket` is also what the value series use to downsample, which keeps a
series identical before and after compaction.

:class:`Compaction` is the part of ``SnapshotRepo`` (``store.snapshots.compact``) that applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, func, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

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
