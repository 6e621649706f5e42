"""The database handle: engine, SQLite pragmas, Alembic migrations and transactions.

``Database(url)`` is cheap; the engine is created on first use. ``migrate()`` applies the
Alembic revisions in ``migrations/versions`` (alembic is imported only there, so importing
``keyfolio.storage`` stays light). ``session()`` is one transaction handed out as a ``Store``.

On SQLite every connection gets ``journal_mode=WAL``, ``foreign_keys=ON`` and a
``busy_timeout`` (``KEYFOLIO_DB_LOCK_TIMEOUT_SECONDS``, passed in as ``busy_timeout_ms``), and
every write transaction starts with ``BEGIN IMMEDIATE``: a writer waits for the other writer
instead of failing halfway, and after the timeout fails whole with ``DatabaseLockedError``.
Read-only transactions (and the schema check) start a plain ``BEGIN`` and never wait.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from keyfolio.errors import ConfigError, SchemaOutdatedError, StorageError
from keyfolio.storage._errors import translate_errors
from keyfolio.storage.repositories import DEFAULT_PORTFOLIO, Store
from keyfolio.storage.tables import PortfolioRow

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD_REVISION", "MIGRATIONS_DIR", "Database", "alembic_config"]

READ_ONLY = "keyfolio_read_only"
HEAD_REVISION = "0008"
_MIGRATE_LOCK = 1160993605197294569
"""The PostgreSQL advisory lock every migration holds (sha256 of keyfolio:migrate)."""
"""The newest migration's revision id; a test checks it against Alembic's script head."""

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_URL_HINT = (
    "Set KEYFOLIO_DATABASE_URL to a SQLAlchemy URL such as sqlite:////path/keyfolio.db "
    "or postgresql+psycopg://user@host/keyfolio, or unset it to use the data directory."
)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` built in code: no alembic.ini is needed.

    Developers can use it for new revisions, e.g.
    ``command.revision(alembic_config(url), "add x", autogenerate=True)``.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory and ``file:`` URIs."""
    if _is_memory(url) or (url.database or "").startswith("file:"):
        return None
    return Path(url.database or "")


