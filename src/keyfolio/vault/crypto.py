"""Vault cryptography: Argon2id key derivation, AES-256-GCM, and the file header.

A vault file is one header followed by the AES-GCM ciphertext (with its 16-byte tag)::

    offset  size  field
    0       7     magic b"KFVAULT"
    7       1     format version (1)
    8       1     KDF id (1 = Argon2id)
    9       1     Argon2 version (0x13)
    10      4     Argon2 memory cost in KiB (big-endian)
    14      4     Argon2 time cost (iterations)
    18      4     Argon2 parallelism (lanes)
    22      16    salt (random per password)
    38      12    nonce (random per write)
    50      ...   ciphertext + 16-byte GCM tag

The whole header is the AEAD associated data, so changing any byte of the file, or cutting it
short, makes decryption fail. A wrong password fails in exactly the same way: AES-GCM cannot
tell the two apart, and the error says so. A backup archive (:mod:`keyfolio.vault.archive`)
uses the same layout with the magic ``KFBAKUP`` and its own salt, so neither file can pass for
the other.

Nothing here touches the file system; :mod:`keyfolio.vault.store` does.
"""

from __future__ import annotations

import logging
import os
import struct
import unicodedata
from dataclasses import dataclass

from keyfolio.errors import VaultCorruptError, VaultDecryptError, VaultError, VaultVersionError

# argon2 and cryptography are imported where a key is derived or used, so reading a vault's
# header (`keyfolio show` checks its format version) costs neither import.
ARGON2_VERSION = 0x13
"""Argon2 version 1.3 (``argon2.low_level.ARGON2_VERSION``), written into every header."""

__all__ = [
    "DEFAULT_KDF",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "KDF_ARGON2ID",
    "MAGIC",
    "MIN_MEMORY_COST",
    "MIN_TIME_COST",
    "NONCE_SIZE",
    "SALT_SIZE",
    "TAG_SIZE",
    "Header",
    "KdfParams",
    "VaultKey",
    "check_format_version",
    "unseal",
]

logger = logging.getLogger(__name__)

MAGIC = b"KFVAULT"
FORMAT_VERSION = 1
KDF_ARGON2ID = 1
SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32

MIN_MEMORY_COST = 64 * 1024  # KiB, i.e. 64 MiB
MIN_TIME_COST = 3
# Upper bounds stop a crafted header from making us allocate gigabytes or spin for minutes.
MAX_MEMORY_COST = 2 * 1024 * 1024  # KiB, i.e. 2 GiB
MAX_TIME_COST = 64
MAX_PARALLELISM = 64

_HEADER = struct.Struct(f">{len(MAGIC)}sBBBIII{SALT_SIZE}s{NONCE_SIZE}s")
HEADER_SIZE = _HEADER.size


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters, stored in the header so they can be raised later.

    ``memory_cost`` is in KiB (65536 = 64 MiB), ``time_cost`` is the number of passes.
    """

    memory_cost: int = MIN_MEMORY_COST
    time_cost: int = MIN_TIME_COST
    parallelism: int = 4

    def check(self) -> None:
        """Refuse parameters below keyfolio's minimum or absurdly high (a crafted header)."""
        if not (
            MIN_MEMORY_COST <= self.memory_cost <= MAX_MEMORY_COST
            and MIN_TIME_COST <= self.time_cost <= MAX_TIME_COST
            and 1 <= self.parallelism <= MAX_PARALLELISM
            and self.memory_cost >= 8 * self.parallelism
        ):
            raise VaultCorruptError(
                "the vault header declares Argon2id parameters keyfolio does not accept "
                f"(m={self.memory_cost} KiB, t={self.time_cost}, p={self.parallelism})"
            )


DEFAULT_KDF = KdfParams()


