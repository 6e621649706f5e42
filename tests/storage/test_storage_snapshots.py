"""SnapshotRepo: snapshot sets, readings, prices at a moment, compaction (worked examples)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text as sql

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.records import Snapshot
from keyfolio.errors import NotFoundError
from keyfolio.storage import Database
from keyfolio.storage.snapshots import SetReading

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
HOURLY_BEFORE = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # floor_hour(NOW - 7 days)
DAILY_BEFORE = datetime(2026, 8, 27, 0, 0, tzinfo=UTC)  # floor_day(NOW - 90 days)


def snap(account: str, source: str, at: datetime, asset: str, amount: str, price: str | None):
    value = None if price is None else Decimal(amount) * Decimal(price)
    return Snapshot(
        at=at,
        account=account,
        source=source,
        asset=asset,
        amount=Decimal(amount),
        price=None if price is None else Decimal(price),
        price_source=None if price is None else "okx:test",
        value=value,
    )


@pytest.fixture
def accounts(db: Database) -> Database:
    with db.session() as store:
        for name in ("a", "b"):
            store.add_account(spec=AccountSpec(exchange="okx", name=name))
    return db


def record(db: Database, account: str, source: str, at: datetime, **assets: str) -> None:
    """``BTC="0.5@60000"``: amount at price; ``XYZ="7"``: unpriced."""
    rows = []
    for asset, text in assets.items():
        amount, _, price = text.partition("@")
        rows.append(snap(account, source, at, asset, amount, price or None))
    with db.session() as store:
        store.snapshots.record(account=account, source=source, at=at, rows=rows)


def test_record_stores_a_set_with_its_total_and_rows(accounts: Database) -> None:
    record(accounts, "a", "trading", NOW, BTC="0.5@60000", USDT="100@1", XYZ="7")
    record(accounts, "a", "funding", NOW)  # read OK, holds nothing
    with accounts.session(read_only=True) as store:
        sets = store.snapshots.sets()
        rows = store.snapshots.snapshots(account="a")
    assert [(s.source, s.total_value, s.unpriced) for s in sets] == [
        ("funding", Decimal(0), False),
        ("trading", Decimal("30100"), True),
    ]
    assert sets[0].at == NOW and sets[0].account == "a"
    assert [(r.asset, r.amount, r.price, r.value) for r in rows] == [
        ("BTC", Decimal("0.5"), Decimal(60000), Decimal("30000.0")),
        ("USDT", Decimal(100), Decimal(1), Decimal(100)),
        ("XYZ", Decimal(7), None, None),
    ]


def test_recording_the_same_moment_again_replaces_the_set(accounts: Database) -> None:
    record(accounts, "a", "trading", NOW, BTC="1@10")
    record(accounts, "a", "trading", NOW, ETH="2@5")
    with accounts.session(read_only=True) as store:
        assert [s.total_value for s in store.snapshots.sets()] == [Decimal(10)]
        assert [r.asset for r in store.snapshots.snapshots()] == ["ETH"]


def test_record_refuses_bad_input(accounts: Database) -> None:
    good = snap("a", "trading", NOW, "BTC", "1", "2")
    with accounts.session() as store:
        repo = store.snapshots
        with pytest.raises(ValueError, match="naive"):
            repo.record(account="a", source="trading", at=NOW.replace(tzinfo=None), rows=[good])
        with pytest.raises(ValueError, match="in a set of a"):
            repo.record(account="a", source="funding", at=NOW, rows=[good])
        with pytest.raises(ValueError, match="repeated"):
            repo.record(account="a", source="trading", at=NOW, rows=[good, good])
        with pytest.raises(TypeError, match="Decimal"):
            bad = Snapshot(NOW, "a", "trading", "BTC", 1.5, None, None, None)  # type: ignore[arg-type]
            repo.record(account="a", source="trading", at=NOW, rows=[bad])
        with pytest.raises(NotFoundError, match="nobody"):
            repo.record(account="nobody", source="trading", at=NOW, rows=[])
        assert repo.sets() == []


def test_readings_and_carried_values(accounts: Database) -> None:
    t = [NOW + timedelta(minutes=m) for m in range(4)]
    record(accounts, "a", "trading", t[0], BTC="1@100")
    record(accounts, "a", "funding", t[0], BTC="2@100")
    record(accounts, "b", "trading", t[1], BTC="4@100", ETH="1@10")
    record(accounts, "a", "trading", t[2], ETH="3@10")  # BTC sold
    with accounts.session(read_only=True) as store:
        repo = store.snapshots
        totals = repo.readings(accounts=["a", "b"], since=t[1], until=t[3])
        btc = repo.readings(accounts=["a"], until=t[3], asset="BTC")
        carried = repo.carried(accounts=["a", "b"], before=t[2], inclusive=False)
        carried_in = repo.carried(accounts=["a"], before=t[2], asset="ETH")
        assert repo.first_at(accounts=["b"]) == t[1]
        assert repo.first_at(accounts=[]) is None
    assert totals == [
        SetReading("b", "trading", t[1], Decimal(410)),
        SetReading("a", "trading", t[2], Decimal(30)),
    ]
    assert [(r.source, r.at, r.value, r.amount) for r in btc] == [
        ("funding", t[0], Decimal(200), Decimal(2)),
        ("trading", t[0], Decimal(100), Decimal(1)),
        ("trading", t[2], Decimal(0), Decimal(0)),  # a set without BTC: its true zero
    ]
    assert sorted((r.account, r.source, r.at, r.value) for r in carried) == [
        ("a", "funding", t[0], Decimal(200)),
        ("a", "trading", t[0], Decimal(100)),
        ("b", "trading", t[1], Decimal(410)),
    ]
    assert sorted((r.source, r.value, r.amount) for r in carried_in) == [
        ("funding", Decimal(0), Decimal(0)),
        ("trading", Decimal(30), Decimal(3)),
    ]


def test_prices_at_is_the_last_snapshot_price_by_then(accounts: Database) -> None:
    record(accounts, "a", "trading", NOW, BTC="1@100", XYZ="5")
    record(accounts, "b", "trading", NOW + timedelta(hours=1), BTC="1@110", ETH="1@10")
    with accounts.session(read_only=True) as store:
        repo = store.snapshots
        assert repo.prices_at(assets=["BTC", "ETH", "XYZ", "NONE"], at=NOW) == {"BTC": Decimal(100)}
        later = NOW + timedelta(hours=2)
        assert repo.prices_at(assets=["BTC", "ETH"], at=later) == {
            "BTC": Decimal(110),
            "ETH": Decimal(10),
        }
        assert repo.prices_at(assets=["BTC"], at=NOW - timedelta(seconds=1)) == {}


def test_removing_an_account_removes_its_snapshots(accounts: Database) -> None:
    record(accounts, "a", "trading", NOW, BTC="1@100")
    record(accounts, "b", "trading", NOW, BTC="1@100")
    with accounts.session() as store:
        store.remove_account(name="a")
    with accounts.session(read_only=True) as store:
        assert [s.account for s in store.snapshots.sets()] == ["b"]
        assert [r.account for r in store.snapshots.snapshots()] == ["b"]


# -- retention ---------------------------------------------------------------------------


# Worked example at NOW = 2026-11-25 12:30 UTC: every set from 2026-11-18 12:00 on is kept;
# from 2026-08-27 00:00 to 2026-11-18 12:00 the last per (account, source) and hour; before
# that the last per (account, source) and UTC day.
WORKED = [
    # (account, source, time, kept?)
    ("a", "trading", datetime(2026, 11, 25, 12, 0, tzinfo=UTC), True),
    ("a", "trading", datetime(2026, 11, 18, 12, 10, tzinfo=UTC), True),
    ("a", "trading", datetime(2026, 11, 18, 12, 0, tzinfo=UTC), True),  # the boundary: raw
    ("a", "trading", datetime(2026, 11, 18, 11, 59, 59, tzinfo=UTC), True),  # last of 11:00
    ("a", "trading", datetime(2026, 11, 18, 11, 55, tzinfo=UTC), False),
    ("a", "trading", datetime(2026, 11, 18, 11, 5, tzinfo=UTC), False),
    ("a", "funding", datetime(2026, 11, 18, 11, 5, tzinfo=UTC), True),  # other source
    ("b", "trading", datetime(2026, 11, 18, 11, 30, tzinfo=UTC), True),  # other account
    ("a", "trading", datetime(2026, 11, 18, 10, 59, tzinfo=UTC), True),  # last of 10:00
    ("a", "trading", datetime(2026, 8, 27, 0, 30, tzinfo=UTC), True),  # last of 00:00
    ("a", "trading", datetime(2026, 8, 27, 0, 0, tzinfo=UTC), False),  # first hourly bucket
    ("a", "trading", datetime(2026, 8, 26, 23, 59, tzinfo=UTC), True),  # last of 08-26
    ("a", "trading", datetime(2026, 8, 26, 13, 0, tzinfo=UTC), False),
    ("a", "trading", datetime(2026, 8, 26, 0, 0, tzinfo=UTC), False),
    ("a", "trading", datetime(2025, 1, 1, 0, 0, tzinfo=UTC), True),
]


def test_compaction_worked_example(accounts: Database) -> None:
    for account, source, when, _ in WORKED:
        record(accounts, account, source, when, BTC="1@100")
    with accounts.session() as store:
        assert store.snapshots.last_compaction() is None
        report = store.snapshots.compact(now=NOW)
        kept = {(s.account, s.source, s.at) for s in store.snapshots.sets()}
        assert store.snapshots.last_compaction() == NOW
        rows = store.snapshots.snapshots()
    assert kept == {(a, s, t) for a, s, t, keep in WORKED if keep}
    assert (report.sets_removed, report.snapshots_removed) == (5, 5)
    assert report.sets_kept == len(kept) == len(rows)
    assert (report.daily_before, report.hourly_before) == (DAILY_BEFORE, HOURLY_BEFORE)
    with accounts.session() as store:
        again = store.snapshots.compact(now=NOW)  # idempotent
    assert (again.sets_removed, again.sets_kept) == (0, len(kept))


def test_a_later_compaction_merges_whole_buckets(accounts: Database) -> None:
    day = datetime(2026, 11, 10, tzinfo=UTC)
    times = [day + timedelta(hours=h, minutes=m) for h in (1, 2, 23) for m in (0, 40)]
    for when in times:
        record(accounts, "a", "trading", when, BTC="1@100")
    with accounts.session() as store:
        first = store.snapshots.compact(now=NOW)  # hourly: the :40 of each hour survives
        assert [s.at for s in store.snapshots.sets()] == times[1::2]
        later = store.snapshots.compact(now=day + timedelta(days=91))  # daily now
        assert [s.at for s in store.snapshots.sets()] == [times[-1]]
    assert (first.sets_removed, later.sets_removed) == (3, 2)


# -- what a stored value series relies on ------------------------------------------------


def _set_ids(db: Database) -> list[int]:
    with db._get_engine().connect() as connection:
        return list(connection.execute(sql("SELECT id FROM snapshot_sets ORDER BY id")).scalars())


def _build_series(db: Database, accounts: list[str]) -> None:
    """Store main's series as current, counting ``accounts`` (points do not matter here)."""
    with db.session() as store:
        newest = store.values.status(portfolio="main", accounts=accounts).last_set_id
        store.values.replace(
            portfolio="main", accounts=accounts, since=None, points=[],
            last_set_id=newest, exact=True, now=NOW,
        )  # fmt: skip
        assert store.values.status(portfolio="main", accounts=accounts).is_current


