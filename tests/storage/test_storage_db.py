"""Database: migrations, SQLite pragmas, transactions and error translation."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import keyfolio.storage
from keyfolio.domain.accounts import AccountSpec
from keyfolio.errors import (
    ConfigError,
    ConflictError,
    KeyfolioError,
    SchemaOutdatedError,
    StorageError,
)
from keyfolio.storage import DEFAULT_PORTFOLIO, Database, Store
from keyfolio.storage.db import HEAD_REVISION, alembic_config
from keyfolio.storage.tables import all_tables

TABLES = {"portfolios", "accounts", "balances", "source_states", "prices", "sync_runs"}


def test_package_exports_are_sorted_and_present() -> None:
    assert keyfolio.storage.__all__ == sorted(keyfolio.storage.__all__)
    for name in keyfolio.storage.__all__:
        assert hasattr(keyfolio.storage, name)


def test_import_does_not_load_alembic() -> None:
    code = "import sys, keyfolio.storage; print('alembic' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_migrate_fresh_database_creates_schema_and_main(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        engine = db._get_engine()
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == HEAD_REVISION
        with db.session() as store:
            assert [p.name for p in store.list_portfolios()] == [DEFAULT_PORTFOLIO]
    finally:
        db.dispose()


def test_migrate_is_idempotent_across_instances(db_url: str) -> None:
    for _ in range(2):
        db = Database(db_url)
        db.migrate()
        db.migrate()
        with db.session() as store:
            assert [p.name for p in store.list_portfolios()] == [DEFAULT_PORTFOLIO]
        db.dispose()


def test_schema_of_migrations_matches_tables(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with db._get_engine().connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, all_tables()) == []


def test_downgrade_and_upgrade_again(db_url: str) -> None:
    from alembic import command

    db = Database(db_url)
    db.migrate()
    config = alembic_config()
    with db._get_engine().begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not TABLES & set(inspect(db._get_engine()).get_table_names())
    db.dispose()
    db.migrate()
    with db.session() as store:
        assert store.get_portfolio(name=DEFAULT_PORTFOLIO).name == DEFAULT_PORTFOLIO
    db.dispose()


def test_main_portfolio_is_recreated_on_start(db_url: str) -> None:
    db = Database(db_url)
    db.migrate()
    with db._get_engine().begin() as connection:
        connection.execute(text("DELETE FROM portfolios"))
    db.dispose()
    db.migrate()
    with db.session() as store:
        assert [p.name for p in store.list_portfolios()] == [DEFAULT_PORTFOLIO]
    db.dispose()


def test_unknown_schema_revision_is_refused(db: Database) -> None:
    with db._get_engine().begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    with pytest.raises(SchemaOutdatedError) as caught:
        db.migrate()
    assert "9999" in caught.value.message
    assert "upgrade keyfolio" in caught.value.hint


def test_session_commits_on_exit(db: Database) -> None:
    with db.session() as store:
        store.add_portfolio(name="long-term")
    with db.session() as store:
        assert store.get_portfolio(name="long-term").name == "long-term"


def test_session_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"), db.session() as store:
        store.add_portfolio(name="long-term")
        raise RuntimeError("boom")
    with db.session() as store:
        assert [p.name for p in store.list_portfolios()] == [DEFAULT_PORTFOLIO]


def test_conflict_inside_session_leaves_it_usable(db: Database) -> None:
    with db.session() as store:
        store.add_portfolio(name="a")
        with pytest.raises(ConflictError):
            store.add_portfolio(name="a")
        store.add_portfolio(name="b")
    with db.session() as store:
        assert [p.name for p in store.list_portfolios()] == ["a", "b", DEFAULT_PORTFOLIO]


def test_store_refuses_use_after_session(db: Database) -> None:
    with db.session() as store:
        kept: Store = store
    with pytest.raises(StorageError, match="ended"):
        kept.list_portfolios()


def test_unmigrated_database_raises_storage_error(db_url: str) -> None:
    db = Database(db_url)
    with pytest.raises(StorageError) as caught, db.session() as store:
        store.list_portfolios()
    assert "no keyfolio tables" in caught.value.message
    assert not isinstance(caught.value.__cause__, KeyfolioError)
    db.dispose()


def test_repr_and_url_hide_password() -> None:
    db = Database("postgresql+psycopg://alice:s3cr3t-pw@localhost/keyfolio")
    assert "s3cr3t-pw" not in repr(db)
    assert "s3cr3t-pw" not in db.url
    assert not db.is_sqlite


# -- SQLite specifics -------------------------------------------------------------------


def test_sqlite_wal_foreign_keys_and_busy_timeout(sqlite_path: Path) -> None:
    db = Database(f"sqlite:///{sqlite_path}", busy_timeout_ms=1234)
    db.migrate()
    with db._get_engine().connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    db.dispose()
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    with sqlite3.connect(sqlite_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_sqlite_missing_directory(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'nope' / 'keyfolio.db'}")
    with pytest.raises(StorageError) as caught:
        db.migrate()
    assert str(tmp_path / "nope") in caught.value.message
    assert "--home" in caught.value.hint
    assert not (tmp_path / "nope").exists()


def test_sqlite_unopenable_file(tmp_path: Path) -> None:
    (tmp_path / "keyfolio.db").mkdir()  # a directory where the file should be
    db = Database(f"sqlite:///{tmp_path / 'keyfolio.db'}")
    with pytest.raises(StorageError) as caught:
        db.migrate()
    assert "writable" in caught.value.hint
    db.dispose()


def test_sqlite_locked_database(sqlite_path: Path) -> None:
    Database(f"sqlite:///{sqlite_path}").migrate()
    holder = sqlite3.connect(sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        db = Database(f"sqlite:///{sqlite_path}", busy_timeout_ms=0)
        with pytest.raises(StorageError) as caught, db.session() as store:
            store.add_portfolio(name="x")
        assert "locked" in caught.value.message
        assert "Another keyfolio process" in caught.value.hint
        db.dispose()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_sqlite_in_memory() -> None:
    db = Database("sqlite://")
    db.migrate()
    with db.session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
    with db.session() as store:
        assert store.get_account(name="a").portfolio == DEFAULT_PORTFOLIO
    db.dispose()


def test_sqlite_concurrent_start_and_writes(sqlite_path: Path) -> None:
    """Two processes' worth of handles migrate and write at once: nobody fails as locked."""
    url = f"sqlite:///{sqlite_path}"
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def worker(index: int) -> None:
        db = Database(url)
        try:
            barrier.wait(timeout=10)
            db.migrate()
            for round_ in range(10):
                with db.session() as store:
                    store.add_portfolio(name=f"p{index}-{round_}")
                    store.list_portfolios()
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    db = Database(url)
    with db.session() as store:
        assert len(store.list_portfolios()) == 31
    db.dispose()


