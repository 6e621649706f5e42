"""Retention: the hour and day grid, its boundaries, and which sets a compaction removes.

The compaction of stored sets is worked through in test_storage_snapshots.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyfolio.storage.retention import compaction_victims, retention_bucket, retention_cutoffs

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
HOURLY_BEFORE = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # floor_hour(NOW - 7 days)
DAILY_BEFORE = datetime(2026, 8, 27, 0, 0, tzinfo=UTC)  # floor_day(NOW - 90 days)


def test_retention_boundaries() -> None:
    assert retention_cutoffs(NOW) == (DAILY_BEFORE, HOURLY_BEFORE)
    assert retention_bucket(HOURLY_BEFORE, NOW) is None
    assert retention_bucket(HOURLY_BEFORE - timedelta(microseconds=1), NOW) == datetime(
        2026, 11, 18, 11, tzinfo=UTC
    )
    assert retention_bucket(DAILY_BEFORE, NOW) == DAILY_BEFORE  # the first hourly bucket
    assert retention_bucket(DAILY_BEFORE - timedelta(minutes=1), NOW) == datetime(
        2026, 8, 26, tzinfo=UTC
    )


def test_compaction_victims_keep_the_last_per_key_and_bucket() -> None:
    h = HOURLY_BEFORE
    sets = [
        (1, "k", h - timedelta(minutes=50)),
        (2, "k", h - timedelta(minutes=5)),
        (3, "other", h - timedelta(minutes=50)),
        (4, "k", h),
        (5, "k", h - timedelta(minutes=5)),  # the same moment: the higher id survives
    ]
    assert compaction_victims(sets, now=NOW) == [1, 2]
    assert compaction_victims([s for s in sets if s[0] not in (1, 2)], now=NOW) == []
