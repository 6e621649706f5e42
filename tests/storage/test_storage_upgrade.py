"""Upgrading a database filled at the first migration (0001) loses nothing.

The database is built by Alembic at 0001 and filled with raw SQL against THAT schema (not
through today's tables), then brought to head by the product's own ``Database.migrate``.
Runs on SQLite, and on PostgreSQL too when KEYFOLIO_TEST_PG_URL is set.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, text

from keyfolio.domain.balances import Source
from keyfolio.storage import Database
from keyfolio.storage.db import HEAD_REVISION, alembic_config

TABLES_0001 = ["portfolios", "accounts", "balances", "source_states", "prices", "sync_runs"]
T1 = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
T2 = datetime(2025, 1, 3, 4, 5, 6, tzinfo=UTC)


def _when(dialect: str, moment: datetime) -> str:
    """A timestamp literal as each backend stores ``DateTime(timezone=True)``."""
    if dialect == "sqlite":  # SQLAlchemy's SQLite format: naive UTC text
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment.isoformat()


def _fill_0001(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Insert one of everything through 0001's tables; return every table's rows."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            dialect = connection.dialect.name
            t1, t2 = _when(dialect, T1), _when(dialect, T2)

            def run(sql: str, **params: Any) -> None:
                connection.execute(text(sql), params)

            main_id = connection.execute(
                text("SELECT id FROM portfolios WHERE name = 'main'")
            ).scalar_one()
            run("INSERT INTO portfolios (name, created_at) VALUES ('long-term', :t)", t=t1)
            long_id = connection.execute(
                text("SELECT id FROM portfolios WHERE name = 'long-term'")
            ).scalar_one()
            account = (
                "INSERT INTO accounts (exchange, name, region, demo, api_url, portfolio_id, "
                "import_balance, status, last_sync, last_error_code, last_error, last_hint, "
                "extra, created_at) VALUES (:exchange, :name, :region, :demo, :api_url, :pid, "
                ":import_balance, :status, :last_sync, :code, :error, :hint, :extra, :t)"
            )
            run(
                account, exchange="okx", name="main", region="global", demo=False, api_url=None,
                pid=main_id, import_balance=True, status="ok", last_sync=t2, code=None,
                error=None, hint=None, extra='{"uid": "4471"}', t=t1,
            )  # fmt: skip
            run(
                account, exchange="okx", name="eu", region="eea", demo=True,
                api_url="http://127.0.0.1:8765", pid=long_id, import_balance=False,
                status="failed", last_sync=t1, code="50119", error="key not in this region",
                hint="try --region eea", extra="{}", t=t1,
            )  # fmt: skip
            ids = dict(connection.execute(text("SELECT name, id FROM accounts")).all())
            balance = (
                "INSERT INTO balances (account_id, source, asset, amount, synced_at, stale) "
                "VALUES (:a, :source, :asset, :amount, :t, :stale)"
            )
            run(balance, a=ids["main"], source="trading", asset="BTC",
                amount="0.123456789012345678", t=t2, stale=False)  # fmt: skip
            run(balance, a=ids["main"], source="funding", asset="USDT", amount="1000", t=t2,
                stale=False)  # fmt: skip
            run(balance, a=ids["eu"], source="savings", asset="ETH", amount="2.5", t=t1,
                stale=True)  # fmt: skip
            run(
                "INSERT INTO source_states (account_id, source, status, error_code, error, hint, "
                "updated_at, last_ok_at) VALUES (:a, 'savings', 'failed', '50001', 'down', "
                "'later', :t2, :t1)",
                a=ids["eu"], t1=t1, t2=t2,
            )  # fmt: skip
            run(
                "INSERT INTO prices (asset, usd, open24h_usd, source, as_of) VALUES "
                "('BTC', '60000.5', '58000', 'okx:BTC-USDT', :t)",
                t=t2,
            )
            run(
                "INSERT INTO sync_runs (account_id, started_at, finished_at, status, error_code) "
                "VALUES (:a, :t1, :t2, 'ok', NULL)",
                a=ids["main"], t1=t1, t2=t2,
            )  # fmt: skip
        return _rows(engine)
    finally:
        engine.dispose()


def _rows(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
            for table in TABLES_0001
        }


def test_data_written_at_0001_survives_the_upgrade_to_head(db_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(db_url), "0001")
    before = _fill_0001(db_url)

    database = Database(db_url)
    database.migrate()  # what every keyfolio command does on start
    try:
        engine = create_engine(db_url)
        try:
            with engine.connect() as connection:
                version = connection.execute(text("SELECT version_num FROM alembic_version"))
                assert version.scalar_one() == HEAD_REVISION
            after = _rows(engine)
        finally:
            engine.dispose()
        for table in TABLES_0001:  # every row, every column, unchanged
            width = len(before[table][0]) if before[table] else 0
            kept = [row[:width] for row in after[table]]
            assert sorted(map(repr, kept)) == sorted(map(repr, before[table])), table
            assert all(v is None for row in after[table] for v in row[width:]), table  # added later

        with database.session(read_only=True) as store:
            assert [p.name for p in store.list_portfolios()] == ["long-term", "main"]
            main, eu = store.get_account(name="main"), store.get_account(name="eu")
            assert (main.portfolio, main.extra, main.import_balance) == (
                "main",
                {"uid": "4471"},
                True,
            )
            assert (eu.portfolio, eu.region.value, eu.demo, eu.api_url) == (
                "long-term", "eea", True, "http://127.0.0.1:8765",
            )  # fmt: skip
            amounts = {
                (b.account, b.source, b.asset): (b.amount, b.stale)
                for b in store.balances(include_excluded=True)
            }
            assert amounts == {
                ("main", Source.TRADING, "BTC"): (Decimal("0.123456789012345678"), False),
                ("main", Source.FUNDING, "USDT"): (Decimal("1000"), False),
                ("eu", Source.SAVINGS, "ETH"): (Decimal("2.5"), True),
            }
            (state,) = store.source_states(account="eu")
            assert (state.error_code, state.last_ok_at) == ("50001", T1)
            price = store.prices()["BTC"]
            assert (price.usd, price.open24h_usd, price.as_of) == (
                Decimal("60000.5"), Decimal("58000"), T2,
            )  # fmt: skip
            (run,) = store.sync_runs(account="main")
            assert run.status == "ok"
            # The tables later migrations added are there, empty, and usable.
            assert store.snapshots is not None and store.history is not None
    finally:
        database.dispose()


def test_an_upgrade_from_0005_starts_every_value_series_unbuilt(db_url: str) -> None:
    """0007 adds the stored value series empty: the sets written before it are all there, the
    series reports itself not current (to be built from them), and then stores exactly."""
    from alembic import command

    command.upgrade(alembic_config(db_url), "0005")
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            dialect = connection.dialect.name
            main_id = connection.execute(
                text("SELECT id FROM portfolios WHERE name = 'main'")
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO accounts (exchange, name, region, demo, portfolio_id, "
                    "import_balance, status, extra, created_at) VALUES ('okx', 'main', 'global', "
                    ":no, :pid, :yes, 'ok', '{}', :t)"
                ),
                {"no": False, "yes": True, "pid": main_id, "t": _when(dialect, T1)},
            )
            account_id = connection.execute(text("SELECT id FROM accounts")).scalar_one()
            for moment, total in ((T1, "10.5"), (T2, "12.25")):
                connection.execute(
                    text(
                        "INSERT INTO snapshot_sets (account_id, source, at, total_value, "
                        "unpriced) VALUES (:a, 'trading', :t, :v, :no)"
                    ),
                    {"a": account_id, "t": _when(dialect, moment), "v": total, "no": False},
                )
            newest = connection.execute(text("SELECT max(id) FROM snapshot_sets")).scalar_one()
    finally:
        engine.dispose()

    database = Database(db_url)
    database.migrate()
    try:
        with database.session() as store:
            assert len(store.snapshots.sets(account="main")) == 2
            assert store.values.points(portfolio="main", until=T2) == []
            status = store.values.status(portfolio="main", accounts=["main"])
            assert (status.is_current, status.since, status.last_set_id) == (False, None, newest)
            points = [(T1, Decimal("10.5")), (T2, Decimal("12.25"))]
            store.values.replace(
                portfolio="main", accounts=["main"], since=None, points=points,
                last_set_id=newest, exact=True, now=T2,
            )  # fmt: skip
        with database.session(read_only=True) as store:
            assert [tuple(p) for p in store.values.points(portfolio="main", until=T2)] == points
            status = store.values.status(portfolio="main", accounts=["main"])
            assert status.is_current and status.is_exact
    finally:
        database.dispose()


def _migrate_after(url: str, gate: Any) -> None:
    """One process of a deployment starting: wait for the others, then open the database."""
    from keyfolio.storage import Database

    database = Database(url)
    gate.wait()
    try:
        database.migrate()
    finally:
        database.dispose()


def test_an_upgrade_from_0007_keeps_every_set_and_never_hands_an_id_out_again(
    db_url: str,
) -> None:
    """0008 rebuilds the snapshot tables on SQLite (AUTOINCREMENT): every set and row keeps
    its id and values, a removed account still takes its sets along, a set written later gets
    an id larger than any before, and the series stored before are built again."""
    from alembic import command

    command.upgrade(alembic_config(db_url), "0007")
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            dialect = connection.dialect.name

            def run(sql: str, **params: Any) -> Any:
                return connection.execute(text(sql), params)

            main_id = run("SELECT id FROM portfolios WHERE name = 'main'").scalar_one()
            for name in ("a", "b"):
                run(
                    "INSERT INTO accounts (exchange, name, region, demo, portfolio_id, "
                    "import_balance, status, extra, created_at) VALUES ('okx', :n, 'global', "
                    ":no, :pid, :yes, 'ok', '{}', :t)",
                    n=name, no=False, yes=True, pid=main_id, t=_when(dialect, T1),
                )  # fmt: skip
            ids = dict(run("SELECT name, id FROM accounts").all())
            for account, moment, total in (("a", T1, "10.5"), ("b", T1, "3"), ("a", T2, "7")):
                set_id = run(
                    "INSERT INTO snapshot_sets (account_id, source, at, total_value, unpriced) "
                    "VALUES (:a, 'trading', :t, :v, :no) RETURNING id",
                    a=ids[account], t=_when(dialect, moment), v=total, no=False,
                ).scalar_one()  # fmt: skip
                run(
                    "INSERT INTO snapshots (set_id, asset, at, amount, price, price_source, "
                    "value) VALUES (:s, 'USDT', :t, :v, '1', 'test', :v)",
                    s=set_id, t=_when(dialect, moment), v=total,
                )  # fmt: skip
            newest = run("SELECT max(id) FROM snapshot_sets").scalar_one()
            run(
                "INSERT INTO value_series_states (portfolio_id, accounts, last_set_id, exact, "
                "built_at) VALUES (:p, :k, :n, :yes, :t)",
                p=main_id, k=f"{ids['a']},{ids['b']}", n=newest, yes=True, t=_when(dialect, T2),
            )  # fmt: skip
        with engine.connect() as connection:
            before = {
                table: sorted(map(repr, connection.execute(text(f"SELECT * FROM {table}"))))
                for table in ("snapshot_sets", "snapshots")
            }
    finally:
        engine.dispose()

    database = Database(db_url)
    database.migrate()
    try:
        engine = create_engine(db_url)
        try:
            with engine.connect() as connection:
                for table in ("snapshot_sets", "snapshots"):
                    rows = connection.execute(text(f"SELECT * FROM {table}"))
                    assert sorted(map(repr, rows)) == before[table], table
        finally:
            engine.dispose()
        with database.session() as store:
            status = store.values.status(portfolio="main", accounts=["a", "b"])
            assert status.is_current is (dialect != "sqlite")  # dropped on SQLite only
            store.snapshots.record(account="a", source="trading", at=T2, rows=[])  # replaced
            store.remove_account(name="b")
        with database.session(read_only=True) as store:
            sets = store.snapshots.sets()
            assert [(s.account, s.at, s.total_value) for s in sets] == [
                ("a", T1, Decimal("10.5")),
                ("a", T2, Decimal(0)),
            ]
            assert [(r.account, r.at) for r in store.snapshots.snapshots()] == [("a", T1)]
            status = store.values.status(portfolio="main", accounts=["a"])
            assert status.last_set_id > newest
    finally:
        database.dispose()


def test_processes_starting_together_migrate_a_new_database_once(db_url: str) -> None:
    """A deployment starts its scheduler, workers and servers at once (compose, systemd): each
    opens the empty shared database; one migrates, the others wait for it and find it current."""
    import multiprocessing

    from keyfolio.storage import Database

    spawn = multiprocessing.get_context("spawn")
    gate = spawn.Barrier(4)
    starting = [spawn.Process(target=_migrate_after, args=(db_url, gate)) for _ in range(4)]
    for process in starting:
        process.start()
    try:
        for process in starting:
            process.join(timeout=300)
        assert [process.exitcode for process in starting] == [0, 0, 0, 0]
    finally:
        for process in starting:
            if process.is_alive():
                process.kill()
                process.join()
    database = Database(db_url)
    try:
        with database.session(read_only=True) as store:
            assert [p.name for p in store.list_portfolios()] == ["main"]
    finally:
        database.dispose()
