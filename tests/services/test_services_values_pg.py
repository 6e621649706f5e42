"""Two writers of one portfolio at once, on PostgreSQL (hosted mode's workers do that).

A stored value series takes every set with a larger id than its newest as new. On PostgreSQL
ids are handed out when a set is inserted and become visible when its transaction commits, so
without a lock a writer that inserted first but commits second would find the other's larger
id already counted by the series, take its own set for one the series has, and leave it out
for good. Skipped unless KEYFOLIO_TEST_PG_URL names a server (scripts/pg_test_server.sh).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hosted_support import PG_URL, fresh_pg_database
from sqlalchemy import event, make_url, text

from keyfolio.analytics.windows import WINDOWS
from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import Price
from keyfolio.services.context import App
from keyfolio.services.snapshots import record_snapshots
from keyfolio.services.values import computed_series, value_series

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="set KEYFOLIO_TEST_PG_URL to run the PostgreSQL value series tests"
)

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
WAIT_SECONDS = 60  # a bound on waiting for a condition, never a timing


def usdt(amount: str) -> list[SourceResult]:
    return [SourceResult(Source.TRADING, SourceStatus.OK, {"USDT": Decimal(amount)})]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    for url in fresh_pg_database():
        app = App(settings=Settings(home=tmp_path, database_url=url), password=lambda **_: "")
        with app.db().session() as store:
            store.upsert_prices(prices=[Price("USDT", Decimal(1), "test", NOW)])
            for name in ("a", "b"):
                store.add_account(spec=AccountSpec(exchange="okx", name=name))
        for name in ("a", "b"):
            record_snapshots(app, account=name, results=usdt("1"), at=NOW - timedelta(hours=2))
        yield app
        app.close()


def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


def test_a_writer_that_commits_second_keeps_its_set_in_the_series(app: App) -> None:
    engine = app.db()._get_engine()
    database = make_url(str(engine.url)).database
    first_inserted, go_on = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_after_the_set(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == "first" and "INSERT INTO snapshot_sets" in statement:
            first_inserted.set()
            assert go_on.wait(WAIT_SECONDS)

    def write(account: str, at: datetime) -> None:
        try:
            record_snapshots(app, account=account, results=usdt("5"), at=at)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    def second_waits_or_is_done() -> bool:
        if not second.is_alive():
            return True
        with engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                    "AND wait_event_type = 'Lock'"
                ),
                {"db": database},
            ).scalar_one()
        return bool(waiting)

    event.listen(engine, "after_cursor_execute", hold_after_the_set)
    try:
        # The first writer inserts its set (the smaller id) and holds its transaction open.
        first = threading.Thread(target=write, args=("a", NOW - timedelta(hours=1)), name="first")
        first.start()
        _until(first_inserted.is_set, "the first writer's set")
        # The second writes a later set of the same portfolio: it waits for the first (or,
        # without the lock, commits before it).
        second = threading.Thread(target=write, args=("b", NOW), name="second")
        second.start()
        _until(second_waits_or_is_done, "the second writer to wait or finish")
        go_on.set()
        first.join(WAIT_SECONDS)
        second.join(WAIT_SECONDS)
    finally:
        go_on.set()
        event.remove(engine, "after_cursor_execute", hold_after_the_set)
    assert errors == []
    for window in WINDOWS:
        stored = value_series(app, window=window, now=NOW)
        assert stored == computed_series(app, window=window, now=NOW), window
    assert stored.last is not None and stored.last.value == Decimal(10)  # 5 + 5
