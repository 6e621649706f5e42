"""The services context: settings plus lazily opened database and vault."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from keyfolio.config import Settings
from keyfolio.domain.accounts import Credentials
from keyfolio.errors import VaultError
from keyfolio.logging import register_secret
from keyfolio.services.events import EventBus

if TYPE_CHECKING:
    from keyfolio.exchanges.pool import RequestGate
    from keyfolio.storage import Database
    from keyfolio.vault import Vault
    from keyfolio.vault.store import BlobStore

__all__ = ["App", "PasswordProvider", "protect"]


def protect(credentials: Credentials) -> None:
    """Register every credential value with the log redaction filter."""
    for value in credentials.secrets():
        register_secret(value)


PasswordProvider = Callable[..., str]
"""``password(confirm=bool) -> str``; ``confirm`` asks twice, for a new vault."""


@dataclass
class App:
    """What every use case needs. Built once per CLI invocation or API process."""

    settings: Settings
    password: PasswordProvider
    bus: EventBus = field(default_factory=EventBus)
    _db: Database | None = field(default=None, repr=False)
    _vault: Vault | None = field(default=None, repr=False)
    _new_password: str | None = field(default=None, repr=False)
    rate_budget: RequestGate | None = field(default=None, repr=False)
    """Hosted workers' shared rate budgets, awaited before every exchange request."""

    def db(self) -> Database:
        """The database, migrated to the current schema on first use."""
        if self._db is None:
            from keyfolio.storage import Database

            self.settings.ensure_home()
            timeout_ms = round(self.settings.db_lock_timeout_seconds * 1000)
            database = Database(self.settings.db_url, busy_timeout_ms=timeout_ms)
            database.migrate()
            self._db = database
        return self._db

    def vault_location(self) -> Path | BlobStore:
        """Where the vault's ciphertext lives: ``vault.bin`` in the data directory, or in
        hosted mode (``KEYFOLIO_BROKER_URL``) the shared database, for every machine."""
        if self.settings.is_hosted:
            from keyfolio.services.vault_db import DatabaseVaultBlobs

            return DatabaseVaultBlobs(self.db())
        return self.settings.vault_path

    def check_formats(self) -> None:
        """Refuse a data directory written by a newer keyfolio before anything is changed.

        Reads the vault's header only (no password needed): a newer format version raises
        :class:`~keyfolio.errors.VaultVersionError`. The database's schema revision is
        checked when it is opened (:meth:`db`). A missing or unreadable vault is left to the
        commands that need it, which report it with their own hint.
        """
        from keyfolio.vault.crypto import HEADER_SIZE, check_format_version

        if self.settings.is_hosted:  # the blob is checked when the vault is opened
            return
        try:
            with self.settings.vault_path.open("rb") as handle:
                head = handle.read(HEADER_SIZE)
        except OSError:
            return
        check_format_version(head, where=str(self.settings.vault_path))

    @property
    def is_open(self) -> bool:
        """Whether the vault is open in memory (or a new vault's password is held)."""
        return self._vault is not None or self._new_password is not None

    def has_vault(self) -> bool:
        from keyfolio.vault import Vault

        return self._vault is not None or Vault.exists(self.vault_location())

    def unlock(self) -> None:
        """Ask for the password now (before any network call), without creating a file.

        For an existing vault this opens it; for a new one it only asks for the password
        (twice); the file is created by :meth:`vault` when something is stored.
        """
        if self._vault is not None or self._new_password is not None:
            return
        from keyfolio.vault import Vault

        path = self.vault_location()
        if Vault.exists(path):
            self._vault = Vault.open(path, self.password(confirm=False))
        else:
            self._new_password = self.password(confirm=True)

    async def unlock_meanwhile(self, work: Callable[[], object]) -> None:
        """:meth:`unlock` with the key derivation on a worker thread while ``work`` runs on
        this one.

        Argon2id (64 MiB) is ~0.1 s of C that releases the GIL; a sync overlaps it with its
        imports (ccxt, aiohttp: most of a one-account `keyfolio sync`) instead of paying one
        after the other. The password is asked on this thread, first, as :meth:`unlock` does.
        A failed unlock is raised after ``work``.
        """
        if self._vault is not None or self._new_password is not None:
            work()
            return
        from keyfolio.vault import Vault

        path = self.vault_location()
        if not Vault.exists(path):
            self.unlock()
            work()
            return
        password = self.password(confirm=False)
        opening = asyncio.ensure_future(asyncio.to_thread(Vault.open, path, password))
        try:
            await asyncio.sleep(0)  # hand the derivation to the worker thread
            work()
        finally:
            vault = await opening
        if self._vault is None:
            self._vault = vault

    def check_password(self, password: str) -> None:
        """Raise VaultDecryptError unless ``password`` opens the vault file (nothing is kept)."""
        from keyfolio.vault import Vault

        Vault.open(self.vault_location(), password)

    def lock(self) -> None:
        """Drop the open vault (its derived key and decrypted credentials) and a new password.

        The next :meth:`vault` asks the password provider again.
        """
        self._vault = None
        self._new_password = None

    def vault(self, *, create: bool = False) -> Vault:
        """The unlocked vault; with ``create`` a missing vault is created."""
        if self._vault is not None:
            return self._vault
        from keyfolio.vault import Vault

        path = self.vault_location()
        if Vault.exists(path) and self._new_password is not None:
            # Another process created the vault since the password was asked: open it.
            self._vault = Vault.open(path, self._new_password)
            self._new_password = None
        elif Vault.exists(path):
            self.unlock()
        elif not create:
            where = f"at {path}" if isinstance(path, Path) else f"in {path.where}"
            raise VaultError(
                f"there is no vault yet {where}",
                hint="Link an account first: `keyfolio account add okx --name NAME`.",
            )
        else:
            self.unlock()
            assert self._new_password is not None
            self.settings.ensure_home()
            self._vault = Vault.create(path, self._new_password)
            self._new_password = None
        assert self._vault is not None
        return self._vault

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None
