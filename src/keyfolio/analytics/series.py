"""Value series from snapshot readings: carry-forward, downsampling, thinning. Pure.

A *reading* is the value (and optionally the amount) of one key, e.g. one (account, source),
at one moment. The series value at a moment is the sum over keys of each key's last reading at
or before it ("carry-forward"): a key with no new reading keeps its last value, so a source
that could not be read never shows as zero.

:func:`downsample` keeps the last point per bucket; with the retention buckets of
``keyfolio.storage.snapshots`` (which owns the retention policy), a series is the same before
and after compaction: per bucket both keep the point at the bucket's last reading, whose value
depends only on each key's last reading in or before that bucket, which compaction keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from keyfolio.domain.money import money_context

__all__ = [
    "MAX_POINTS",
    "Reading",
    "SeriesPoint",
    "carry_forward",
    "downsample",
    "thin",
]

MAX_POINTS = 500
"""The most points a series hands out (the window's start point included)."""

_ZERO = Decimal(0)


@dataclass(frozen=True)
class SeriesPoint:
    """The total value (USD) at one moment; ``amount`` only for single-asset series."""

    at: datetime
    value: Decimal
    amount: Decimal | None = None


class Reading(NamedTuple):  # a tuple: built 20,000 times per 1-year series
    """One key's value (and amount, for single-asset series) as read at ``at``."""

    at: datetime
    key: Hashable
    value: Decimal
    amount: Decimal | None = None


def carry_forward(
    readings: Iterable[Reading],
    *,
    initial: Mapping[Hashable, Reading] | None = None,
) -> list[SeriesPoint]:
    """The carry-forward total after each moment that has readings (sorted by time).

    ``initial`` holds each key's last reading before the first of ``readings``. Readings at
    the same moment make one point. ``amount`` is summed over the keys that carry one, and
    is ``None`` when none does.
    """
    values: dict[Hashable, Decimal] = {}
    amounts: dict[Hashable, Decimal] = {}
    points: list[SeriesPoint] = []
    with money_context():  # running sums stay exact (or raise): the one money context
        total = _ZERO
        amount_total = _ZERO
        for key, reading in (initial or {}).items():
            values[key] = reading.value
            total += reading.value
            if reading.amount is not None:
                amounts[key] = reading.amount
                amount_total += reading.amount
        has_amount = bool(amounts)
        pending: datetime | None = None
        for reading in sorted(readings, key=lambda r: r.at):
            if pending is not None and reading.at != pending:
                points.append(_point(pending, total, amount_total, has_amount))
            pending = reading.at
            total += reading.value - values.get(reading.key, _ZERO)
            values[reading.key] = reading.value
            if reading.amount is not None:
                amount_total += reading.amount - amounts.get(reading.key, _ZERO)
                amounts[reading.key] = reading.amount
                has_amount = True
        if pending is not None:
            points.append(_point(pending, total, amount_total, has_amount))
    return points


def _point(at: datetime, total: Decimal, amount: Decimal, has_amount: bool) -> SeriesPoint:
    return SeriesPoint(at=at, value=+total, amount=+amount if has_amount else None)


def downsample(
    points: Sequence[SeriesPoint], *, bucket_of: Callable[[datetime], Hashable | None]
) -> list[SeriesPoint]:
    """Keep the last point of each run of points in the same bucket (``bucket_of(at)``);
    a point whose bucket is ``None`` is always kept.

    With the storage layer's retention buckets (``keyfolio.storage.retention.retention_bucket``)
    a series is identical before and after its snapshots are compacted.
    """
    kept: list[SeriesPoint] = []
    last_bucket: Hashable | None = None
    for point in points:
        bucket = bucket_of(point.at)
        if bucket is not None and bucket == last_bucket and kept:
            kept[-1] = point
        else:
            kept.append(point)
        last_bucket = bucket
    return kept


def thin(
    points: Sequence[SeriesPoint],
    *,
    start: datetime,
    end: datetime,
    max_points: int = MAX_POINTS,
) -> list[SeriesPoint]:
    """At most ``max_points`` points: the first one, then the last point of each of
    ``max_points - 1`` equal time buckets of ``[start, end]``. Integer arithmetic only."""
    if len(points) <= max_points or max_points < 2:
        return list(points)
    span = _micros(end - start)
    buckets = max_points - 1
    kept: list[SeriesPoint] = [points[0]]
    last_index: int | None = None
    for point in points[1:]:
        offset = max(0, _micros(point.at - start))
        index = min(buckets - 1, offset * buckets // span) if span > 0 else 0
        if index == last_index:
            kept[-1] = point
        else:
            kept.append(point)
        last_index = index
    return kept


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
