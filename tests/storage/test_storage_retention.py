"""Retention: the hour and day grid, its boundaries, which sets a compaction removes, and
which stored value points a series keeps (on each backend).

The compaction of stored sets is worked through in test_storage_snapshots.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyfolio.analytics.series import SeriesPoint, downsample
from keyfolio.storage import Database
from keyfolio.storage.retention import (
    compaction_victims,
    retention_bucket,
    retention_bucketer,
    retention_cutoffs,
)

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


# -- the stored value points retention keeps (ValueRepo.retained_points) ------------------------

US = timedelta(microseconds=1)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL sessions in a half-hour zone: its local hours and days are not UTC's, so a
    bucket taken from the session's clock instead of UTC's comes out wrong."""
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")


def _store(db: Database, moments: list[datetime]) -> None:
    """``moments`` (deduplicated, by time) as the stored points of ``main``, valued 1, 2, ..."""
    points = [(at, Decimal(n)) for n, at in enumerate(sorted(set(moments)), start=1)]
    with db.session() as store:
        store.values.replace(
            portfolio="main",
            accounts=[],
            since=None,
            points=points,
            last_set_id=0,
            exact=True,
            now=NOW,
        )


def _read(
    db: Database, now: datetime, since: datetime | None
) -> tuple[list[tuple[datetime, Decimal]], list[tuple[datetime, Decimal]]]:
    """``(retained_points, downsample(points))`` at ``now``."""
    with db.session(read_only=True) as store:
        every = store.values.points(portfolio="main", until=now, since=since)
        kept = store.values.retained_points(portfolio="main", now=now, since=since)
    expected = downsample(
        [SeriesPoint(p.at, p.value) for p in every], bucket_of=retention_bucketer(now)
    )
    for point in kept:
        assert point.at.utcoffset() == timedelta(0)
    return [tuple(p) for p in kept], [(p.at, p.value) for p in expected]


def test_retained_points_worked_example(zone: None, db: Database) -> None:
    d, h = DAILY_BEFORE, HOURLY_BEFORE
    moments = [
        d - 2 * DAY,  # a day of the daily region: its last point is kept
        d - DAY - US,
        d - DAY,  # the day before the cutoff
        d - DAY + 12 * HOUR,
        d - US,
        d,  # the first hourly bucket starts exactly at the daily cutoff
        d + HOUR - US,
        d + HOUR,  # alone in its hour
        h - HOUR,
        h - US,  # the last hour before the hourly cutoff
        h,  # from the hourly cutoff on, every point is kept
        h + US,
        h + US * 2,
        NOW,  # the window's end is included ...
        NOW + US,  # ... what comes after is not
    ]
    _store(db, moments)
    kept, expected = _read(db, NOW, None)
    assert kept == expected
    assert [at for at, _ in kept] == [
        d - DAY - US,
        d - US,
        d + HOUR - US,
        d + HOUR,
        h - US,
        h,
        h + US,
        h + US * 2,
        NOW,
    ]
    assert [value for _, value in kept] == [2, 5, 7, 8, 10, 11, 12, 13, 14]
    # A window starting inside a bucket keeps the bucket's last point at or after its start.
    since = d - DAY + 12 * HOUR + US
    kept, expected = _read(db, NOW, since)
    assert kept == expected and kept[0][0] == d - US
    # Later, the same points fall into coarser buckets: the hourly ones of the example into days.
    later = NOW + 100 * DAY + 17 * US
    kept, expected = _read(db, later, None)
    assert kept == expected
    assert [at for at, _ in kept] == [d - DAY - US, d - US, d + HOUR, h + US * 2, NOW + US]


def test_retained_points_of_nothing(db: Database) -> None:
    with db.session(read_only=True) as store:
        assert store.values.retained_points(portfolio="main", now=NOW) == []


_DAYS_AGO = 200
_MIDNIGHT = datetime(2026, 11, 26, tzinfo=UTC)
# Moments anywhere in 200 days before NOW, within a few microseconds of an hour or a day
# boundary (the cutoffs among them), or minutes apart around one (several in a bucket).
_anywhere = st.integers(0, _DAYS_AGO * 86_400_000_000).map(lambda us: NOW - us * US)
_boundary = st.tuples(st.integers(0, _DAYS_AGO * 24), st.sampled_from([DAY, HOUR])).map(
    lambda t: _MIDNIGHT - t[0] * t[1]
)
_edge = st.tuples(_boundary, st.integers(-2, 2)).map(lambda t: t[0] + t[1] * US)
_moments = st.one_of(
    st.lists(st.one_of(_anywhere, _edge), max_size=60),
    _boundary.flatmap(
        lambda b: st.lists(
            st.integers(-90 * 60, 90 * 60).map(lambda s: b + s * US * 10**6), max_size=40
        )
    ),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moments=_moments,
    later=st.sampled_from([timedelta(0), 37 * US, 40 * DAY + HOUR / 2, 90 * DAY]),
    since=st.one_of(st.none(), _edge, _anywhere),
)
def test_retained_points_are_the_downsampled_points(
    zone: None, db: Database, moments: list[datetime], later: timedelta, since: datetime | None
) -> None:
    _store(db, moments)
    kept, expected = _read(db, NOW + later, since)
    assert kept == expected
