"""Snapshots written after syncs, value series and values at a moment, on a real SQLite DB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from services_support import three_accounts_app
from sqlalchemy import event
from sqlalchemy.engine import Engine

from keyfolio.analytics.series import MAX_POINTS
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import BalanceRecord, Price
from keyfolio.errors import NotFoundError, UsageError
from keyfolio.services.bounds import check_balances
from keyfolio.services.context import App
from keyfolio.services.snapshots import (
    compact_snapshots,
    maybe_compact,
    record_snapshot_batch,
    record_snapshots,
    snapshot_rows,
)
from keyfolio.services.values import computed_series, series_to_json, value_at, value_series
from keyfolio.storage import balances as stored_balances
from keyfolio.storage import values as stored_values

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)


def ok(source: Source, **amounts: str) -> SourceResult:
    return SourceResult(source, SourceStatus.OK, {k: Decimal(v) for k, v in amounts.items()})


def failed(source: Source) -> SourceResult:
    return SourceResult(source, SourceStatus.FAILED, error="down", hint="later")


def set_prices(app: App, **prices: str) -> None:
    with app.db().session() as store:
        store.upsert_prices(
            prices=[Price(asset, Decimal(usd), "test", NOW) for asset, usd in prices.items()]
        )


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = three_accounts_app(tmp_path)
    set_prices(app, BTC="60000", USDT="1", ETH="3000")
    yield app
    app.close()


def points(series) -> list[tuple[datetime, Decimal]]:  # type: ignore[no-untyped-def]
    return [(p.at, p.value) for p in series.points]


def test_record_snapshots_writes_ok_sources_at_current_prices(app: App) -> None:
    results = [
        ok(Source.TRADING, BTC="0.5", USDT="100", ZERO="0", XYZ="3"),
        ok(Source.FUNDING),
        failed(Source.SAVINGS),
    ]
    record_snapshots(app, account="a", results=results, at=NOW)
    with app.db().session(read_only=True) as store:
        sets = store.snapshots.sets()
        rows = store.snapshots.snapshots()
    assert [(s.source, s.total_value, s.unpriced) for s in sets] == [
        ("funding", Decimal(0), False),
        ("trading", Decimal(30100), True),
    ]
    assert [(r.asset, r.amount, r.price, r.price_source, r.value) for r in rows] == [
        ("BTC", Decimal("0.5"), Decimal(60000), "test", Decimal(30000)),
        ("USDT", Decimal(100), Decimal(1), "test", Decimal(100)),
        ("XYZ", Decimal(3), None, None, None),
    ]
    record_snapshots(app, account="a", results=[failed(Source.TRADING)], at=NOW)  # nothing


def test_a_stale_source_is_carried_never_a_zero_dip(app: App) -> None:
    t0, t1, t2 = (NOW - timedelta(hours=h) for h in (3, 2, 1))
    record_snapshots(
        app,
        account="a",
        at=t0,
        results=[ok(Source.TRADING, BTC="1"), ok(Source.FUNDING, USDT="500")],
    )
    record_snapshots(
        app, account="a", at=t1, results=[ok(Source.TRADING, BTC="1"), failed(Source.FUNDING)]
    )
    record_snapshots(
        app, account="a", at=t2, results=[failed(Source.TRADING), failed(Source.FUNDING)]
    )
    series = value_series(app, window="24h", now=NOW)
    assert points(series) == [(t0, Decimal(60500)), (t1, Decimal(60500))]
    assert value_at(app, at=t2, now=NOW) == Decimal(60500)


def test_an_asset_that_is_gone_drops_to_its_true_zero(app: App) -> None:
    t0, t1 = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    record_snapshots(app, account="a", at=t0, results=[ok(Source.TRADING, BTC="1", USDT="10")])
    record_snapshots(app, account="a", at=t1, results=[ok(Source.TRADING, USDT="60010")])
    btc = value_series(app, window="24h", asset="BTC", now=NOW)
    assert [(p.at, p.value, p.amount) for p in btc.points] == [
        (t0, Decimal(60000), Decimal(1)),
        (t1, Decimal(0), Decimal(0)),
    ]
    assert series_to_json(btc)["points"][1] == {
        "at": "2026-11-25T11:30:00Z",
        "value": "0",
        "amount": "0",
    }
    assert points(value_series(app, window="24h", now=NOW)) == [
        (t0, Decimal(60010)),
        (t1, Decimal(60010)),
    ]


def test_series_cover_the_portfolios_counted_accounts(app: App) -> None:
    at = NOW - timedelta(hours=1)
    for name, btc in (("a", "1"), ("b", "2"), ("c", "4")):
        record_snapshots(app, account=name, at=at, results=[ok(Source.TRADING, BTC=btc)])
    assert points(value_series(app, window="24h", now=NOW)) == [(at, Decimal(180000))]
    assert points(value_series(app, portfolio="other", window="24h", now=NOW)) == [
        (at, Decimal(240000))
    ]
    with app.db().session() as store:
        store.set_import_balance(name="b", enabled=False)
    assert points(value_series(app, window="24h", now=NOW)) == [(at, Decimal(60000))]
    only_b = value_series(app, window="24h", account="b", now=NOW)  # asked for: counted
    assert points(only_b) == [(at, Decimal(120000))] and only_b.account == "b"
    with app.db().session() as store:
        store.remove_account(name="a")
    assert value_series(app, window="24h", now=NOW).points == []


def test_the_window_starts_with_the_carried_value(app: App) -> None:
    old, recent = NOW - timedelta(days=3), NOW - timedelta(hours=2)
    record_snapshots(app, account="a", at=old, results=[ok(Source.TRADING, BTC="1")])
    record_snapshots(app, account="a", at=recent, results=[ok(Source.TRADING, BTC="2")])
    day = value_series(app, window="24h", now=NOW)
    assert day.start == NOW - timedelta(hours=24) and day.start_value == Decimal(60000)
    assert points(day) == [(day.start, Decimal(60000)), (recent, Decimal(120000))]
    assert day.change == Decimal(60000)
    week = value_series(app, window="7d", now=NOW)  # the snapshots are younger than the window
    assert week.start_value is None and points(week)[0] == (old, Decimal(60000))
    every = value_series(app, window="all", now=NOW)
    assert every.start == old and len(every.points) == 2
    assert value_at(app, at=old - timedelta(seconds=1), now=NOW) is None
    assert value_at(app, at=old, now=NOW) == Decimal(60000)


def test_long_windows_snap_to_the_retention_grid(app: App) -> None:
    when = datetime(2026, 10, 1, 10, 20, tzinfo=UTC)  # in the hourly region at NOW
    record_snapshots(app, account="a", at=when, results=[ok(Source.TRADING, BTC="1")])
    series = value_series(app, window="90d", now=NOW)
    assert series.start == datetime(2026, 8, 27, 12, tzinfo=UTC)  # floor_hour(NOW - 90 days)
    assert value_at(app, at=when + timedelta(minutes=30), now=NOW) is None  # as of 10:00
    assert value_at(app, at=when + timedelta(minutes=40), now=NOW) == Decimal(60000)  # 11:00


def _irregular_history(app: App) -> None:
    """Three sources over 120 days at irregular, unaligned times, some reads failing."""
    start = NOW - timedelta(days=120)
    with app.db().session() as store:
        prices = store.prices()
        repo = store.snapshots

        def write(account: str, at: datetime, result: SourceResult) -> None:
            if result.is_ok:
                rows = snapshot_rows(account=account, result=result, at=at, prices=prices)
                repo.record(account=account, source=result.source.value, at=at, rows=rows)

        for step in range(900):
            at = start + timedelta(minutes=step * 191 + (step * step) % 37)
            trading = ok(Source.TRADING, BTC=str(Decimal(step % 13) / 10), USDT=str(step))
            write("a", at, trading)
            write(
                "a",
                at,
                ok(Source.FUNDING, ETH=str(step % 5)) if step % 3 else failed(Source.FUNDING),
            )
            if step % 4 == 1:
                late = at + timedelta(minutes=step % 50)
                write("b", late, ok(Source.SAVINGS, BTC="0.01"))


def test_compaction_never_changes_a_series(app: App) -> None:
    _irregular_history(app)
    later = NOW + timedelta(days=20)
    windows = ["24h", "7d", "30d", "90d", "1y", "all"]

    def snapshot_of_series() -> dict[tuple[str, datetime], object]:
        found: dict[tuple[str, datetime], object] = {}
        for window in windows:
            for when in (NOW, later):
                found[window, when] = value_series(app, window=window, now=when)
            found[window + " BTC", NOW] = value_series(app, window=window, asset="BTC", now=NOW)
        return found

    before = snapshot_of_series()
    probes = [NOW - timedelta(days=d, minutes=17 * d) for d in range(0, 121, 3)]
    values_before = [value_at(app, at=p, now=NOW) for p in probes]
    report = compact_snapshots(app, now=NOW)
    assert report.sets_removed > 300
    assert snapshot_of_series() == before
    assert [value_at(app, at=p, now=NOW) for p in probes] == values_before
    assert compact_snapshots(app, now=later).sets_removed > 0
    for window in windows:
        assert value_series(app, window=window, now=later) == before[window, later]


def test_long_series_are_thinned(app: App) -> None:
    start = NOW - timedelta(hours=20)
    with app.db().session() as store:
        repo, prices = store.snapshots, store.prices()
        for minute in range(0, 1200, 2):  # 600 sets in the raw region
            at = start + timedelta(minutes=minute)
            result = ok(Source.TRADING, USDT=str(minute))
            rows = snapshot_rows(account="a", result=result, at=at, prices=prices)
            repo.record(account="a", source="trading", at=at, rows=rows)
    series = value_series(app, window="24h", now=NOW)
    assert len(series.points) <= MAX_POINTS
    assert series.points[-1].value == Decimal(1198)
    assert series.points[0].at == start and series.points[0].value == Decimal(0)


def test_series_to_json_shape(app: App) -> None:
    at = NOW - timedelta(hours=1)
    record_snapshots(app, account="a", at=at, results=[ok(Source.TRADING, BTC="0.5")])
    data = series_to_json(value_series(app, window="24h", now=NOW))
    assert data == {
        "portfolio": "main",
        "window": "24h",
        "currency": "USD",
        "start": "2026-11-24T12:30:00Z",
        "end": "2026-11-25T12:30:00Z",
        "points": [{"at": "2026-11-25T11:30:00Z", "value": "30000"}],
        "refused": [],
    }


def test_bad_windows_and_names_are_refused(app: App) -> None:
    with pytest.raises(UsageError) as caught:
        value_series(app, window="2w")
    assert "1h" in caught.value.hint
    assert value_series(app, window="1D", now=NOW).window == "24h"
    with pytest.raises(NotFoundError):
        value_series(app, portfolio="nope")
    with pytest.raises(NotFoundError):
        value_series(app, account="nope")


def test_maybe_compact_runs_at_most_once_an_hour(app: App) -> None:
    old = NOW - timedelta(days=30)
    for minute in (0, 10):
        at = old + timedelta(minutes=minute)
        record_snapshots(app, account="a", at=at, results=[ok(Source.TRADING, BTC="1")])
    first = maybe_compact(app, now=NOW)
    assert first is not None and first.sets_removed == 1
    assert maybe_compact(app, now=NOW + timedelta(minutes=59)) is None
    assert maybe_compact(app, now=NOW + timedelta(hours=1)) is not None


class _Statements:
    """The SQL statements every engine runs while the context is open."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.seen.append((" ".join(statement.split()), parameters))

    def __enter__(self) -> _Statements:
        event.listen(Engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._record)

    def reading(self, table: str) -> list[str]:
        return [
            sql for sql, _ in self.seen if sql.startswith("SELECT") and f" {table} " in sql + " "
        ]


