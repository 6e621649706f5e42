"""Error translation and the shape of the Store API."""

from __future__ import annotations

import inspect
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import exc as sa_exc

from keyfolio.errors import (
    ConflictError,
    DatabaseLockedError,
    DataDirError,
    DiskFullError,
    StorageError,
)
from keyfolio.storage import Database, Store
from keyfolio.storage._errors import translate_errors


class _DriverError(Exception):
    pass


def _sa(kind: type[sa_exc.DBAPIError], message: str) -> sa_exc.DBAPIError:
    return kind("INSERT INTO x VALUES (?)", {"secret": "param"}, _DriverError(message))


def test_integrity_error_becomes_conflict() -> None:
    with pytest.raises(ConflictError) as caught, translate_errors("db"):
        raise _sa(sa_exc.IntegrityError, "UNIQUE constraint failed: accounts.name")
    assert "accounts.name" in caught.value.message
    assert isinstance(caught.value.__cause__, sa_exc.IntegrityError)


@pytest.mark.parametrize(
    ("message", "expected_hint"),
    [
        ("database is locked", "Another keyfolio process"),
        ("attempt to write a readonly database", "writable"),
        ("unable to open database file", "writable"),
        ("disk I/O error", "writable"),
    ],
)
def test_operational_errors_become_storage_errors(message: str, expected_hint: str) -> None:
    with pytest.raises(StorageError) as caught, translate_errors("sqlite:///x.db"):
        raise _sa(sa_exc.OperationalError, message)
    assert message in caught.value.message
    assert "sqlite:///x.db" in caught.value.message
    assert expected_hint in caught.value.hint
    assert "param" not in caught.value.message  # no statement parameters in messages


def test_other_sqlalchemy_errors_become_storage_errors() -> None:
    with pytest.raises(StorageError, match="failed"), translate_errors("db"):
        raise sa_exc.InvalidRequestError("something odd")


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), translate_errors("db"):
        raise KeyError("x")


def test_every_store_method_takes_keyword_only_arguments() -> None:
    public = [
        (name, member)
        for name, member in inspect.getmembers(Store, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert len(public) >= 18
    for name, method in public:
        parameters = list(inspect.signature(method).parameters.values())[1:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), name
        assert method.__doc__, name


def test_a_full_database_is_disk_full(tmp_path: Path) -> None:
    """SQLITE_FULL, the code SQLite gives for ENOSPC, made for real with max_page_count."""
    engine = create_engine(f"sqlite:///{tmp_path / 'full.db'}")
    try:
        with pytest.raises(DiskFullError) as caught, translate_errors("sqlite:///full.db"):
            with engine.begin() as connection:
                connection.exec_driver_sql("CREATE TABLE t (x BLOB)")
                connection.exec_driver_sql("PRAGMA max_page_count = 3")
                connection.exec_driver_sql("INSERT INTO t VALUES (zeroblob(100000))")
    finally:
        engine.dispose()
    assert "no space left" in caught.value.message and "full" in caught.value.message
    assert "Free some space" in caught.value.hint and caught.value.exit_code == 2


def test_a_failed_write_is_a_disk_problem() -> None:
    class _Sqlite(Exception):
        sqlite_errorname = "SQLITE_IOERR_WRITE"

    with pytest.raises(DiskFullError) as caught, translate_errors("sqlite:///x.db"):
        raise sa_exc.OperationalError("INSERT", {}, _Sqlite("disk I/O error"))
    assert "could not write the database" in caught.value.message
    assert "ulimit -f" in caught.value.hint


def test_locked_database_waits_its_timeout_and_readers_do_not_wait(tmp_path: Path) -> None:
    path = tmp_path / "keyfolio.db"
    Database(f"sqlite:///{path}").migrate()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE portfolios SET name = name")
    db = Database(f"sqlite:///{path}", busy_timeout_ms=50)
    try:
        db.migrate()  # checking the schema only reads
        with db.session(read_only=True) as store:
            assert [p.name for p in store.list_portfolios()] == ["main"]
        with pytest.raises(DatabaseLockedError) as caught, db.session() as store:
            store.add_portfolio(name="x")
        assert caught.value.exit_code == 2
        assert "KEYFOLIO_DB_LOCK_TIMEOUT_SECONDS" in caught.value.hint
    finally:
        db.dispose()
        holder.execute("ROLLBACK")
        holder.close()


def test_read_only_database_file_is_a_data_dir_error(tmp_path: Path) -> None:
    path = tmp_path / "keyfolio.db"
    Database(f"sqlite:///{path}").migrate()
    db = Database(f"sqlite:///file:{path}?mode=ro&uri=true", busy_timeout_ms=50)
    try:
        with pytest.raises(DataDirError) as caught, db.session() as store:
            store.add_portfolio(name="x")
    finally:
        db.dispose()
    assert "cannot write the database" in caught.value.message
    assert "writable" in caught.value.hint