@dataclass(frozen=True)
class Header:
    """The fixed-size header at the start of a vault file; all of it is AEAD associated data."""

    kdf: KdfParams
    salt: bytes
    nonce: bytes
    version: int = FORMAT_VERSION
    magic: bytes = MAGIC
    """``KFVAULT`` for the vault; a backup archive uses the same layout with its own magic."""

    def pack(self) -> bytes:
        """The header's bytes, exactly as written to the file."""
        return _HEADER.pack(
            self.magic,
            self.version,
            KDF_ARGON2ID,
            ARGON2_VERSION,
            self.kdf.memory_cost,
            self.kdf.time_cost,
            self.kdf.parallelism,
            self.salt,
            self.nonce,
        )

    @classmethod
    def unpack(cls, blob: bytes, *, magic: bytes = MAGIC, kind: str = "vault") -> Header:
        """Read and check the header at the start of ``blob``.

        Raises :class:`VaultCorruptError` for a file that is not a keyfolio vault (or, with
        ``magic``/``kind``, not that other kind of file), a format this version does not know,
        or parameters out of bounds; :class:`VaultDecryptError` for a file cut short after a
        valid header.
        """
        if len(magic) != len(MAGIC):
            raise ValueError(f"a file magic is {len(MAGIC)} bytes")
        if len(blob) < len(magic) or blob[: len(magic)] != magic:
            raise VaultCorruptError(f"the file is not a keyfolio {kind} (bad magic bytes)")
        if len(blob) < HEADER_SIZE:
            raise VaultCorruptError(
                f"the {kind} file is truncated ({len(blob)} bytes, the header alone is "
                f"{HEADER_SIZE})"
            )
        check_format_version(blob, magic=magic, kind=kind)
        magic, version, kdf_id, argon_version, memory, time, lanes, salt, nonce = (
            _HEADER.unpack_from(blob)
        )
        if kdf_id != KDF_ARGON2ID or argon_version != ARGON2_VERSION:
            raise VaultCorruptError(
                f"the {kind} header names an unknown key derivation ({kdf_id}/{argon_version})"
            )
        kdf = KdfParams(memory_cost=memory, time_cost=time, parallelism=lanes)
        kdf.check()
        if len(blob) < HEADER_SIZE + TAG_SIZE:
            raise VaultDecryptError(
                f"could not unlock the {kind}: the file is truncated ({len(blob)} bytes)"
            )
        return cls(kdf=kdf, salt=salt, nonce=nonce, version=version, magic=magic)


def check_format_version(
    head: bytes, *, where: str = "", magic: bytes = MAGIC, kind: str = "vault"
) -> None:
    """Refuse a vault (or, with ``magic``/``kind``, a backup archive) whose header names a
    format version this keyfolio does not read.

    ``head`` is the start of the file (magic and version are enough). A version above
    :data:`FORMAT_VERSION` raises :class:`VaultVersionError` (written by a newer keyfolio:
    upgrade); any other unknown version, :class:`VaultCorruptError`. A file that is not of
    that kind, or too short to have a version, passes: :meth:`Header.unpack` reports it.
    """
    if len(head) <= len(magic) or head[: len(magic)] != magic:
        return
    version = head[len(magic)]
    place = f" ({where})" if where else ""
    if version > FORMAT_VERSION:
        raise VaultVersionError(
            f"the {kind}{place} was written by a newer keyfolio: it uses format version "
            f"{version}, and this keyfolio reads version {FORMAT_VERSION}"
        )
    if version != FORMAT_VERSION:
        raise VaultCorruptError(
            f"the {kind}{place} names format version {version}, which keyfolio never wrote; "
            f"this keyfolio reads version {FORMAT_VERSION}",
            hint=f"Restore the {kind} file from a backup; keyfolio will not overwrite it.",
        )


def _password_bytes(password: str) -> bytes:
    if not isinstance(password, str):
        raise TypeError("the vault password must be a str")
    if password == "":
        raise VaultError(
            "the vault password must not be empty",
            hint="Choose a non-empty password (a long passphrase is best).",
        )
    # NFC, so the same password typed on another system derives the same key.
    return unicodedata.normalize("NFC", password).encode("utf-8")


