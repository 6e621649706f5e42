"""Accounts across processes: two links of one name, and a removal killed halfway.

Processes are ordered by real events (a request reaching a gate in front of the sandbox, the
vault's own file lock held by the test), never by sleeping.
"""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

from cli_support import BOB_KEY, PASSWORD, READ_KEY, Runner
from race_support import Gate, keyfolio_env, spawn, wait_until

from keyfolio.vault import Vault
from keyfolio.vault.lockfile import exclusive_lock


def account_names(home: Path) -> list[str]:
    with sqlite3.connect(home / "keyfolio.db") as db:
        return [row[0] for row in db.execute("SELECT name FROM accounts ORDER BY name")]


def test_two_links_of_one_name_end_with_one_account_and_its_own_key(
    kf: Runner, sandbox_url: str
) -> None:
    Vault.create(kf.home / "vault.bin", PASSWORD)  # both links open the same existing vault
    with Gate(sandbox_url) as gate:
        first = spawn(
            kf.home,
            "account",
            "add",
            "okx",
            "--name",
            "main",
            "--api-url",
            gate.url,
            creds=READ_KEY,
        )
        # The first link is now validating its key with the exchange: past every name check.
        assert gate.arrived.wait(60), first.communicate()
        second = kf(
            "account", "add", "okx", "--name", "main", "--api-url", sandbox_url, creds=BOB_KEY
        )
        gate.open()
        out, err = first.communicate(timeout=120)
        synced = kf("sync")  # the stored key is the one that works for 'main'
    assert first.returncode == 0, out + err
    assert synced.returncode == 0, synced.stderr
    assert second.returncode == 1, second.stdout + second.stderr
    assert "Error: another keyfolio is linking" in second.stderr
    assert "Hint:" in second.stderr
    assert account_names(kf.home) == ["main"]
    vault = Vault.open(kf.home / "vault.bin", PASSWORD)
    assert vault.names() == ["main"]
    assert vault.get("main").api_key == READ_KEY["apiKey"]  # the winner's own key


def test_a_second_link_after_the_first_is_refused_and_keeps_the_first_key(
    linked: Runner, sandbox_url: str
) -> None:
    again = linked(
        "account", "add", "okx", "--name", "alice", "--api-url", sandbox_url, creds=BOB_KEY
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert (
        Vault.open(linked.home / "vault.bin", PASSWORD).get("alice").api_key == (READ_KEY["apiKey"])
    )


def remove_killed_between_row_and_key(home: Path) -> None:
    """Run `account remove alice` and kill it after it deleted the row, before the key.

    The test holds the vault's write lock, so the removal cannot touch the vault; once the
    account's row is gone the process is killed (SIGKILL: no clean-up runs).
    """
    with exclusive_lock(home / "vault.bin.lock"):
        remover = spawn(home, "account", "remove", "alice")
        wait_until(
            lambda: "alice" not in account_names(home) or remover.poll() is not None,
            "the removal to delete the account's row",
        )
        assert remover.poll() is None, remover.communicate()  # still waiting for the vault
        remover.kill()
        remover.communicate()  # reaps it and closes its pipes
    assert account_names(home) == []
    assert Vault.open(home / "vault.bin", PASSWORD).names() == ["alice"]  # the orphan key


def test_removal_killed_between_its_two_steps_leaves_a_key_doctor_reports_and_cleans(
    linked: Runner,
) -> None:
    remove_killed_between_row_and_key(linked.home)

    report = linked("doctor")
    assert report.returncode == 1, report.stdout + report.stderr
    assert "leftover key" in report.stdout and "'alice'" in report.stdout
    assert "keyfolio doctor --fix" in report.stdout
    assert "Not asked: no terminal" in report.stderr
    assert Vault.open(linked.home / "vault.bin", PASSWORD).names() == ["alice"]  # never silently

    kept = linked("doctor", "--no-fix")
    assert kept.returncode == 1
    assert Vault.open(linked.home / "vault.bin", PASSWORD).names() == ["alice"]

    fixed = linked("doctor", "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "removed the key of 'alice'" in fixed.stdout
    assert Vault.open(linked.home / "vault.bin", PASSWORD).names() == []
    clean = linked("doctor")
    assert clean.returncode == 0
    assert "every key in the vault belongs to an account" in clean.stdout


def test_doctor_asks_in_a_terminal_before_deleting_a_leftover_key(linked: Runner) -> None:
    remove_killed_between_row_and_key(linked.home)
    primary, secondary = pty.openpty()
    doctor = subprocess.Popen(
        [sys.executable, "-c", "from keyfolio.cli.main import run; run()", "doctor"],
        env=keyfolio_env(linked.home),
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=secondary,  # the question is asked on the terminal
        text=True,
    )
    os.close(secondary)
    seen = b""
    while b"Delete them from the vault?" not in seen:
        chunk = os.read(primary, 1024)  # the prompt goes to the terminal; blocks until it does
        assert chunk, seen
        seen += chunk
    os.write(primary, b"y\n")
    out, _ = doctor.communicate(timeout=120)
    os.close(primary)
    assert doctor.returncode == 0, out
    assert "removed the key of 'alice'" in out
    assert Vault.open(linked.home / "vault.bin", PASSWORD).names() == []


def test_remove_with_a_wrong_password_changes_nothing(linked: Runner) -> None:
    result = linked("account", "remove", "alice", password="not-the-password")
    assert result.returncode == 2
    assert account_names(linked.home) == ["alice"]
    assert Vault.open(linked.home / "vault.bin", PASSWORD).names() == ["alice"]
