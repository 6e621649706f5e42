"""Backup archives: sealed like the vault with their own magic and salt, refused if touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyfolio.errors import ConflictError, VaultCorruptError, VaultDecryptError
from keyfolio.vault import Vault
from keyfolio.vault.archive import Archive, open_archive, seal_archive, write
from keyfolio.vault.crypto import SALT_SIZE, Header

PASSWORD = "archive-password-77aa"
DB = b"SQLite format 3\x00" + b"rows" * 1000


@pytest.fixture(scope="module")
def vault_blob(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("vault") / "vault.bin"
    Vault.create(path, PASSWORD)
    return path.read_bytes()


@pytest.fixture(scope="module")
def sealed(vault_blob: bytes) -> bytes:
    archive = Archive(
        files={"keyfolio.db": DB, "vault.bin": vault_blob},
        created_at="2025-06-01T10:00:00+00:00",
        keyfolio="9.9",
        schema="0003",
    )
    return seal_archive(archive, PASSWORD)


def test_round_trip_keeps_every_byte(sealed: bytes, vault_blob: bytes) -> None:
    archive = open_archive(sealed, PASSWORD, where="b.kf")
    assert archive.files == {"keyfolio.db": DB, "vault.bin": vault_blob}
    assert (archive.created_at, archive.keyfolio, archive.schema) == (
        "2025-06-01T10:00:00+00:00",
        "9.9",
        "0003",
    )
    assert "rows" not in repr(archive)
    assert len(sealed) < len(DB)  # compressed before it is encrypted


def test_own_magic_and_salt(sealed: bytes, vault_blob: bytes) -> None:
    assert sealed.startswith(b"KFBAKUP")
    header = Header.unpack(sealed, magic=b"KFBAKUP", kind="backup")
    assert len(header.salt) == SALT_SIZE
    assert header.salt != Header.unpack(vault_blob).salt
    with pytest.raises(VaultCorruptError, match="not a keyfolio vault"):
        Vault.verify(sealed, PASSWORD)
    with pytest.raises(VaultCorruptError, match="not a keyfolio backup"):
        open_archive(vault_blob, PASSWORD, where="vault.bin")


@pytest.mark.parametrize("at", [8, 30, 45, 60, -1])
def test_any_changed_byte_or_wrong_password_is_refused(sealed: bytes, at: int) -> None:
    touched = bytearray(sealed)
    touched[at] ^= 0x01
    with pytest.raises((VaultDecryptError, VaultCorruptError)) as info:
        open_archive(bytes(touched), PASSWORD, where="b.kf")
    assert info.value.hint
    with pytest.raises(VaultDecryptError, match="wrong password"):
        open_archive(sealed, "not the password", where="b.kf")


def test_write_is_0600_and_never_replaces_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "b.kf"
    write(path, b"first", overwrite=False)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConflictError, match="already exists"):
        write(path, b"second", overwrite=False)
    assert path.read_bytes() == b"first"
    write(path, b"second", overwrite=True)
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.kf"]


def test_install_and_remove_a_vault_file(tmp_path: Path, vault_blob: bytes) -> None:
    path = tmp_path / "vault.bin"
    Vault.install(path, vault_blob)
    assert Vault.open(path, PASSWORD).names() == []
    assert path.stat().st_mode & 0o777 == 0o600
    Vault.install(path, None)
    assert not path.exists()