def test_set_ids_are_never_handed_out_twice(accounts: Database) -> None:
    """A stored value series takes every set with a larger id than its newest as new: a set
    replaced at the same moment, or written after the newest set was removed, gets an id
    never used before (SQLite hands out the largest id again without AUTOINCREMENT)."""
    record(accounts, "a", "trading", NOW, BTC="1@10")
    (first,) = _set_ids(accounts)
    record(accounts, "a", "trading", NOW, BTC="2@10")  # replaced: deleted, then written
    (second,) = _set_ids(accounts)
    assert second > first
    with accounts.session() as store:
        store.remove_account(name="a")  # the newest set goes with it
    record(accounts, "b", "trading", NOW, BTC="1@10")
    assert _set_ids(accounts)[0] > second


def test_a_replaced_set_is_new_to_the_stored_series(accounts: Database) -> None:
    record(accounts, "a", "trading", NOW - timedelta(hours=1), BTC="1@10")
    record(accounts, "a", "trading", NOW, BTC="1@10")
    _build_series(accounts, ["a"])
    record(accounts, "a", "trading", NOW, USDT="5@1")  # the newest set, replaced
    with accounts.session(read_only=True) as store:
        status = store.values.status(portfolio="main", accounts=["a"])
    assert (status.is_current, status.since) == (False, NOW)


