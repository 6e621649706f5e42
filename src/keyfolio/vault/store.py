"""The vault file: exchange credentials, encrypted at rest, written atomically.

A :class:`Vault` only exists after a successful :meth:`Vault.open` or :meth:`Vault.create`,
and only a :class:`Vault` writes. So a file that failed to open (wrong password, damaged,
truncated, not a vault) is never overwritten, and :meth:`Vault.create` refuses an existing file.

Every change is written at once: a temporary file (mode 0600) in the same directory is written,
flushed and fsynced, then moved over the vault with :func:`os.replace`, and the directory is
fsynced. A crash leaves either the old vault or the new one, never a mix.

Several processes may hold the same vault open (``keyfolio serve`` and a CLI command). Every
write runs under an exclusive lock on ``vault.bin.lock`` next to the vault
(:mod:`keyfolio.vault.lockfile`): it re-reads the file, and if another process changed it under
the same password it applies its own change to that newer content, then seals and renames while
still holding the lock. So two writers can never interleave the check and the rename, and no
change is lost. A file re-encrypted under another password (or replaced by something that is not
this vault) is never overwritten.

In hosted mode the same ciphertext lives in a database row instead of a file: pass a
:class:`BlobStore` (read, write, lock) wherever a path is taken. The format, the scheme and the
rules above are the same; the database's lock replaces the lock file.

Plaintext, before encryption::

    {"version": 1, "accounts": {"main": {"apiKey": "...", "secret": "...", "password": "..."}}}
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

from keyfolio.domain.accounts import Credentials
from keyfolio.errors import (
    ConflictError,
    NotFoundError,
    UsageError,
    VaultCorruptError,
    VaultError,
)
from keyfolio.vault.blobs import BlobStore
from keyfolio.vault.crypto import VaultKey, unseal
from keyfolio.vault.lockfile import exclusive_lock

__all__ = ["PLAINTEXT_VERSION", "BlobStore", "Vault"]

logger = logging.getLogger(__name__)

PLAINTEXT_VERSION = 1
FILE_MODE = 0o600

_Accounts = dict[str, dict[str, str]]
_PRIVATE = object()  # only create() and open() may build a Vault


Location = Path | BlobStore


class Vault:
    """Exchange credentials in one encrypted file (Argon2id + AES-256-GCM).

    Build one with :meth:`create` (new file) or :meth:`open` (existing file). Reads come from
    memory (:meth:`refresh` re-reads a file another process changed); every change is encrypted
    and written atomically, under the vault's file lock, before the method returns. A change
    made on disk by another process under the same password is kept and the new change applied
    on top of it; a file re-encrypted under another password is never overwritten.
    Not thread-safe: use one ``Vault`` per file at a time within a process.
    """

    path: Path | None
    """The vault file (None when the ciphertext lives in a :class:`BlobStore`)."""

    def __init__(
        self, where: Location, key: VaultKey, accounts: _Accounts, digest: bytes, *, _token: object
    ) -> None:
        if _token is not _PRIVATE:
            raise TypeError("use Vault.create() or Vault.open() to get a Vault")
        if isinstance(where, Path):
            self.path, self._blobs, self.where = where, None, str(where)
            self.lock_path = where.with_name(where.name + ".lock")
        else:
            self.path, self._blobs, self.where = None, where, where.where
        self._key = key
        self._accounts = accounts
        self._digest = digest

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(cls, path: Location, password: str) -> Vault:
        """Create a new, empty vault at ``path``; refuse if anything exists there."""
        if not isinstance(path, Path):
            return cls._create_blob(path, password)
        path = Path(path)
        if os.path.lexists(path):
            _refuse_existing(path)
        key = VaultKey.derive(password)  # new random salt; refuses an empty password
        blob = key.seal(_encode({}))
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise _write_error(path, exc) from None
        try:
            _write_atomic(path, blob, overwrite=False)
        except FileExistsError:
            _refuse_existing(path)
        except OSError as exc:
            raise _write_error(path, exc) from None
        logger.info("created vault %s", path)
        return cls(path, key, {}, _sha256(blob), _token=_PRIVATE)

    @classmethod
    def _create_blob(cls, blobs: BlobStore, password: str) -> Vault:
        key = VaultKey.derive(password)
        blob = key.seal(_encode({}))
        try:
            blobs.write(blob, create=True)
        except FileExistsError:
            _refuse_existing(blobs.where)
        logger.info("created vault in %s", blobs.where)
        return cls(blobs, key, {}, _sha256(blob), _token=_PRIVATE)

    @classmethod
    def open(cls, path: Location, password: str) -> Vault:
        """Decrypt the vault at ``path`` into memory.

        Raises :class:`~keyfolio.errors.VaultDecryptError` for a wrong password or a modified
        or truncated file, :class:`~keyfolio.errors.VaultCorruptError` for a file that is not
        a keyfolio vault, and :class:`~keyfolio.errors.VaultError` if there is no file.
        """
        blob = _read(path) if isinstance(path, Path) else _read_blob(path)
        where = path if isinstance(path, Path) else path.where
        try:
            key, plaintext = unseal(blob, password)
            accounts = _decode(plaintext)
        except VaultError as exc:
            raise type(exc)(f"{exc.message} ({where})", hint=exc.hint) from None
        if isinstance(path, Path):
            _warn_if_exposed(path)
        logger.debug("opened vault %s (%d accounts)", where, len(accounts))
        return cls(path, key, accounts, _sha256(blob), _token=_PRIVATE)

    @staticmethod
    def verify(blob: bytes, password: str) -> list[str]:
        """Check that ``blob`` is a vault file that opens with ``password``; its account names.

        Raises like :meth:`open` (for a file read elsewhere, e.g. from a backup).
        """
        _, plaintext = unseal(blob, password)
        return sorted(_decode(plaintext))

    @staticmethod
    def install(path: Path, blob: bytes | None) -> None:
        """Put the vault file ``blob`` at ``path`` (``None``: remove the vault), atomically and
        under the vault's write lock. For restoring a backup: check ``blob`` with
        :meth:`verify` first. A ``Vault`` open on the old file refuses to write afterwards.
        """
        path = Path(path)
        with exclusive_lock(path.with_name(path.name + ".lock")):
            try:
                if blob is None:
                    path.unlink(missing_ok=True)
                    _fsync_dir(path.parent)
                else:
                    _write_atomic(path, blob, overwrite=True)
            except OSError as exc:
                raise _write_error(path, exc) from None
        logger.info("installed vault %s", path)

    @staticmethod
    def exists(path: Location) -> bool:
        """Whether something exists at ``path`` (then :meth:`create` would refuse)."""
        if not isinstance(path, Path):
            return path.read() is not None
        return os.path.lexists(path)

    # -- reading ------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The account names with stored credentials, sorted."""
        return sorted(self._accounts)

    def get(self, name: str) -> Credentials:
        """The credentials stored for ``name``; :class:`NotFoundError` if there are none."""
        try:
            fields = self._accounts[name]
        except KeyError:
            raise NotFoundError(
                f"the vault holds no credentials for account '{name}'",
                hint="List the accounts with `keyfolio account list`; add one with "
                "`keyfolio account add`.",
            ) from None
        return Credentials(fields=dict(fields))

    # -- writing (each call writes the file before it returns) --------------------------

    def set(self, name: str, credentials: Credentials) -> None:
        """Store (or replace) the credentials for ``name`` and write the vault."""
        _check_name(name)
        fields = _check_credentials(credentials)
        self._commit(lambda accounts: {**accounts, name: fields})

    def delete(self, name: str, *, only_if: Credentials | None = None) -> bool:
        """Remove ``name`` and its secrets from the vault and write it.

        :class:`NotFoundError` if the vault (as on disk now) holds no ``name``. With
        ``only_if``, the entry is removed only while it still holds exactly those credentials:
        a key that another process stored since is kept (then False is returned).
        """
        expected = None if only_if is None else _check_credentials(only_if)

        def change(accounts: _Accounts) -> _Accounts | None:
            if name not in accounts:
                self.get(name)  # NotFoundError
            if expected is not None and accounts[name] != expected:
                return None
            return {k: v for k, v in accounts.items() if k != name}

        return self._commit(change)

    def rename(self, old: str, new: str) -> None:
        """Move the credentials of ``old`` to ``new`` and write the vault."""
        _check_name(new)

        def change(accounts: _Accounts) -> _Accounts | None:
            self.get(old)  # NotFoundError
            if new == old:
                return None
            if new in accounts:
                raise ConflictError(
                    f"the vault already holds credentials for account '{new}'",
                    hint="Choose another name, or delete that account first.",
                )
            return {(new if k == old else k): v for k, v in accounts.items()}

        self._commit(change)

    def change_password(self, new_password: str) -> None:
        """Re-encrypt the vault under ``new_password`` with a new salt, atomically."""
        self._commit(lambda accounts: accounts, key=VaultKey.derive(new_password))
        logger.info("changed the password of vault %s", self.where)

    def refresh(self) -> None:
        """Re-read the file if another process changed it (under the same password).

        Raises :class:`VaultError` if it was re-encrypted under another password, replaced or
        removed; the vault in memory is then left as it was.
        """
        self._reload_if_changed()

    def _commit(
        self, change: Callable[[_Accounts], _Accounts | None], *, key: VaultKey | None = None
    ) -> bool:
        """Apply ``change`` to the newest content and write it, all under the file lock.

        ``change`` gets the accounts as on disk now and returns the new ones, or None when there
        is nothing to write. Returns whether the file was written.
        """
        with self._blobs.lock() if self._blobs else exclusive_lock(self.lock_path):
            self._reload_if_changed()
            accounts = change(dict(self._accounts))
            if accounts is None:
                return False
            if key is None:
                key = self._key
            blob = key.seal(_encode(accounts))
            if self._blobs is not None:
                self._blobs.write(blob, create=False)
            else:
                assert self.path is not None
                try:
                    _write_atomic(self.path, blob, overwrite=True)
                except OSError as exc:
                    raise _write_error(self.path, exc) from None
            self._key, self._accounts, self._digest = key, accounts, _sha256(blob)
        logger.debug("wrote vault %s (%d accounts)", self.where, len(accounts))
        return True

    def _reload_if_changed(self) -> None:
        if self._blobs is not None:
            blob = self._blobs.read() or b""
        else:
            assert self.path is not None
            try:
                blob = self.path.read_bytes()
            except OSError:
                blob = b""
        digest = _sha256(blob)
        if digest == self._digest:
            return
        try:
            accounts = _decode(self._key.open(blob))
        except VaultError:
            raise VaultError(
                f"the vault {self.where} changed on disk after it was opened (re-encrypted "
                "under another password, replaced or removed); refusing to overwrite it",
                hint="Another keyfolio may have changed it. Run the command again to open the "
                "current file.",
            ) from None
        logger.debug("vault %s changed on disk; re-read it", self.where)
        self._accounts, self._digest = accounts, digest

    def __repr__(self) -> str:
        return f"Vault(path={self.where!r}, accounts={len(self._accounts)})"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a Vault holds a decryption key and cannot be pickled or copied")


