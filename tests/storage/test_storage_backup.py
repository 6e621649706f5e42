"""SQLite copies for backups: consistent while another connection writes, checked on restore."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from keyfolio.domain.accounts import AccountSpec
from keyfolio.errors import SchemaOutdatedError, StorageError, UsageError
from keyfolio.storage import Database
from keyfolio.storage.backup import check_snapshot, restore, snapshot
from keyfolio.storage.db import HEAD_REVISION


def make_db(path: Path, *names: str) -> Database:
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.session() as store:
        for name in names:
            store.add_account(spec=AccountSpec(exchange="okx", name=name))
    return database


def names(database: Database) -> list[str]:
    with database.session(read_only=True) as store:
        return [spec.name for spec in store.list_accounts()]


def test_snapshot_is_consistent_while_a_writer_is_mid_transaction(tmp_path: Path) -> None:
    database = make_db(tmp_path / "keyfolio.db", "a")
    writer = sqlite3.connect(tmp_path / "keyfolio.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO accounts (exchange, name, region, demo, portfolio_id, import_balance,"
            " status, extra, created_at) VALUES ('okx', 'half', 'global', 0, 1, 1, 'new', '{}',"
            " '2025-01-01')"
        )
        copy = snapshot(database)  # does not wait for the writer, and does not see its row
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert copy.revision == HEAD_REVISION and copy.accounts == 1
    target = make_db(tmp_path / "other.db", "x", "y")
    restore(target, copy.data)
    assert names(target) == ["a"]
    assert names(database) == ["a", "half"]
    database.dispose()
    target.dispose()


def test_restore_keeps_wal_mode_and_other_connections_see_the_new_data(tmp_path: Path) -> None:
    source = make_db(tmp_path / "a.db", "restored")
    target = make_db(tmp_path / "b.db", "old")
    reader = Database(f"sqlite:///{tmp_path / 'b.db'}")
    assert names(reader) == ["old"]
    restore(target, snapshot(source).data)
    assert names(reader) == ["restored"]
    with sqlite3.connect(tmp_path / "b.db") as check:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    for database in (source, target, reader):
        database.dispose()


def test_check_refuses_garbage_and_unknown_revisions(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="damaged or is not a keyfolio database"):
        check_snapshot(b"not a database at all" * 100)
    database = make_db(tmp_path / "keyfolio.db")
    with database.session() as store:
        store.add_portfolio(name="kept")
    with sqlite3.connect(tmp_path / "keyfolio.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    data = snapshot_raw(tmp_path / "keyfolio.db")
    with pytest.raises(SchemaOutdatedError, match="9999"):
        check_snapshot(data)
    target = make_db(tmp_path / "target.db", "untouched")
    with pytest.raises(SchemaOutdatedError):
        restore(target, data)
    assert names(target) == ["untouched"]
    database.dispose()
    target.dispose()


def snapshot_raw(path: Path) -> bytes:
    with sqlite3.connect(path) as source, sqlite3.connect(":memory:") as copy:
        source.backup(copy)
        return copy.serialize()


def test_postgresql_and_memory_urls_are_refused() -> None:
    with pytest.raises(UsageError, match="copy a SQLite database") as info:
        snapshot(Database("postgresql+psycopg://u@127.0.0.1:9/x"))
    assert "pg_dump" in info.value.hint
    with pytest.raises(UsageError, match="in-memory"):
        snapshot(Database("sqlite://"))
