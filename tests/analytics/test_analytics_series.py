"""Pure series helpers: carry-forward, downsampling by bucket, thinning to at most N points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from keyfolio.analytics.series import (
    MAX_POINTS,
    Reading,
    SeriesPoint,
    carry_forward,
    downsample,
    thin,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def r(minutes: int, key: str, value: str, amount: str | None = None) -> Reading:
    return Reading(at(minutes), key, Decimal(value), None if amount is None else Decimal(amount))


def values(points: list[SeriesPoint]) -> list[tuple[int, str]]:
    return [(int((p.at - T0).total_seconds()) // 60, str(p.value)) for p in points]


def test_carry_forward_sums_each_keys_last_reading() -> None:
    readings = [
        r(0, "a", "100"),
        r(0, "b", "10"),
        r(5, "a", "120"),
        r(9, "b", "0"),
        r(12, "a", "1"),
    ]
    assert values(carry_forward(readings)) == [(0, "110"), (5, "130"), (9, "120"), (12, "1")]


def test_a_key_without_new_readings_keeps_its_value_no_zero_dip() -> None:
    # "b" (a stale source) has no reading at 5 and 10: its 50 is carried, never zero
    readings = [r(0, "a", "100"), r(0, "b", "50"), r(5, "a", "101"), r(10, "a", "102")]
    assert values(carry_forward(readings)) == [(0, "150"), (5, "151"), (10, "152")]


def test_initial_readings_are_carried_into_the_window() -> None:
    initial = {"a": r(-60, "a", "7"), "b": r(-30, "b", "3")}
    assert values(carry_forward([r(1, "b", "4")], initial=initial)) == [(1, "11")]
    assert carry_forward([], initial=initial) == []


def test_readings_are_sorted_and_simultaneous_ones_make_one_point() -> None:
    readings = [r(3, "a", "2"), r(1, "a", "1"), r(3, "b", "5")]
    assert values(carry_forward(readings)) == [(1, "1"), (3, "7")]


def test_amounts_are_summed_when_readings_carry_them() -> None:
    readings = [r(0, "a", "60000", "1"), r(0, "b", "30000", "0.5"), r(2, "a", "0", "0")]
    points = carry_forward(readings)
    assert [(p.value, p.amount) for p in points] == [
        (Decimal("90000"), Decimal("1.5")),
        (Decimal("30000"), Decimal("0.5")),
    ]
    assert carry_forward([r(0, "a", "1")])[0].amount is None


def test_sums_stay_exact_with_many_digits() -> None:
    tiny = "0.000000000000000000000000000001"
    readings = [r(0, "a", "123456789012345678901234567890"), r(1, "b", tiny), r(2, "b", "0")]
    points = carry_forward(readings)
    assert points[1].value == Decimal("123456789012345678901234567890" + tiny[1:])
    assert points[2].value == Decimal("123456789012345678901234567890")


def test_downsample_keeps_the_last_point_of_each_bucket_and_every_unbucketed_one() -> None:
    points = [SeriesPoint(at(m), Decimal(m)) for m in (0, 10, 59, 60, 61, 200, 201)]

    def hour_until_two(moment: datetime) -> datetime | None:
        return moment.replace(minute=0) if moment < at(120) else None

    kept = downsample(points, bucket_of=hour_until_two)
    assert [int(p.value) for p in kept] == [59, 61, 200, 201]


@pytest.mark.parametrize("count", [1, 2, MAX_POINTS, MAX_POINTS + 1, 5000])
def test_thin_keeps_at_most_max_points_first_and_last(count: int) -> None:
    points = [SeriesPoint(at(m), Decimal(m)) for m in range(count)]
    kept = thin(points, start=at(0), end=at(count))
    assert len(kept) <= MAX_POINTS
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert [p.at for p in kept] == sorted({p.at for p in kept})
    if count <= MAX_POINTS:
        assert kept == points


def test_thin_takes_the_last_value_per_bucket() -> None:
    points = [SeriesPoint(at(m), Decimal(m)) for m in range(10)]
    kept = thin(points, start=at(0), end=at(10), max_points=3)  # first + 2 buckets of 5 min
    assert [int(p.value) for p in kept] == [0, 4, 9]