# -- URL problems -----------------------------------------------------------------------


def test_invalid_url_is_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        Database("not a url")
    assert "KEYFOLIO_DATABASE_URL" in caught.value.hint


def test_unknown_database_type_is_config_error() -> None:
    db = Database("nosuchdb://localhost/x")
    with pytest.raises(ConfigError):
        db.migrate()


def test_missing_driver_names_the_install() -> None:
    db = Database("mysql+mysqldb://user:pw@localhost/keyfolio")
    with pytest.raises(StorageError) as caught:
        db.migrate()
    assert "pip install" in caught.value.hint
    assert "pw@" not in caught.value.message


def test_head_revision_constant_matches_alembic_head() -> None:
    from alembic.script import ScriptDirectory

    from keyfolio.storage.db import HEAD_REVISION, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD_REVISION]


def test_migrate_on_current_database_does_not_import_alembic(tmp_path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'k.db'}"
    code = (
        "import sys\n"
        "from keyfolio.storage import Database\n"
        f"Database({url!r}).migrate()\n"
        "print('alembic' in sys.modules)\n"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert first.stdout.strip() == "True"
    assert again.stdout.strip() == "False"


def test_read_only_session_does_not_wait_for_a_writer(tmp_path) -> None:
    from keyfolio.storage import Database

    url = f"sqlite:///{tmp_path / 'k.db'}"
    writer, reader = Database(url), Database(url, busy_timeout_ms=50)
    writer.migrate()
    reader.migrate()
    with writer.session() as store:  # holds the write lock (BEGIN IMMEDIATE) ...
        store.add_portfolio(name="held")
        with reader.session(read_only=True) as view:  # ... and a reader still gets through
            assert [p.name for p in view.list_portfolios()] == ["main"]
    writer.dispose()
    reader.dispose()
