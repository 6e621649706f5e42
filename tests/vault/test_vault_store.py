"""The vault file: round trip, tamper and truncation refusal, atomic 0600 writes, secrecy."""

from __future__ import annotations

import logging
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import keyfolio.vault
from keyfolio.domain.accounts import Credentials
from keyfolio.errors import (
    ConflictError,
    KeyfolioError,
    NotFoundError,
    UsageError,
    VaultCorruptError,
    VaultDecryptError,
    VaultError,
)
from keyfolio.vault import Vault
from keyfolio.vault.crypto import HEADER_SIZE, MAGIC, NONCE_SIZE, SALT_SIZE, TAG_SIZE, Header

PASSWORD = "correct horse battery staple"
API_KEY = "planted-apikey-7c1e0f55"
SECRET = "planted-secret-d41d8cd98f"
PASSPHRASE = "planted-passphrase-Zq9!"
PLANTED = (API_KEY, SECRET, PASSPHRASE, PASSWORD)
MAIN = Credentials(fields={"apiKey": API_KEY, "secret": SECRET, "password": PASSPHRASE})

SALT_AT = HEADER_SIZE - NONCE_SIZE - SALT_SIZE
NONCE_AT = HEADER_SIZE - NONCE_SIZE


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of one vault holding the planted secrets (one Argon2 derive per module)."""
    path = tmp_path_factory.mktemp("sealed") / "vault.bin"
    vault = Vault.create(path, PASSWORD)
    vault.set("main", MAIN)
    vault.set("spare", Credentials(fields={"apiKey": "k2", "secret": "s2", "password": "p2"}))
    return path.read_bytes()


@pytest.fixture
def vault_file(tmp_path: Path, sealed: bytes) -> Path:
    path = tmp_path / "vault.bin"
    path.write_bytes(sealed)
    path.chmod(0o600)
    return path


@pytest.fixture
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def assert_no_secret(text: str) -> None:
    for secret in PLANTED:
        assert secret not in text


def assert_error_is_clean(exc: KeyfolioError) -> None:
    assert exc.hint
    for text in (str(exc), repr(exc), exc.message, exc.hint, repr(exc.args)):
        assert_no_secret(text)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- round trip -------------------------------------------------------------------------


def test_round_trip(vault_file: Path) -> None:
    vault = Vault.open(vault_file, PASSWORD)
    assert vault.path == vault_file
    assert vault.names() == ["main", "spare"]
    creds = vault.get("main")
    assert creds.api_key == API_KEY
    assert creds.secret == SECRET
    assert creds.passphrase == PASSPHRASE
    assert dict(vault.get("spare").fields) == {"apiKey": "k2", "secret": "s2", "password": "p2"}


def test_create_set_rename_delete_reopen(tmp_path: Path) -> None:
    path = tmp_path / "home" / "vault.bin"
    assert not Vault.exists(path)
    vault = Vault.create(path, PASSWORD)
    assert Vault.exists(path)
    assert vault.names() == []
    vault.set("main", MAIN)
    vault.set("old", Credentials(fields={"apiKey": "a", "secret": "b"}))
    vault.rename("old", "new")
    vault.set("gone", Credentials(fields={"apiKey": "x"}))
    vault.delete("gone")
    assert vault.names() == ["main", "new"]

    again = Vault.open(path, PASSWORD)
    assert again.names() == ["main", "new"]
    assert dict(again.get("new").fields) == {"apiKey": "a", "secret": "b"}
    assert again.get("main").secret == SECRET
    assert sorted(os.listdir(path.parent)) == ["vault.bin", "vault.bin.lock"]  # no temp files


def test_set_replaces_and_returned_credentials_are_copies(vault_file: Path) -> None:
    vault = Vault.open(vault_file, PASSWORD)
    got = vault.get("spare")
    assert isinstance(got.fields, dict)
    got.fields["apiKey"] = "mutated"  # type: ignore[index]
    assert vault.get("spare").api_key == "k2"
    vault.set("spare", Credentials(fields={"apiKey": "k3"}))
    assert dict(Vault.open(vault_file, PASSWORD).get("spare").fields) == {"apiKey": "k3"}


def test_header_records_strong_kdf_params(sealed: bytes) -> None:
    header = Header.unpack(sealed)
    assert sealed.startswith(MAGIC)
    assert header.kdf.memory_cost >= 65536
    assert header.kdf.time_cost >= 3
    assert header.kdf.parallelism >= 1
    assert len(header.salt) == 16
    assert len(header.nonce) == 12


# -- refusals: the file is never touched ------------------------------------------------


def test_wrong_password(vault_file: Path) -> None:
    before = vault_file.read_bytes()
    with pytest.raises(VaultDecryptError) as info:
        Vault.open(vault_file, "not the password")
    assert str(info.value).startswith("could not unlock the vault")
    assert "wrong password" in info.value.hint.lower()
    assert info.value.exit_code == 2
    assert vault_file.read_bytes() == before
    assert_error_is_clean(info.value)


@pytest.mark.parametrize(
    ("offset", "xor", "expected"),
    [
        pytest.param(0, 0xFF, VaultCorruptError, id="magic"),
        pytest.param(len(MAGIC), 0x01, VaultCorruptError, id="format-version"),
        pytest.param(len(MAGIC) + 1, 0x01, VaultCorruptError, id="kdf-id"),
        pytest.param(17, 0x01, VaultCorruptError, id="time-cost-lowered"),
        pytest.param(21, 0x01, VaultDecryptError, id="parallelism"),
        pytest.param(SALT_AT + 3, 0x01, VaultDecryptError, id="salt"),
        pytest.param(NONCE_AT + 5, 0x80, VaultDecryptError, id="nonce"),
        pytest.param(HEADER_SIZE, 0x01, VaultDecryptError, id="ciphertext-first"),
        pytest.param(-TAG_SIZE - 1, 0x01, VaultDecryptError, id="ciphertext-last"),
        pytest.param(-TAG_SIZE, 0x01, VaultDecryptError, id="tag-first"),
        pytest.param(-1, 0x01, VaultDecryptError, id="tag-last"),
    ],
)
def test_flipped_byte_is_refused_and_file_unchanged(
    vault_file: Path, sealed: bytes, offset: int, xor: int, expected: type[VaultError]
) -> None:
    data = bytearray(sealed)
    data[offset] ^= xor
    vault_file.write_bytes(bytes(data))
    with pytest.raises(expected) as info:
        Vault.open(vault_file, PASSWORD)
    assert str(vault_file) in str(info.value)
    assert_error_is_clean(info.value)
    assert vault_file.read_bytes() == bytes(data)
    assert os.listdir(vault_file.parent) == ["vault.bin"]


@pytest.mark.parametrize(
    "keep",
    [0, 3, len(MAGIC), 30, HEADER_SIZE, HEADER_SIZE + TAG_SIZE - 1, -TAG_SIZE, -1],
    ids=lambda k: f"keep{k}",
)
def test_truncated_file_is_refused(vault_file: Path, sealed: bytes, keep: int) -> None:
    data = sealed[:keep]
    vault_file.write_bytes(data)
    with pytest.raises((VaultDecryptError, VaultCorruptError)) as info:
        Vault.open(vault_file, PASSWORD)
    assert_error_is_clean(info.value)
    assert vault_file.read_bytes() == data
    with pytest.raises(ConflictError):
        Vault.create(vault_file, PASSWORD)
    assert vault_file.read_bytes() == data


def test_appended_byte_is_refused(vault_file: Path, sealed: bytes) -> None:
    vault_file.write_bytes(sealed + b"\x00")
    with pytest.raises(VaultDecryptError):
        Vault.open(vault_file, PASSWORD)


def test_not_a_vault(tmp_path: Path) -> None:
    path = tmp_path / "vault.bin"
    path.write_bytes(b"SQLite format 3\x00" + bytes(200))
    with pytest.raises(VaultCorruptError) as info:
        Vault.open(path, PASSWORD)
    assert "not a keyfolio vault" in str(info.value)
    assert info.value.hint


def test_unknown_format_version_names_upgrade(vault_file: Path, sealed: bytes) -> None:
    data = bytearray(sealed)
    data[len(MAGIC)] = 2
    vault_file.write_bytes(bytes(data))
    with pytest.raises(VaultCorruptError) as info:
        Vault.open(vault_file, PASSWORD)
    assert "version 2" in str(info.value)
    assert "Upgrade keyfolio" in info.value.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VaultError) as info:
        Vault.open(tmp_path / "vault.bin", PASSWORD)
    assert "no vault" in str(info.value)
    assert not (tmp_path / "vault.bin").exists()


def test_create_refuses_existing_file(vault_file: Path, sealed: bytes) -> None:
    with pytest.raises(ConflictError) as info:
        Vault.create(vault_file, "another password")
    assert "already exists" in str(info.value)
    assert info.value.hint
    assert vault_file.read_bytes() == sealed


def test_write_refused_when_file_changed_on_disk(vault_file: Path, sealed: bytes) -> None:
    vault = Vault.open(vault_file, PASSWORD)
    vault_file.write_bytes(b"replaced by someone else")
    with pytest.raises(VaultError) as info:
        vault.set("new", Credentials(fields={"apiKey": "x"}))
    assert "changed on disk" in str(info.value)
    assert vault_file.read_bytes() == b"replaced by someone else"
    vault_file.unlink()
    with pytest.raises(VaultError):
        vault.delete("main")
    assert not vault_file.exists()


@pytest.mark.parametrize("password", ["", None])
def test_empty_password_refused(tmp_path: Path, vault_file: Path, password: str | None) -> None:
    path = tmp_path / "new.bin"
    if password is None:
        with pytest.raises(TypeError):
            Vault.create(path, password)  # type: ignore[arg-type]
        return
    with pytest.raises(VaultError) as info:
        Vault.create(path, password)
    assert "empty" in str(info.value)
    assert info.value.hint
    assert not path.exists()
    with pytest.raises(VaultError, match="empty"):
        Vault.open(vault_file, password)


def test_empty_new_password_refused(vault_file: Path, sealed: bytes) -> None:
    vault = Vault.open(vault_file, PASSWORD)
    with pytest.raises(VaultError, match="empty"):
        vault.change_password("")
    assert vault_file.read_bytes() == sealed


def test_lookup_errors(vault_file: Path, sealed: bytes) -> None:
    vault = Vault.open(vault_file, PASSWORD)
    with pytest.raises(NotFoundError) as info:
        vault.get("nope")
    assert "'nope'" in str(info.value)
    assert "keyfolio account" in info.value.hint
    with pytest.raises(NotFoundError):
        vault.delete("nope")
    with pytest.raises(NotFoundError):
        vault.rename("nope", "other")
    with pytest.raises(ConflictError):
        vault.rename("main", "spare")
    for bad in ("", " main", "a\nb"):
        with pytest.raises(UsageError):
            vault.set(bad, MAIN)
    vault.rename("main", "main")
    assert vault_file.read_bytes() == sealed  # none of the above wrote


def test_vault_cannot_be_built_or_pickled_directly(vault_file: Path) -> None:
    vault = Vault.open(vault_file, PASSWORD)
    with pytest.raises(TypeError):
        Vault(vault_file, vault._key, {}, b"", _token=object())
    with pytest.raises(TypeError):
        pickle.dumps(vault)


# -- password change --------------------------------------------------------------------


def test_change_password(vault_file: Path, sealed: bytes) -> None:
    vault = Vault.open(vault_file, PASSWORD)
    vault.change_password("a brand new password")
    assert Header.unpack(vault_file.read_bytes()).salt != Header.unpack(sealed).salt
    assert mode_of(vault_file) == 0o600
    assert sorted(os.listdir(vault_file.parent)) == ["vault.bin", "vault.bin.lock"]
    with pytest.raises(VaultDecryptError):
        Vault.open(vault_file, PASSWORD)
    again = Vault.open(vault_file, "a brand new password")
    assert again.get("main").secret == SECRET
    assert again.get("main").passphrase == PASSPHRASE
    assert again.names() == ["main", "spare"]
    # The object keeps working with the new key.
    vault.set("third", Credentials(fields={"apiKey": "k"}))
    assert Vault.open(vault_file, "a brand new password").names() == ["main", "spare", "third"]


# -- file mode and atomic writes --------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.usefixtures("umask_zero")
def test_file_mode_is_0600_even_with_umask_zero(tmp_path: Path) -> None:
    path = tmp_path / "vault.bin"
    vault = Vault.create(path, PASSWORD)
    assert mode_of(path) == 0o600
    path.chmod(0o644)
    vault = Vault.open(path, PASSWORD)
    vault.set("main", MAIN)
    assert mode_of(path) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["vault.bin", "vault.bin.lock"]
    assert mode_of(tmp_path / "vault.bin.lock") == 0o600


def test_each_write_uses_a_new_nonce(vault_file: Path, sealed: bytes) -> None:
    vault = Vault.open(vault_file, PASSWORD)
    nonces = {Header.unpack(sealed).nonce}
    for _ in range(3):
        vault.set("main", MAIN)  # same plaintext each time
        nonces.add(Header.unpack(vault_file.read_bytes()).nonce)
    assert len(nonces) == 4


# -- secrecy ----------------------------------------------------------------------------


def test_secrets_never_in_file_repr_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "vault.bin"
    vault = Vault.create(path, PASSWORD)
    vault.set("main", MAIN)
    data = path.read_bytes()
    for secret in PLANTED:
        assert secret.encode() not in data
        assert secret.encode("utf-16-le") not in data
    assert b"apiKey" not in data and b"main" not in data  # even the names are encrypted
    assert_no_secret(repr(vault))
    assert_no_secret(str(vault))
    assert_no_secret(repr(vault._key))
    assert_no_secret(repr(vault.get("main")))
    assert_no_secret(caplog.text)


def test_package_exports() -> None:
    assert keyfolio.vault.__all__ == ["Vault"]
    assert keyfolio.vault.Vault is Vault


def test_create_when_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "home").write_bytes(b"")
    with pytest.raises(VaultError) as info:
        Vault.create(tmp_path / "home" / "vault.bin", PASSWORD)
    assert "could not write" in str(info.value)
    assert not isinstance(info.value, ConflictError)
