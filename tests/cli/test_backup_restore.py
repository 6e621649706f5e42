"""`keyfolio backup` and `keyfolio restore`: round trip, refusals, and a restore that fails."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import BOB_KEY, PASSWORD, READ_KEY, SECRETS, Runner
from race_support import keyfolio_env

from keyfolio.vault import Vault


@pytest.fixture
def archive(synced: Runner, tmp_path: Path) -> Path:
    path = tmp_path / "keyfolio.backup"
    result = synced("backup", str(path))
    assert result.returncode == 0, result.stderr
    return path


def test_round_trip_into_a_fresh_home(synced: Runner, archive: Path, tmp_path: Path) -> None:
    assert "Backed up 1 account and 1 key" in synced.outputs[-2]
    assert archive.stat().st_mode & 0o777 == 0o600
    blob = archive.read_bytes()
    assert blob.startswith(b"KFBAKUP")
    for secret in SECRETS:
        assert secret.encode() not in blob

    fresh = Runner(tmp_path / "fresh")
    restored = fresh("restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "Restored 1 account and 1 key" in restored.stdout

    original, copy = synced("show", "--json"), fresh("show", "--json")
    assert original.returncode == copy.returncode == 0
    assert copy.json() == original.json()
    series, series_copy = synced("history", "--json").json(), fresh("history", "--json").json()
    series.pop("end"), series_copy.pop("end")  # "now", the moment each command ran
    assert series_copy == series
    vault = Vault.open(fresh.home / "vault.bin", PASSWORD)  # the same password opens it
    assert vault.get("alice").api_key == READ_KEY["apiKey"]
    assert fresh("sync").returncode == 0  # the restored key works
    for output in synced.outputs + fresh.outputs:
        for secret in SECRETS:
            assert secret not in output


def test_restore_never_replaces_data_without_force(synced: Runner, archive: Path) -> None:
    before = synced("show", "--json").json()
    synced("account", "remove", "alice")
    refused = synced("restore", str(archive))
    assert refused.returncode == 1
    assert "Error:" in refused.stderr and "already holds keyfolio data" in refused.stderr
    assert "--force" in refused.stderr
    assert synced("account", "list").stdout.count("alice") == 0  # untouched

    forced = synced("restore", str(archive), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "replaced the previous keyfolio.db and vault.bin" in forced.stdout
    assert synced("show", "--json").json() == before


def test_backup_never_replaces_a_file_without_force(synced: Runner, archive: Path) -> None:
    earlier = archive.read_bytes()
    refused = synced("backup", str(archive))
    assert refused.returncode == 1
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert archive.read_bytes() == earlier
    assert synced("backup", str(archive), "--force").returncode == 0
    assert archive.read_bytes() != earlier  # a new salt and nonce every time


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], id="flipped-byte"),
        pytest.param(lambda b: b[:-1], id="cut-short"),
        pytest.param(lambda b: b + b"\0", id="extended"),
    ],
)
def test_a_tampered_archive_is_refused(archive: Path, tmp_path: Path, damage: object) -> None:
    archive.write_bytes(damage(archive.read_bytes()))  # type: ignore[operator]
    fresh = Runner(tmp_path / "fresh")
    result = fresh("restore", str(archive))
    assert result.returncode == 2
    assert "Error: could not open the backup" in result.stderr
    assert "Hint:" in result.stderr
    assert not (fresh.home / "keyfolio.db").exists() and not (fresh.home / "vault.bin").exists()


def test_a_wrong_password_or_a_foreign_file_is_refused(
    synced: Runner, archive: Path, tmp_path: Path
) -> None:
    fresh = Runner(tmp_path / "fresh")
    wrong = fresh("restore", str(archive), password="not-the-password")
    assert wrong.returncode == 2 and "wrong password" in wrong.stderr
    for foreign in (synced.home / "vault.bin", synced.home / "keyfolio.db"):
        result = fresh("restore", str(foreign))
        assert result.returncode == 2
        assert "is not a keyfolio backup" in result.stderr and "Hint:" in result.stderr
    missing = fresh("restore", str(tmp_path / "nope.backup"))
    assert missing.returncode == 2 and "there is no backup file" in missing.stderr
    assert not (fresh.home / "keyfolio.db").exists()


def test_backup_needs_the_vault_password(synced: Runner, tmp_path: Path) -> None:
    result = synced("backup", str(tmp_path / "b"), password="not-the-password")
    assert result.returncode == 2
    assert "could not unlock the vault" in result.stderr
    assert not (tmp_path / "b").exists()


def test_postgresql_is_refused_with_a_hint(kf: Runner, tmp_path: Path) -> None:
    env = {"KEYFOLIO_DATABASE_URL": "postgresql+psycopg://keyfolio@127.0.0.1:9/keyfolio"}
    for args in (("backup", str(tmp_path / "b")), ("restore", str(tmp_path / "b"))):
        result = kf(*args, env=env)
        assert result.returncode == 2
        assert "copy a SQLite database" in result.stderr
        assert "pg_dump" in result.stderr


def _limit_file_size() -> None:
    """In the child: writes past 64 KiB in any file fail (EFBIG) like a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_restore_that_fails_while_writing_leaves_the_old_data(
    synced: Runner, archive: Path, sandbox_url: str
) -> None:
    linked_after = synced(
        "account", "add", "okx", "--name", "bob", "--api-url", sandbox_url, creds=BOB_KEY
    )
    assert linked_after.returncode == 0, linked_after.stderr
    before = synced("show", "--json").json()
    old_vault = (synced.home / "vault.bin").read_bytes()
    assert (synced.home / "keyfolio.db").stat().st_size > 64 * 1024  # the copy cannot fit

    result = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli.main import run; run()"]
        + ["restore", str(archive), "--force"],
        env=keyfolio_env(synced.home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Error: could not write the database" in result.stderr, result.stderr
    assert "Hint:" in result.stderr
    assert (synced.home / "vault.bin").read_bytes() == old_vault  # the new vault was taken back
    assert synced("show", "--json").json() == before
    assert Vault.open(synced.home / "vault.bin", PASSWORD).names() == ["alice", "bob"]