# -- plaintext --------------------------------------------------------------------------


def _encode(accounts: Mapping[str, Mapping[str, str]]) -> bytes:
    document = {"version": PLAINTEXT_VERSION, "accounts": accounts}
    return json.dumps(document, sort_keys=True, ensure_ascii=False).encode("utf-8")


def _decode(plaintext: bytes) -> _Accounts:
    # Errors never chain to the JSON error: its ``doc`` attribute would hold the secrets.
    unreadable = VaultCorruptError(
        "the vault decrypted, but its contents are not a keyfolio credential list"
    )
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except ValueError:
        raise unreadable from None
    if not isinstance(document, dict):
        raise unreadable
    if document.get("version") != PLAINTEXT_VERSION:
        raise VaultCorruptError(
            "the vault holds a credential list of an unknown version",
            hint="Upgrade keyfolio, or restore the vault file from a backup.",
        )
    accounts = document.get("accounts")
    if not isinstance(accounts, dict):
        raise unreadable
    result: _Accounts = {}
    for name, fields in accounts.items():
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise unreadable
        result[name] = dict(fields)
    return result


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or name != name.strip() or not name.isprintable():
        raise UsageError(
            f"{name!r} is not a valid account name",
            hint="Use a short printable name without leading or trailing spaces, e.g. 'main'.",
        )