def test_removing_an_account_drops_its_portfolios_stored_series(accounts: Database) -> None:
    """The next account may get the removed one's id (SQLite): with the same ids, the stored
    series would still count the removed account's sets as current."""
    record(accounts, "b", "trading", NOW - timedelta(hours=1), BTC="1@10")
    record(accounts, "a", "trading", NOW, BTC="1@10")  # the newest set is not b's
    _build_series(accounts, ["a", "b"])
    with accounts.session() as store:
        store.remove_account(name="b")  # the newest account
        store.add_account(spec=AccountSpec(exchange="okx", name="b"))
    with accounts.session(read_only=True) as store:
        assert not store.values.status(portfolio="main", accounts=["a", "b"]).is_current


def test_a_compaction_that_removes_sets_drops_the_stored_series(accounts: Database) -> None:
    hour = datetime(2026, 11, 10, 1, tzinfo=UTC)
    record(accounts, "a", "trading", hour, BTC="1@10")
    record(accounts, "a", "trading", hour + timedelta(minutes=40), BTC="2@10")
    record(accounts, "a", "trading", NOW, BTC="3@10")
    _build_series(accounts, ["a"])
    with accounts.session() as store:
        assert store.snapshots.compact(now=NOW).sets_removed == 1
        assert not store.values.status(portfolio="main", accounts=["a"]).is_current
    _build_series(accounts, ["a"])
    with accounts.session() as store:
        assert store.snapshots.compact(now=NOW).sets_removed == 0  # nothing removed: kept
        assert store.values.status(portfolio="main", accounts=["a"]).is_current
