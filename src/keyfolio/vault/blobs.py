"""Where a vault's ciphertext lives when it is not a file: hosted mode keeps it in the shared
database (``keyfolio.services.vault_db``), read and written as one blob, the same bytes a
``vault.bin`` file would hold, under the store's own write lock."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

__all__ = ["BlobStore"]


class BlobStore(Protocol):
    """Where a vault's ciphertext lives when it is not a file (hosted mode: a database row)."""

    where: str
    """How messages name it, e.g. ``the database postgresql://…``."""

    def read(self) -> bytes | None:
        """The ciphertext, or None when there is no vault yet."""

    def write(self, blob: bytes, *, create: bool) -> None:
        """Store ``blob``; with ``create`` raise :class:`FileExistsError` if a vault exists."""

    def lock(self) -> AbstractContextManager[None]:
        """The exclusive write lock, held around read-modify-write."""