def _enable_wal(cursor: Any, timeout_ms: int) -> None:
    """Switch to WAL. The switch can report "locked" without waiting for the busy timeout
    while another connection creates the same fresh file, so retry it for that long."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            row = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)
            continue
        if row is not None and str(row[0]).lower() not in ("wal", "memory"):
            logger.warning("SQLite refused WAL mode (journal_mode=%s)", row[0])
        return


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    timeout = int(busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Take transaction control away from the sqlite3 module: SQLAlchemy emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {timeout}")
            cursor.execute("PRAGMA foreign_keys = ON")
            _enable_wal(cursor, timeout)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # WAL: readers never wait for a writer
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One keyfolio database, reached by a SQLAlchemy URL (SQLite file or PostgreSQL).

    The engine is created lazily on first use. For SQLite the file's directory must exist.
    ``busy_timeout_ms`` is how long SQLite waits for another writer before giving up.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        try:
            self._url = make_url(url)
        except sa_exc.ArgumentError as exc:
            raise ConfigError("The database URL is not a valid URL", hint=_URL_HINT) from exc
        self._busy_timeout_ms = busy_timeout_ms
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._migrated = False

    @property
    def url(self) -> str:
        """The URL with any password masked: safe for messages and logs."""
        return self._url.render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        """True for SQLite databases."""
        return self._url.get_backend_name() == "sqlite"

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def _get_engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Engine:
        if not self.is_sqlite:
            return self._create_server_engine()
        path = _sqlite_file(self._url)
        if path is not None and not path.parent.is_dir():
            raise StorageError(
                f"The directory {path.parent} of the database does not exist",
                hint="Create it, or point --home (KEYFOLIO_HOME) at an existing directory.",
            )
        if path is None and _is_memory(self._url):
            engine = create_engine(
                self._url,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
        else:
            engine = create_engine(self._url)
        _install_sqlite_hooks(engine, self._busy_timeout_ms)
        return engine

    def _create_server_engine(self) -> Engine:
        try:
            return create_engine(self._url, pool_pre_ping=True)
        except sa_exc.NoSuchModuleError as exc:
            raise ConfigError(
                f"keyfolio does not know the database type of {self.url}", hint=_URL_HINT
            ) from exc
        except ImportError as exc:
            raise StorageError(
                f"The database driver for {self.url} is not installed ({exc.name or exc})",
                hint="Install the driver, e.g. `pip install 'psycopg[binary]'` for PostgreSQL.",
            ) from exc

    def migrate(self) -> None:
        """Bring the schema to the newest revision (alembic upgrade head). Idempotent.

        Fast when current: it compares the stored revision with the newest one and only runs
        Alembic when they differ. Raises ``SchemaOutdatedError`` for a database written by a
        newer keyfolio. Also makes sure the default portfolio ``main`` exists.
        """
        if self._migrated:
            return
        if self._is_current():
            self._migrated = True
            return
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = alembic_config()
        try:
            script = ScriptDirectory.from_config(config)
            heads = set(script.get_heads())
            known = {revision.revision for revision in script.walk_revisions()}
        except CommandError as exc:
            raise StorageError(
                f"keyfolio's database migrations are missing or broken ({exc})",
                hint="Reinstall keyfolio; the package is incomplete.",
            ) from exc
        engine = self._get_engine()
        with translate_errors(self.url), engine.begin() as connection:
            if self._url.get_backend_name() == "postgresql":
                # Processes started together (hosted mode) migrate one after the other: the
                # others wait here, then find the schema current. Released at commit.
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
            current = set(MigrationContext.configure(connection).get_current_heads())
            unknown = current - known
            if unknown:
                raise SchemaOutdatedError(
                    f"The database at {self.url} has schema revision "
                    f"{', '.join(sorted(unknown))}, which this keyfolio does not know",
                    hint="It was written by a newer keyfolio: upgrade keyfolio, "
                    "or restore the database from a backup.",
                )
            if current != heads:
                logger.info("migrating database %s from %s", self.url, sorted(current) or "empty")
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            _ensure_default_portfolio(connection)
        self._migrated = True

    def _is_current(self) -> bool:
        """True when the stored revision is HEAD_REVISION and ``main`` exists.

        Plain SQL, so the common case (every command after the first) never imports Alembic.
        A read-only transaction: it never waits for another process that is writing.
        """
        engine = self._get_engine().execution_options(**{READ_ONLY: True})
        try:
            with engine.connect() as connection:
                versions = {
                    row[0]
                    for row in connection.execute(text("SELECT version_num FROM alembic_version"))
                }
                if versions != {HEAD_REVISION}:
                    return False
                main = connection.execute(
                    text("SELECT 1 FROM portfolios WHERE name = :name"),
                    {"name": DEFAULT_PORTFOLIO},
                ).first()
                return main is not None
        except sa_exc.SQLAlchemyError:
            return False

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Store]:
        """One transaction: commits when the block ends, rolls back if it raises.

        ``with db.session() as store: store.add_account(spec=...)``. A ``read_only`` session
        on SQLite starts a plain (deferred) transaction, so it never waits for a writer.
        """
        engine = self._get_engine()
        bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
        store: Store | None = None
        try:
            with translate_errors(self.url), Session(bind) as orm, orm.begin():
                store = Store(orm, where=self.url)
                yield store
        finally:
            if store is not None:
                store.close()

    def dispose(self) -> None:
        """Close every pooled connection. The Database can be used again afterwards."""
        with self._lock:
            engine, self._engine = self._engine, None
        self._migrated = False
        if engine is not None:
            engine.dispose()


def _ensure_default_portfolio(connection: Connection) -> None:
    found = connection.execute(
        select(PortfolioRow.id).where(PortfolioRow.name == DEFAULT_PORTFOLIO)
    ).first()
    if found is None:
        logger.info("creating the default portfolio %r", DEFAULT_PORTFOLIO)
        connection.execute(
            insert(PortfolioRow).values(name=DEFAULT_PORTFOLIO, created_at=datetime.now(UTC))
        )
