"""`keyfolio backup` and `keyfolio restore`: the database and the vault in one encrypted file.

A backup is sealed under the vault password (checked against the vault first) with its own
salt (:mod:`keyfolio.vault.archive`). The database part is a consistent SQLite copy taken with
SQLite's backup API while other processes may write (:mod:`keyfolio.storage.backup`).

Restoring checks everything before it writes anything: the archive's authenticity, the
database copy (integrity, a schema this keyfolio knows) and that its vault opens with the same
password. It never replaces existing data without ``force``. Then it puts the vault in place
(one atomic rename) and the database (one SQLite transaction); if the database step fails, the
previous vault is put back, so a failure leaves the old data as it was.

Only the SQLite database is supported; a PostgreSQL ``KEYFOLIO_DATABASE_URL`` is refused with a
hint to use ``pg_dump`` (see docs/backup.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from keyfolio import __version__
from keyfolio.errors import ConflictError, KeyfolioError, UsageError, VaultError
from keyfolio.services.context import App

__all__ = ["BackupReport", "RestoreReport", "create_backup", "restore_backup"]

logger = logging.getLogger(__name__)

_CONSISTENT_TRIES = 5


@dataclass(frozen=True)
class BackupReport:
    """What ``create_backup`` wrote."""

    path: Path
    size: int
    accounts: int
    keys: int
    schema: str


@dataclass(frozen=True)
class RestoreReport:
    """What ``restore_backup`` put back."""

    path: Path
    created_at: str
    accounts: int
    keys: int
    schema: str
    replaced: list[str]


def _checked_vault(blob: bytes, password: str, where: Path) -> list[str]:
    from keyfolio.vault import Vault

    try:
        return Vault.verify(blob, password)
    except VaultError as exc:
        raise type(exc)(f"{exc.message} ({where})", hint=exc.hint) from None


def create_backup(app: App, path: Path, *, overwrite: bool = False) -> BackupReport:
    """Write the database and the vault to ``path``, encrypted under the vault password.

    ``ConflictError`` if ``path`` exists (unless ``overwrite``); ``UsageError`` for a
    PostgreSQL database; the vault's errors for a wrong password.
    """
    from keyfolio.storage import Database
    from keyfolio.storage.backup import database_file, snapshot
    from keyfolio.vault import Vault
    from keyfolio.vault.archive import Archive, seal_archive, write

    settings = app.settings
    database = Database(settings.db_url)
    database_file(database)  # refuses PostgreSQL before asking for a password
    if path.exists() and not overwrite:
        raise ConflictError(
            f"{path} already exists; refusing to overwrite it",
            hint="Choose another file name, or add --force to replace it.",
        )
    vault_path = settings.vault_path
    password = app.password(confirm=not Vault.exists(vault_path))
    try:
        for _ in range(_CONSISTENT_TRIES):
            # The vault is read before and after the database copy: if a link or a rotation
            # changed it meanwhile, copy both again, so no account is saved without its key.
            before = vault_path.read_bytes() if Vault.exists(vault_path) else None
            copy = snapshot(database)
            after = vault_path.read_bytes() if Vault.exists(vault_path) else None
            if before == after:
                break
        else:
            raise ConflictError(
                "the vault kept changing while the database was copied",
                hint="Another keyfolio is linking or rotating accounts: wait for it to finish, "
                "then run the backup again.",
            )
    finally:
        database.dispose()
    keys = _checked_vault(after, password, vault_path) if after is not None else []
    files = {"keyfolio.db": copy.data}
    if after is not None:
        files["vault.bin"] = after
    archive = Archive(
        files=files,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        keyfolio=__version__,
        schema=copy.revision,
    )
    blob = seal_archive(archive, password)
    write(path, blob, overwrite=overwrite)
    logger.info("wrote backup %s (%d bytes, %d accounts)", path, len(blob), copy.accounts)
    return BackupReport(
        path=path, size=len(blob), accounts=copy.accounts, keys=len(keys), schema=copy.revision
    )


def _read_archive(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"there is no backup file {path}", hint="Give the path of a `keyfolio backup` file."
        ) from None
    except OSError as exc:
        raise UsageError(
            f"could not read the backup {path}: {exc.strerror or exc}",
            hint="Check the path and that the file is readable by you.",
        ) from None


def restore_backup(app: App, path: Path, *, force: bool = False) -> RestoreReport:
    """Replace the database and the vault with the backup at ``path``.

    Refuses existing data unless ``force``. Everything is checked before anything is written;
    a failure while writing puts the previous vault back and leaves the previous database.
    """
    from keyfolio.storage import Database
    from keyfolio.storage.backup import check_snapshot, database_file, restore
    from keyfolio.vault import Vault
    from keyfolio.vault.archive import open_archive

    settings = app.settings
    database = Database(settings.db_url)
    db_path = database_file(database)
    blob = _read_archive(path)
    vault_path = settings.vault_path
    existing = [p for p in (db_path, vault_path) if p.exists()]
    if existing and not force:
        raise ConflictError(
            f"{settings.home} already holds keyfolio data "
            f"({', '.join(p.name for p in existing)}); restoring would replace it",
            hint="Back it up first with `keyfolio backup FILE`, then run the restore again with "
            "--force to replace it.",
        )
    password = app.password(confirm=False)
    archive = open_archive(blob, password, where=str(path))
    checked = check_snapshot(archive.files["keyfolio.db"])
    new_vault = archive.files.get("vault.bin")
    keys = _checked_vault(new_vault, password, path) if new_vault is not None else []
    app.close()
    settings.ensure_home()
    old_vault = vault_path.read_bytes() if Vault.exists(vault_path) else None
    Vault.install(vault_path, new_vault)
    try:
        restore(database, checked.data)
    except BaseException:  # put the old vault back on any way out, then re-raise
        try:
            Vault.install(vault_path, old_vault)
        except KeyfolioError:  # pragma: no cover - the disk failed twice in a row
            logger.error("could not put the previous vault back at %s", vault_path)
        raise
    finally:
        database.dispose()
    logger.info("restored backup %s (made %s)", path, archive.created_at)
    return RestoreReport(
        path=path,
        created_at=archive.created_at,
        accounts=checked.accounts,
        keys=len(keys),
        schema=checked.revision,
        replaced=[p.name for p in existing],
    )
