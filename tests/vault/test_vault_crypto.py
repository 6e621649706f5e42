"""Vault crypto: header layout and bounds, key derivation, sealing."""

from __future__ import annotations

import pytest
from argon2.low_level import ARGON2_VERSION

from keyfolio.errors import VaultCorruptError, VaultDecryptError, VaultError, VaultVersionError
from keyfolio.vault.crypto import (
    DEFAULT_KDF,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    TAG_SIZE,
    Header,
    KdfParams,
    VaultKey,
    check_format_version,
    unseal,
)

SALT = bytes(range(16))
NONCE = bytes(range(100, 112))


def test_header_layout_round_trip() -> None:
    header = Header(
        kdf=KdfParams(memory_cost=65536, time_cost=3, parallelism=4), salt=SALT, nonce=NONCE
    )
    packed = header.pack()
    assert len(packed) == HEADER_SIZE == 50
    assert packed[:7] == MAGIC == b"KFVAULT"
    assert packed[7] == FORMAT_VERSION
    assert packed[8] == 1  # Argon2id
    assert packed[9] == ARGON2_VERSION
    assert packed[10:14] == (65536).to_bytes(4, "big")
    assert packed[14:18] == (3).to_bytes(4, "big")
    assert packed[18:22] == (4).to_bytes(4, "big")
    assert packed[22:38] == SALT
    assert packed[38:50] == NONCE
    assert Header.unpack(packed + bytes(TAG_SIZE)) == header


def test_default_kdf_meets_the_minimum() -> None:
    assert DEFAULT_KDF.memory_cost >= 65536
    assert DEFAULT_KDF.time_cost >= 3
    DEFAULT_KDF.check()


@pytest.mark.parametrize(
    "params",
    [
        KdfParams(memory_cost=65535),
        KdfParams(time_cost=2),
        KdfParams(parallelism=0),
        KdfParams(memory_cost=1 << 30),  # a crafted header asking for 1 TiB
        KdfParams(time_cost=10_000),
    ],
)
def test_kdf_bounds_refused(params: KdfParams) -> None:
    with pytest.raises(VaultCorruptError):
        params.check()
    header = Header(kdf=params, salt=SALT, nonce=NONCE).pack() + bytes(TAG_SIZE)
    with pytest.raises(VaultCorruptError):
        Header.unpack(header)
    with pytest.raises(VaultCorruptError):
        VaultKey.derive("pw", kdf=params)


def test_header_after_valid_header_but_no_tag_is_decrypt_error() -> None:
    packed = Header(kdf=DEFAULT_KDF, salt=SALT, nonce=NONCE).pack()
    with pytest.raises(VaultDecryptError, match="truncated"):
        Header.unpack(packed + bytes(TAG_SIZE - 1))


def test_seal_unseal_and_wrong_password() -> None:
    key = VaultKey.derive("pw-one")
    blob = key.seal(b'{"hello": "world"}')
    assert Header.unpack(blob).salt == key.salt
    again, plaintext = unseal(blob, "pw-one")
    assert plaintext == b'{"hello": "world"}'
    assert again.salt == key.salt
    assert again.seal(b"x") != key.seal(b"x")  # fresh nonce each time
    with pytest.raises(VaultDecryptError, match="could not unlock the vault"):
        unseal(blob, "pw-two")


def test_unicode_password_is_normalised() -> None:
    composed, decomposed = "caf\u00e9-pass", "cafe\u0301-pass"
    key = VaultKey.derive(composed)
    _, plaintext = unseal(key.seal(b"ok"), decomposed)
    assert plaintext == b"ok"


def test_empty_password_refused_before_deriving() -> None:
    with pytest.raises(VaultError) as info:
        VaultKey.derive("")
    assert info.value.hint
    with pytest.raises(VaultError, match="empty"):
        unseal(b"garbage", "")


def test_key_repr_hides_the_key() -> None:
    key = VaultKey(b"\xab" * 32, salt=SALT, kdf=DEFAULT_KDF)
    text = repr(key) + str(key)
    assert "ab" * 4 not in text.lower()
    assert "\\xab" not in text
    assert "key=***" in text


def test_a_newer_format_version_asks_for_an_upgrade() -> None:
    header = bytearray(Header(kdf=DEFAULT_KDF, salt=SALT, nonce=NONCE).pack() + bytes(TAG_SIZE))
    header[len(MAGIC)] = FORMAT_VERSION + 1
    with pytest.raises(VaultVersionError) as caught:
        Header.unpack(bytes(header))
    assert f"format version {FORMAT_VERSION + 1}" in caught.value.message
    assert "newer keyfolio" in caught.value.message and "Upgrade keyfolio" in caught.value.hint
    with pytest.raises(VaultVersionError):  # the first 8 bytes are enough, no password needed
        check_format_version(bytes(header[: len(MAGIC) + 1]), where="/x/vault.bin")
    header[len(MAGIC)] = 0  # never written by any keyfolio: damaged, not newer
    with pytest.raises(VaultCorruptError) as damaged:
        check_format_version(bytes(header))
    assert not isinstance(damaged.value, VaultVersionError)
    check_format_version(b"not a vault at all")  # left to Header.unpack to report