class VaultKey:
    """A derived AES-256 key together with the salt and parameters it came from.

    Its repr shows the parameters only; the key bytes are never printed.
    """

    __slots__ = ("_key", "kdf", "salt")

    def __init__(self, key: bytes, *, salt: bytes, kdf: KdfParams) -> None:
        if len(key) != KEY_SIZE or len(salt) != SALT_SIZE:
            raise ValueError("a vault key is 32 bytes with a 16-byte salt")
        self._key = key
        self.salt = salt
        self.kdf = kdf

    @classmethod
    def derive(
        cls, password: str, *, salt: bytes | None = None, kdf: KdfParams = DEFAULT_KDF
    ) -> VaultKey:
        """Derive a key with Argon2id; a fresh random salt unless ``salt`` is given."""
        from argon2.exceptions import HashingError
        from argon2.low_level import Type, hash_secret_raw

        secret = _password_bytes(password)
        kdf.check()
        salt = os.urandom(SALT_SIZE) if salt is None else salt
        try:
            key = hash_secret_raw(
                secret,
                salt,
                time_cost=kdf.time_cost,
                memory_cost=kdf.memory_cost,
                parallelism=kdf.parallelism,
                hash_len=KEY_SIZE,
                type=Type.ID,
                version=ARGON2_VERSION,
            )
        except HashingError as exc:  # e.g. out of memory; the message holds no secret
            raise VaultError(
                f"could not derive the vault key: {exc}",
                hint="Argon2id needs about 64 MiB of free memory; close other programs.",
            ) from None
        return cls(key, salt=salt, kdf=kdf)

    def seal(self, plaintext: bytes, *, magic: bytes = MAGIC) -> bytes:
        """Encrypt ``plaintext`` under a fresh random nonce; return the whole file's bytes."""
        header = Header(
            kdf=self.kdf, salt=self.salt, nonce=os.urandom(NONCE_SIZE), magic=magic
        ).pack()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return header + AESGCM(self._key).encrypt(header[-NONCE_SIZE:], plaintext, header)

    def matches(self, header: Header) -> bool:
        """Whether ``header`` names this key's salt and parameters (same password, same file)."""
        return header.salt == self.salt and header.kdf == self.kdf

    def open(self, blob: bytes) -> bytes:
        """Decrypt a vault file sealed with this very key (no key derivation).

        :class:`VaultDecryptError` if the file was sealed under another salt or password, or
        was modified; :class:`VaultCorruptError` if it is not a vault.
        """
        header = Header.unpack(blob)
        if not self.matches(header):
            raise VaultDecryptError("the vault was re-encrypted with another salt or password")
        return self._decrypt(header, blob)

    def _decrypt(self, header: Header, blob: bytes, *, kind: str = "vault") -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(self._key).decrypt(header.nonce, blob[HEADER_SIZE:], blob[:HEADER_SIZE])
        except InvalidTag:
            raise VaultDecryptError(f"could not unlock the {kind}") from None

    def __repr__(self) -> str:
        kdf = self.kdf
        return (
            f"VaultKey(argon2id m={kdf.memory_cost} t={kdf.time_cost} p={kdf.parallelism}, key=***)"
        )

    __str__ = __repr__


def unseal(
    blob: bytes, password: str, *, magic: bytes = MAGIC, kind: str = "vault"
) -> tuple[VaultKey, bytes]:
    """Check the header, derive the key from ``password`` and decrypt.

    Returns the key (to seal later writes without deriving again) and the plaintext.
    A wrong password, and any modified or missing byte, raise :class:`VaultDecryptError`;
    a file that is not a vault at all raises :class:`VaultCorruptError`. ``magic`` and
    ``kind`` open another kind of file sealed the same way (a backup archive).
    """
    _password_bytes(password)  # an empty password fails before the (slow) header work
    header = Header.unpack(blob, magic=magic, kind=kind)
    key = VaultKey.derive(password, salt=header.salt, kdf=header.kdf)
    return key, key._decrypt(header, blob, kind=kind)