def _check_credentials(credentials: Credentials) -> dict[str, str]:
    if not isinstance(credentials, Credentials):
        raise TypeError("credentials must be a keyfolio.domain.accounts.Credentials")
    fields = dict(credentials.fields)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        # The message names the fields, never their values.
        names = sorted(map(str, fields))
        raise TypeError(f"every credential value must be a str (fields: {names})")
    return fields


# -- files ------------------------------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise VaultError(
            f"there is no vault at {path}",
            hint="Add an account with `keyfolio account add` to create one, or check --home.",
        ) from None
    except OSError as exc:
        raise VaultError(
            f"could not read the vault {path}: {exc.strerror or exc}",
            hint="Check the file's permissions; it should belong to you with mode 0600.",
        ) from None


def _read_blob(blobs: BlobStore) -> bytes:
    blob = blobs.read()
    if blob is None:
        raise VaultError(
            f"there is no vault in {blobs.where}",
            hint="Add an account with `keyfolio account add` to create one.",
        )
    return blob


def _refuse_existing(path: Path | str) -> NoReturn:
    raise ConflictError(
        f"a vault already exists at {path}; refusing to overwrite it",
        hint="Open it with its password, or move the file away first if you really want a "
        "new, empty vault.",
    )


def _write_error(path: Path, exc: OSError) -> VaultError:
    return VaultError(
        f"could not write the vault {path}: {exc.strerror or exc}",
        hint="Check the data directory is writable and the disk is not full. "
        "The previous vault file, if any, is unchanged.",
    )


def _warn_if_exposed(path: Path) -> None:
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if os.name == "posix" and mode & 0o077:
            logger.warning(
                "vault %s has mode %o; other users can read it. It becomes 0600 at the "
                "next write (or run `chmod 600` on it).",
                path,
                mode,
            )


def _write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` through a 0600 temp file, fsync, rename, fsync the dir.

    With ``overwrite=False`` the final step never replaces an existing file
    (:class:`FileExistsError` instead).
    """
    directory = path.parent
    temp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), FILE_MODE)  # whatever the umask
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temp, path)
        else:
            _link_new(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _fsync_dir(directory)


def _link_new(temp: Path, path: Path) -> None:
    """Put ``temp`` at ``path`` only if ``path`` does not exist (atomic where links work)."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}:
            raise
        # A file system without hard links: check, then rename (a tiny race, nothing better).
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(temp, path)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":  # Windows cannot open a directory for fsync
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:  # the file is already in place; some file systems refuse this
        logger.debug("could not fsync directory %s: %s", directory, exc.strerror)
