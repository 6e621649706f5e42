"""Several writers on one vault: the file lock, re-reading a changed file, no lost change."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keyfolio.domain.accounts import Credentials
from keyfolio.errors import NotFoundError, VaultError
from keyfolio.vault import Vault

PASSWORD = "lock-test-password-3e1f"
KEY_A = Credentials(fields={"apiKey": "a-key", "secret": "a-secret"})
KEY_B = Credentials(fields={"apiKey": "b-key", "secret": "b-secret"})

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from keyfolio.domain.accounts import Credentials
    from keyfolio.vault import Vault

    path, password, prefix, count = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    vault = Vault.open(path, password)
    print("ready", flush=True)
    sys.stdin.readline()  # the test says "go" to every writer at once
    for i in range(count):
        vault.set(f"{prefix}{i}", Credentials(fields={"apiKey": f"{prefix}{i}"}))
        if i % 3 == 2:
            vault.delete(f"{prefix}{i - 1}")
    print("done", flush=True)
    """
)


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    path = tmp_path / "vault.bin"
    Vault.create(path, PASSWORD)
    return path


def test_two_open_vaults_keep_each_others_changes(vault_path: Path) -> None:
    first, second = Vault.open(vault_path, PASSWORD), Vault.open(vault_path, PASSWORD)
    first.set("a", KEY_A)
    second.set("b", KEY_B)  # re-reads the file the first one wrote, then adds its own
    first.set("c", KEY_A)
    assert first.names() == ["a", "b", "c"]
    assert Vault.open(vault_path, PASSWORD).names() == ["a", "b", "c"]
    second.refresh()
    assert second.names() == ["a", "b", "c"]


def test_a_vault_re_encrypted_elsewhere_is_never_overwritten(vault_path: Path) -> None:
    stale = Vault.open(vault_path, PASSWORD)
    Vault.open(vault_path, PASSWORD).change_password("another password")
    after = vault_path.read_bytes()
    with pytest.raises(VaultError, match="changed on disk") as info:
        stale.set("a", KEY_A)
    assert info.value.hint
    assert vault_path.read_bytes() == after
    with pytest.raises(VaultError, match="changed on disk"):
        stale.refresh()


def test_delete_only_if_keeps_a_key_stored_since(vault_path: Path) -> None:
    mine, theirs = Vault.open(vault_path, PASSWORD), Vault.open(vault_path, PASSWORD)
    mine.set("main", KEY_A)
    theirs.set("main", KEY_B)
    assert mine.delete("main", only_if=KEY_A) is False
    assert Vault.open(vault_path, PASSWORD).get("main").api_key == "b-key"
    assert mine.delete("main", only_if=KEY_B) is True
    assert Vault.open(vault_path, PASSWORD).names() == []
    with pytest.raises(NotFoundError):
        theirs.delete("main")  # gone on disk, even though this object still had it


def test_two_processes_writing_at_once_lose_nothing(vault_path: Path) -> None:
    count = 30
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(vault_path), PASSWORD, prefix, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("p", "q")
    ]
    for writer in writers:  # both have opened the vault (the slow Argon2 step) ...
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    for writer in writers:  # ... then both start writing together
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    results = [writer.communicate(timeout=300) for writer in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err
        assert out == "done\n"
    deleted = {i - 1 for i in range(count) if i % 3 == 2}
    expected = sorted(f"{p}{i}" for p in ("p", "q") for i in range(count) if i not in deleted)
    vault = Vault.open(vault_path, PASSWORD)
    assert vault.names() == expected
    assert all(vault.get(name).api_key == name for name in expected)
