"""A consistent copy of the SQLite database, and putting one back, with SQLite's backup API.

``snapshot(db)`` copies the whole database in one read transaction: other keyfolio processes
may go on writing (WAL), the copy is the database as of one instant. ``restore(db, data)``
checks a copy (integrity, a schema revision this keyfolio knows) in memory first, then writes it
over the database in one write transaction: a failure half way leaves the old data, and other
processes see either the old database or the new one.

Only SQLite is supported. A PostgreSQL database is refused with a hint (back it up with
``pg_dump``): dumping rows through SQLAlchemy would be a second, weaker ``pg_dump``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from keyfolio.errors import SchemaOutdatedError, StorageError, UsageError
from keyfolio.storage.db import Database, _sqlite_file, alembic_config

__all__ = ["Snapshot", "check_snapshot", "database_file", "restore", "snapshot"]

logger = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 30_000  # a backup may wait longer than a command for a busy writer


@dataclass(frozen=True)
class Snapshot:
    """A whole SQLite database as bytes, with what a backup reports about it."""

    data: bytes
    revision: str
    accounts: int


def database_file(database: Database) -> Path:
    """The SQLite file of ``database``; ``UsageError`` for PostgreSQL or an in-memory one."""
    if not database.is_sqlite:
        raise UsageError(
            f"backup and restore copy a SQLite database; {database.url} is not one",
            hint="Back up PostgreSQL with its own tools (e.g. `pg_dump -Fc`), and keep a copy of "
            "vault.bin from the data directory (it is encrypted). Or unset "
            "KEYFOLIO_DATABASE_URL to use the SQLite database in the data directory.",
        )
    path = _sqlite_file(make_url(database.url))
    if path is None:
        raise UsageError(
            f"{database.url} is an in-memory database; there is no file to back up or restore",
            hint="Point KEYFOLIO_DATABASE_URL at a file, or unset it.",
        )
    return path


@contextmanager
def _sqlite(target: str | Path, what: str) -> Iterator[sqlite3.Connection]:
    try:
        with closing(sqlite3.connect(target, timeout=_BUSY_TIMEOUT_MS / 1000)) as connection:
            yield connection
    except sqlite3.Error as exc:
        raise StorageError(
            f"could not {what}: {exc}",
            hint="Check the data directory is readable and writable, and that no other program "
            "holds the database locked for long.",
        ) from exc


def snapshot(database: Database) -> Snapshot:
    """The whole database as of one instant, while other processes may keep writing."""
    path = database_file(database)
    if not path.is_file():
        raise StorageError(
            f"there is no database at {path} yet",
            hint="Link an account or run `keyfolio show` first; there is nothing to back up.",
        )
    with _sqlite(path, f"read the database {path}") as source, _sqlite(":memory:", "copy") as copy:
        source.backup(copy)  # one step: one read transaction, a consistent copy
        data = _without_wal_flag(copy.serialize())
    return check_snapshot(data)


def _without_wal_flag(data: bytes) -> bytes:
    """The image with header bytes 18-19 (file format versions) set to 1, "rollback journal".

    A copy of a WAL database keeps its WAL flag, and SQLite cannot open such an image in memory
    (WAL needs a shared-memory file). The flag says nothing about the content, and a target in
    WAL mode stays in WAL mode when a copy is written into it.
    """
    if len(data) >= 20 and data[18:20] == b"\x02\x02":
        return data[:18] + b"\x01\x01" + data[20:]
    return data


def check_snapshot(data: bytes) -> Snapshot:
    """Open a copy in memory and check it: SQLite's integrity check, a known schema revision.

    ``StorageError`` if it is not a sound keyfolio database; ``SchemaOutdatedError`` if it was
    written by a newer keyfolio.
    """
    damaged = StorageError(
        "the database in the backup is damaged or is not a keyfolio database",
        hint="Use another backup file.",
    )
    with _sqlite(":memory:", "open the backup's database") as copy:
        try:
            copy.deserialize(_without_wal_flag(data))
            status = copy.execute("PRAGMA integrity_check").fetchone()
            versions = [row[0] for row in copy.execute("SELECT version_num FROM alembic_version")]
            accounts = copy.execute("SELECT count(*) FROM accounts").fetchone()[0]
        except sqlite3.Error:
            raise damaged from None
    if status != ("ok",) or len(versions) != 1:
        raise damaged
    revision = str(versions[0])
    if revision not in _known_revisions():
        raise SchemaOutdatedError(
            f"the backup's database has schema revision {revision}, which this keyfolio does "
            "not know",
            hint="It was written by a newer keyfolio: upgrade keyfolio, then restore it.",
        )
    return Snapshot(data=data, revision=revision, accounts=int(accounts))


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}


def restore(database: Database, data: bytes) -> Snapshot:
    """Replace the whole database with ``data`` in one transaction, then migrate it to head.

    The copy is checked first (:func:`check_snapshot`); nothing is written unless it passes.
    Other processes should be stopped: one that holds the database open keeps working on it
    and sees the new content on its next transaction.
    """
    checked = check_snapshot(data)
    path = database_file(database)
    if not path.parent.is_dir():
        raise StorageError(
            f"the directory {path.parent} of the database does not exist",
            hint="Create it, or point --home (KEYFOLIO_HOME) at an existing directory.",
        )
    created = not path.exists()
    database.dispose()
    try:
        with (
            _sqlite(":memory:", "open the backup's database") as source,
            _sqlite(path, f"write the database {path}") as target,
        ):
            source.deserialize(_without_wal_flag(data))
            source.backup(target)  # one write transaction on the target: all or nothing
    except BaseException:  # remove a file this call created, then re-raise
        if created:
            path.unlink(missing_ok=True)
        raise
    logger.info("restored database %s (schema %s)", path, checked.revision)
    database.migrate()
    return checked
