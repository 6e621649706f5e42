"""Hosted mode's tables and locks (PostgreSQL): finished sync rounds, the vault's ciphertext,
and per-account advisory locks.

``sync_rounds`` holds one row per (account, round) a worker finished: the row is written in the
same transaction as that sync's snapshots, so a job delivered again after it committed finds
its round done and does nothing. ``vault_blobs`` holds the encrypted vault file, byte for byte
what ``vault.bin`` would hold (the database never sees a key or a password).

``account_lock(database, name)`` takes a PostgreSQL session advisory lock on a connection of
its own: held until the block ends, or until the process dies (the server drops the lock with
the connection, so a worker killed with SIGKILL never leaves an account locked).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Integer, LargeBinary, String, delete, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from keyfolio.errors import ConfigError
from keyfolio.storage._errors import translate_errors
from keyfolio.storage._types import UTCDateTime
from keyfolio.storage.tables import Base

if TYPE_CHECKING:
    from keyfolio.storage.db import Database

__all__ = ["HostedRepo", "SyncRoundRow", "VaultBlobRow", "account_lock", "exclusive_db_lock"]

logger = logging.getLogger(__name__)

_NAME_LENGTH = 200
VAULT_BLOB = "vault"


class SyncRoundRow(Base):
    """One finished sync round of one account (hosted mode)."""

    __tablename__ = "sync_rounds"

    account: Mapped[str] = mapped_column(String(_NAME_LENGTH), primary_key=True)
    round: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VaultBlobRow(Base):
    """The encrypted vault (hosted mode): the same bytes as a ``vault.bin`` file."""

    __tablename__ = "vault_blobs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HostedRepo:
    """Rounds and the vault blob, inside the caller's transaction (``store.hosted``)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def round_done(self, *, account: str, round: int) -> bool:
        """Whether ``account`` finished sync round ``round``."""
        found = self._s.get(SyncRoundRow, (account, round))
        return found is not None

    def mark_round(self, *, account: str, round: int) -> None:
        """Record that ``account`` finished ``round`` (commits with the caller's transaction)."""
        self._s.add(SyncRoundRow(account=account, round=round, done_at=datetime.now(UTC)))
        self._s.flush()

    def rounds(self, *, account: str | None = None) -> list[tuple[str, int]]:
        """The finished (account, round) pairs, oldest first."""
        query = select(SyncRoundRow.account, SyncRoundRow.round)
        if account is not None:
            query = query.where(SyncRoundRow.account == account)
        return [(a, r) for a, r in self._s.execute(query.order_by(SyncRoundRow.round))]

    def forget_rounds(self, *, before: int, own_older_than: int) -> None:
        """Drop the markers of the scheduler's rounds before ``before``, and of the rounds of
        their own (negative: jobs sent by `keyfolio sync` or a server) above
        ``own_older_than``, i.e. older: none of them can be delivered any more."""
        scheduled = (SyncRoundRow.round >= 0) & (SyncRoundRow.round < before)
        own = (SyncRoundRow.round < 0) & (SyncRoundRow.round > own_older_than)
        self._s.execute(delete(SyncRoundRow).where(scheduled | own))

    def vault_blob(self) -> bytes | None:
        """The vault's ciphertext, or None when no vault was created yet."""
        row = self._s.get(VaultBlobRow, VAULT_BLOB)
        return None if row is None else bytes(row.blob)

    def put_vault_blob(self, blob: bytes | None, *, create: bool) -> bool:
        """Store the vault's ciphertext (None removes it). With ``create``, only when there is
        none yet: returns False if one exists (nothing written)."""
        row = self._s.get(VaultBlobRow, VAULT_BLOB, with_for_update=True)
        if blob is None:
            if row is not None:
                self._s.delete(row)
            return True
        if row is None:
            self._s.add(
                VaultBlobRow(name=VAULT_BLOB, blob=blob, version=1, updated_at=datetime.now(UTC))
            )
        elif create:
            return False
        else:
            row.blob, row.version, row.updated_at = blob, row.version + 1, datetime.now(UTC)
        self._s.flush()
        return True


def _lock_key(kind: str, name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``kind``/``name``."""
    digest = hashlib.sha256(f"keyfolio:{kind}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _require_server(database: Database, what: str) -> None:
    if database.is_sqlite:
        raise ConfigError(
            f"{what} needs PostgreSQL, and KEYFOLIO_DATABASE_URL names SQLite ({database.url})",
            hint="In hosted mode set KEYFOLIO_DATABASE_URL to the shared PostgreSQL database, "
            "e.g. postgresql+psycopg://keyfolio@db-host/keyfolio (docs/deploy.md).",
        )


@contextmanager
def account_lock(database: Database, name: str, *, wait: bool = False) -> Iterator[bool]:
    """Try to lock account ``name`` across every worker; yields whether this one got it.

    Never waits: a job whose account is being synced elsewhere gets False (a duplicate). With
    ``wait`` it waits until the other sync ends, then holds the lock (yields True).
    """
    _require_server(database, "the per-account sync lock")
    key = _lock_key("account", name)
    engine = database._get_engine()
    take = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    with translate_errors(database.url), engine.connect() as connection:
        found = connection.execute(text(f"SELECT {take}(:k)"), {"k": key}).scalar()
        got = wait or bool(found)
        connection.commit()
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()


@contextmanager
def exclusive_db_lock(database: Database, name: str) -> Iterator[None]:
    """Wait for, then hold, the database-wide lock ``name`` (e.g. the vault's write lock)."""
    _require_server(database, "a shared lock")
    key = _lock_key("lock", name)
    engine = database._get_engine()
    with translate_errors(database.url), engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()