def _syncs(app: App, count: int, *, start: datetime, step: timedelta = timedelta(hours=1)) -> None:
    """``count`` syncs of accounts a and b, ``step`` apart, in one write."""
    batch = [
        (
            name,
            [ok(Source.TRADING, BTC=f"0.{n + 1}"), ok(Source.FUNDING, USDT=str(n))],
            start + step * n + timedelta(minutes=offset),
        )
        for n in range(count)
        for offset, name in enumerate(["a", "b"])
    ]
    record_snapshot_batch(app, batch)


@pytest.mark.parametrize("window", ["1y", "all"])
def test_a_portfolio_series_reads_its_stored_points_not_the_snapshots(
    app: App, window: str
) -> None:
    _syncs(app, 5, start=NOW - timedelta(days=300), step=timedelta(days=1))
    value_series(app, window=window, now=NOW)  # the stored series is current: nothing to build
    with _Statements() as small:
        few = value_series(app, window=window, now=NOW)
    _syncs(app, 400, start=NOW - timedelta(days=200))
    with _Statements() as large:
        many = value_series(app, window=window, now=NOW)
    assert len(many.points) > len(few.points) > 1
    # The same statements, whatever the number of sets; the sets only through one aggregate
    # (their newest id: is the stored series current?), the per-asset rows never.
    assert [sql for sql, _ in large.seen] == [sql for sql, _ in small.seen]
    assert len(large.seen) <= 14
    assert all("max(snapshot_sets.id)" in sql for sql in large.reading("snapshot_sets"))
    assert large.reading("snapshots") == []
    assert large.reading("value_points")
    assert many == computed_series(app, window=window, now=NOW)


