"""Hosted mode's vault: the same encrypted blob as ``vault.bin``, kept in the shared database.

Workers on other machines read it there and open it with their own copy of the password
(``KEYFOLIO_PASSWORD`` or ``KEYFOLIO_PASSWORD_FILE``). The database only ever holds the
ciphertext (Argon2id + AES-256-GCM, :mod:`keyfolio.vault.crypto`); writes run under a
PostgreSQL advisory lock, as the file vault's run under its lock file.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keyfolio.storage import Database

__all__ = ["DatabaseVaultBlobs"]


class DatabaseVaultBlobs:
    """A :class:`keyfolio.vault.store.BlobStore` on the ``vault_blobs`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self.where = f"the database {database.url}"

    def read(self) -> bytes | None:
        with self._db.session(read_only=True) as store:
            return store.hosted.vault_blob()

    def write(self, blob: bytes, *, create: bool) -> None:
        with self._db.session() as store:
            if not store.hosted.put_vault_blob(blob, create=create):
                raise FileExistsError(self.where)

    def lock(self) -> AbstractContextManager[None]:
        from keyfolio.storage.hosted import exclusive_db_lock

        return exclusive_db_lock(self._db, "vault")
