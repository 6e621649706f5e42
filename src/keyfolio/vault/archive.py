"""Backup archives: the database and the vault in one authenticated, encrypted file.

An archive is sealed exactly like the vault (:mod:`keyfolio.vault.crypto`: Argon2id with its
own random salt, AES-256-GCM, the whole header as associated data) under the vault password,
with its own magic bytes ``KFBAKUP`` so neither file can pass for the other. Any changed,
missing or added byte, and a wrong password, fail to open. The plaintext, zlib-compressed::

    4 bytes    length of the manifest (big-endian)
    manifest   JSON: {"format": 1, "created_at": ..., "keyfolio": ..., "schema": ...,
                      "files": [{"name": "keyfolio.db", "size": n, "sha256": hex}, ...]}
    files      the bytes of each file, in the manifest's order

The files are ``keyfolio.db`` (a consistent SQLite copy) and, if there is one, ``vault.bin``
(the vault file as it was: still encrypted under the same password).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from keyfolio.errors import ConflictError, VaultCorruptError, VaultDecryptError, VaultError
from keyfolio.vault.crypto import VaultKey, unseal
from keyfolio.vault.store import _write_atomic

__all__ = ["ARCHIVE_FILES", "BACKUP_MAGIC", "Archive", "open_archive", "seal_archive", "write"]

BACKUP_MAGIC = b"KFBAKUP"
ARCHIVE_FORMAT = 1
ARCHIVE_FILES = ("keyfolio.db", "vault.bin")
_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class Archive:
    """What a backup holds: file name to bytes, plus when and by what it was written."""

    files: dict[str, bytes]
    created_at: str
    keyfolio: str
    schema: str
    extra: dict[str, object] = field(default_factory=dict)

    def __repr__(self) -> str:
        sizes = {name: len(data) for name, data in self.files.items()}
        return f"Archive(created_at={self.created_at!r}, schema={self.schema!r}, files={sizes})"


def seal_archive(archive: Archive, password: str) -> bytes:
    """The archive's bytes, encrypted under ``password`` with a fresh salt and nonce."""
    unknown = set(archive.files) - set(ARCHIVE_FILES)
    if unknown:
        raise ValueError(f"an archive holds only {ARCHIVE_FILES}, not {sorted(unknown)}")
    names = [name for name in ARCHIVE_FILES if name in archive.files]
    manifest = {
        "format": ARCHIVE_FORMAT,
        "created_at": archive.created_at,
        "keyfolio": archive.keyfolio,
        "schema": archive.schema,
        "extra": archive.extra,
        "files": [
            {
                "name": name,
                "size": len(archive.files[name]),
                "sha256": hashlib.sha256(archive.files[name]).hexdigest(),
            }
            for name in names
        ],
    }
    head = json.dumps(manifest, sort_keys=True).encode("utf-8")
    plaintext = b"".join([_LENGTH.pack(len(head)), head, *(archive.files[n] for n in names)])
    key = VaultKey.derive(password)  # the archive's own random salt
    return key.seal(zlib.compress(plaintext, 6), magic=BACKUP_MAGIC)


def open_archive(blob: bytes, password: str, *, where: str) -> Archive:
    """Decrypt and check an archive read from ``where`` (a path, for messages).

    ``VaultCorruptError`` for a file that is not a keyfolio backup (a vault, anything else);
    ``VaultDecryptError`` for a wrong password or a modified, cut or extended file.
    """
    try:
        _, compressed = unseal(blob, password, magic=BACKUP_MAGIC, kind="backup")
    except VaultDecryptError:
        raise VaultDecryptError(
            f"could not open the backup {where}: wrong password, or the file was modified or "
            "cut short",
            hint="Give the vault password that was in use when the backup was made "
            "(KEYFOLIO_PASSWORD or the prompt). If it is right, the file is damaged: use another "
            "backup.",
        ) from None
    except VaultCorruptError as exc:
        raise VaultCorruptError(
            f"{where}: {exc.message}",
            hint="Give a file written by `keyfolio backup`.",
        ) from None
    try:
        return _parse(zlib.decompress(compressed))
    except (ValueError, KeyError, TypeError, zlib.error, struct.error):
        # Authenticated, yet not what `keyfolio backup` writes: a bug or a foreign tool.
        raise VaultCorruptError(
            f"the backup {where} decrypted, but its contents are not a keyfolio backup",
            hint="Use a backup written by `keyfolio backup`, or upgrade keyfolio.",
        ) from None


def _parse(plaintext: bytes) -> Archive:
    (length,) = _LENGTH.unpack_from(plaintext)
    manifest = json.loads(plaintext[_LENGTH.size : _LENGTH.size + length].decode("utf-8"))
    if manifest["format"] != ARCHIVE_FORMAT:
        raise ValueError("unknown archive format")
    offset = _LENGTH.size + length
    files: dict[str, bytes] = {}
    for entry in manifest["files"]:
        name, size = entry["name"], int(entry["size"])
        data = plaintext[offset : offset + size]
        if name not in ARCHIVE_FILES or name in files or len(data) != size:
            raise ValueError("bad file entry")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ValueError("checksum mismatch")
        files[name] = data
        offset += size
    if offset != len(plaintext) or "keyfolio.db" not in files:
        raise ValueError("bad archive layout")
    return Archive(
        files=files,
        created_at=str(manifest["created_at"]),
        keyfolio=str(manifest["keyfolio"]),
        schema=str(manifest["schema"]),
        extra=dict(manifest.get("extra") or {}),
    )


def write(path: Path, blob: bytes, *, overwrite: bool) -> None:
    """Write an archive atomically with mode 0600; ``ConflictError`` if ``path`` exists and
    ``overwrite`` is False."""
    exists = ConflictError(
        f"{path} already exists; refusing to overwrite it",
        hint="Choose another file name, or add --force to replace it.",
    )
    if not overwrite and path.exists():
        raise exists
    if not path.parent.is_dir():
        raise VaultError(
            f"the directory {path.parent} does not exist",
            hint="Create it first, or choose another place for the backup.",
        )
    try:
        _write_atomic(path, blob, overwrite=overwrite)
    except FileExistsError:
        raise exists from None
    except OSError as exc:
        raise VaultError(
            f"could not write the backup {path}: {exc.strerror or exc}",
            hint="Check the directory is writable and the disk is not full.",
        ) from None