def test_a_sync_adds_one_point_from_the_carried_and_the_new_sets(app: App) -> None:
    _syncs(app, 200, start=NOW - timedelta(days=30))
    with _Statements() as sync:
        record_snapshots(
            app, account="a", results=[ok(Source.TRADING, BTC="2")], at=NOW + timedelta(hours=1)
        )
    inserts = [params for sql, params in sync.seen if sql.startswith("INSERT INTO value_points")]
    assert len(inserts) == 1 and isinstance(inserts[0], tuple)  # one row: the new point
    # Sets read: aggregates (is the series current, from where on?), each pair's carried set
    # (one row per pair), and the sets from the new moment on; never the older sets one by one.
    reads = sync.reading("snapshot_sets")
    assert len(reads) == 4
    assert all(
        "max(" in sql or "min(" in sql or "GROUP BY" in sql or "snapshot_sets.at >= ?" in sql
        for sql in reads
    )
    series = value_series(app, window="7d", now=NOW + timedelta(hours=1))
    assert series == computed_series(app, window="7d", now=NOW + timedelta(hours=1))
    assert series.points[-1].value == Decimal(132398)  # a: 2 BTC + 199; b: 0.2 BTC + 199


@pytest.mark.parametrize("window", ["1y", "all"])
def test_a_request_parses_only_the_stored_points_it_keeps(
    app: App, window: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[object] = []
    parse = stored_values._utc

    def counted(value: datetime | str) -> datetime:
        parsed.append(value)
        return parse(value)

    monkeypatch.setattr(stored_values, "_utc", counted)
    _syncs(app, 24, start=NOW - timedelta(days=150), step=timedelta(days=1))  # daily region
    _syncs(app, 24, start=NOW - timedelta(days=30))  # hourly region: 48 points in 24 hours
    value_series(app, window=window, now=NOW)  # brings the stored series up to date
    parsed.clear()
    few = value_series(app, window=window, now=NOW)
    first = len(parsed)
    # Three more syncs in each of those days and hours: 144 more points, no more buckets.
    for minutes in (5, 10, 15):
        _syncs(app, 24, start=NOW - timedelta(days=150, minutes=-minutes), step=timedelta(days=1))
        _syncs(app, 24, start=NOW - timedelta(days=30, minutes=-minutes))
    value_series(app, window=window, now=NOW)
    with app.db().session(read_only=True) as store:
        assert len(store.values.points(portfolio="main", until=NOW)) == 4 * 96
    parsed.clear()
    many = value_series(app, window=window, now=NOW)
    assert len(parsed) == first == 48  # one per day and per hour: the points kept
    assert [p.at for p in many.points] != [p.at for p in few.points]  # the later syncs' points
    assert many == computed_series(app, window=window, now=NOW)


def test_a_request_turns_only_the_refused_balances_into_records(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = [ok(Source.TRADING, BTC="1", **{f"X{n}": str(n + 1) for n in range(40)})]
    record_snapshots(app, account="a", results=held, at=NOW)
    with app.db().session() as store:
        store.record_sync(name="a", results=held, synced_at=NOW)
        huge = [ok(Source.FUNDING, USDT="1e30", ETH="2")]  # as an older keyfolio left it
        store.record_sync(name="b", results=huge, synced_at=NOW)
        balances = store.balances(portfolio="main")
    built: list[str] = []
    record = stored_balances.BalanceRecord

    def counted(**fields: Any) -> BalanceRecord:
        built.append(fields["asset"])
        return record(**fields)

    monkeypatch.setattr(stored_balances, "BalanceRecord", counted)
    series = value_series(app, window="1y", now=NOW)
    assert built == ["USDT"] and len(balances) == 43
    assert [(r.where, r.account, r.asset, r.value) for r in series.refused] == [
        ("funding balance", "b", "USDT", Decimal("1e30"))
    ]
    assert series == computed_series(app, window="1y", now=NOW)
    assert series.refused == check_balances(balances, {"a": "okx", "b": "okx"})[1]
    only_b = value_series(app, window="1y", account="b", now=NOW)
    assert only_b.refused == series.refused and only_b.points == []
