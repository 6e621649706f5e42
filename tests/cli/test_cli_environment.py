"""The machine's problems are reported as such, from every command that touches the data dir.

Each case runs `keyfolio` as a subprocess: a read-only data directory, a data directory that is
a file, a log path that is a directory, a full disk (ENOSPC through /dev/full, EFBIG through
RLIMIT_FSIZE), a database locked by another process, and a vault or database written by a
newer keyfolio. Each gives ``Error:`` + ``Hint:`` and exit 2, never "a bug in keyfolio".
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_support import BOB_KEY, PASSWORD, Result, Runner, control
from zygote import popen

COMMANDS = ("show", "sync", "account add", "serve")
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _no_root_override() -> None:
    """In the child, before exec: root loses the capabilities that ignore file modes.

    Root's next program gets its bounding set as its capabilities, so without DAC_OVERRIDE a
    directory of mode 0500 is read-only for it too, as for every other user.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _file_size_limit(limit: int) -> Callable[[], None]:
    """In the child: writes past ``limit`` bytes fail with EFBIG (SIGXFSZ ignored, not fatal)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _start(
    home: Path,
    *args: str,
    creds: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
) -> subprocess.Popen[str]:
    """Start `keyfolio ARGS` like the Runner does, with an optional ``preexec_fn``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    full_env.update(KEYFOLIO_HOME=str(home), KEYFOLIO_PASSWORD=PASSWORD, COLUMNS="200")
    if creds is not None:
        full_env.update(
            KEYFOLIO_API_KEY=creds["apiKey"],
            KEYFOLIO_API_SECRET=creds["secret"],
            KEYFOLIO_API_PASSPHRASE=creds["passphrase"],
        )
    full_env.update(env or {})
    if preexec is None:
        return popen(list(args), env=full_env)
    return subprocess.Popen(
        [sys.executable, "-c", "from keyfolio.cli.main import run; run()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,
    )


def _finish(proc: subprocess.Popen[str]) -> Result:
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # a command that should have stopped (serve) did not
            proc.kill()
            proc.communicate()
    return Result(proc.returncode, out, err)


def keyfolio(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
) -> Result:
    return _finish(_start(home, *args, env=env, preexec=preexec))


def command_args(command: str, sandbox_url: str) -> list[str]:
    if command == "account add":
        return ["account", "add", "okx", "--name", "bob", "--api-url", sandbox_url]
    if command == "serve":
        return ["serve", "--port", "0", "--no-live"]
    return [command]


def each_command(
    home: Path,
    sandbox_url: str,
    *,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
    commands: tuple[str, ...] = COMMANDS,
) -> dict[str, Result]:
    """Run each command at the same time (they all fail before changing anything)."""
    started = {
        command: _start(
            home, *command_args(command, sandbox_url), creds=BOB_KEY, env=env, preexec=preexec
        )
        for command in commands
    }
    return {command: _finish(proc) for command, proc in started.items()}


def assert_environment_error(results: dict[str, Result], *texts: str) -> None:
    for command, result in results.items():
        where = f"{command}: {result.stderr}"
        assert result.returncode == 2, where
        assert "Error: " in result.stderr and "Hint: " in result.stderr, where
        assert "bug in keyfolio" not in result.stderr and "Traceback" not in result.stderr, where
        for text in texts:
            assert text in result.stderr, where


def holdings(runner: Runner) -> dict[str, str]:
    shown = runner("show", "--json")
    assert shown.returncode == 0, shown.stderr
    return {h["asset"]: h["amount"] for h in shown.json()["holdings"]}


@pytest.fixture
def read_only_enforced(tmp_path: Path) -> None:
    """Skip where even a child without DAC_OVERRIDE may write a 0500 directory."""
    probe = tmp_path / "probe"
    probe.mkdir(mode=0o500)
    try:
        child = subprocess.run(
            [sys.executable, "-c", f"open({str(probe / 'x')!r}, 'w')"],
            preexec_fn=_no_root_override,
            capture_output=True,
        )
    finally:
        probe.chmod(0o700)
    if child.returncode == 0:
        pytest.skip("this machine lets the test user write a read-only directory")


def test_read_only_data_dir(linked: Runner, sandbox_url: str, read_only_enforced: None) -> None:
    before = holdings(linked)
    linked.home.chmod(0o500)
    try:
        results = each_command(linked.home, sandbox_url, preexec=_no_root_override)
    finally:
        linked.home.chmod(0o700)
    assert_environment_error(results, f"the data directory {linked.home} is read-only", "--home")
    assert holdings(linked) == before


def test_read_only_database_file(
    linked: Runner, sandbox_url: str, read_only_enforced: None
) -> None:
    db = linked.home / "keyfolio.db"
    db.chmod(0o400)
    try:
        results = each_command(
            linked.home, sandbox_url, preexec=_no_root_override, commands=("sync", "account add")
        )
    finally:
        db.chmod(0o600)
    assert_environment_error(results, "cannot write the database", "readonly")


def test_data_dir_that_is_a_file(tmp_path: Path, sandbox_url: str) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")
    results = each_command(home, sandbox_url)
    assert_environment_error(results, f"the data directory {home} is a file", "--home")
    below = each_command(home / "sub", sandbox_url, commands=("show",))
    assert_environment_error(below, "not a directory")
    assert home.read_text() == "not a directory"


def test_log_path_that_is_a_directory(tmp_path: Path, sandbox_url: str) -> None:
    home = tmp_path / "home"
    (home / "keyfolio.log").mkdir(parents=True)
    results = each_command(home, sandbox_url)
    assert_environment_error(results, f"the log file {home / 'keyfolio.log'} is a directory")
    assert not (home / "keyfolio.db").exists()  # refused before anything was created


def test_full_disk_enospc(tmp_path: Path, sandbox_url: str) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full on this machine")
    home = tmp_path / "home"
    home.mkdir()
    (home / "keyfolio.log").symlink_to(full)  # every write there fails with ENOSPC
    results = each_command(home, sandbox_url)
    assert_environment_error(results, "no space left to write the log file", "Free some space")


def test_full_disk_efbig(tmp_path: Path, sandbox_url: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    results = each_command(home, sandbox_url, preexec=_file_size_limit(0))
    assert_environment_error(results, "size limit", "ulimit -f")


@pytest.mark.fault("disk_full", sees="Error: could not write the database Hint: … kept; exit 2")
def test_full_disk_during_sync_keeps_the_last_good_data(linked: Runner, sandbox_url: str) -> None:
    control(
        sandbox_url,
        "/__sandbox__/trade",
        {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.01"},
    )
    for n in range(400):  # the sync's first write then takes far more than 32 KiB
        control(
            sandbox_url,
            "/__sandbox__/balances",
            {"account": "alice", "source": "funding", "ccy": f"NEW{n}", "amount": "1"},
        )
    before = holdings(linked)
    (linked.home / "keyfolio.log").write_text("")
    # 32 KiB per file: the database opens (its -shm file is 32 KiB) and the log starts, but
    # the sync's new balances do not fit in the database's write-ahead log.
    result = keyfolio(linked.home, "sync", preexec=_file_size_limit(32 * 1024))
    assert result.returncode == 2, result.stderr
    assert "Error: could not write the database" in result.stderr, result.stderr
    assert "Hint: " in result.stderr and "last good data is kept" in result.stderr
    assert "bug in keyfolio" not in result.stderr
    after = holdings(linked)
    assert after == before  # nothing half-written, no zeros
    assert after["BTC"] == "0.5" and not any(asset.startswith("NEW") for asset in after)
    with sqlite3.connect(linked.home / "keyfolio.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    assert linked("sync").returncode == 0  # with space again, the sync lands whole
    after = holdings(linked)
    assert after["BTC"] == "0.50999" and sum(a.startswith("NEW") for a in after) == 400


def _corrupt_vault_version(home: Path) -> None:
    vault = home / "vault.bin"
    data = bytearray(vault.read_bytes())
    data[7] = 2  # the format version byte, after the 7-byte magic
    vault.write_bytes(bytes(data))


def test_vault_from_a_newer_keyfolio(linked: Runner, sandbox_url: str) -> None:
    _corrupt_vault_version(linked.home)
    before = (linked.home / "vault.bin").read_bytes()
    results = each_command(linked.home, sandbox_url)
    assert_environment_error(results, "written by a newer keyfolio", "format version 2", "Upgrade")
    assert (linked.home / "vault.bin").read_bytes() == before


def test_database_from_a_newer_keyfolio(linked: Runner, sandbox_url: str) -> None:
    with sqlite3.connect(linked.home / "keyfolio.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0999'")
    db.close()
    results = each_command(linked.home, sandbox_url)
    assert_environment_error(results, "schema revision 0999", "newer keyfolio", "upgrade")


@contextmanager
def held_lock(home: Path, *, readers_too: bool) -> Iterator[None]:
    """Another process's write lock on the database (``readers_too``: exclusive mode)."""
    db = sqlite3.connect(home / "keyfolio.db", isolation_level=None)
    try:
        if readers_too:  # no shared memory: readers cannot even look
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        db.execute("UPDATE portfolios SET name = name")
        yield
    finally:
        db.execute("ROLLBACK")
        db.close()


LOCK_ENV = {"KEYFOLIO_DB_LOCK_TIMEOUT_SECONDS": "0.2"}  # the documented bound, set low


@pytest.mark.fault("db_locked", sees="Error: … is locked Hint: Another keyfolio process …; exit 2")
def test_locked_database_writers_wait_then_report(linked: Runner, sandbox_url: str) -> None:
    before = holdings(linked)
    with held_lock(linked.home, readers_too=False):
        writers = each_command(
            linked.home, sandbox_url, env=LOCK_ENV, commands=("sync", "account add")
        )
        reader = keyfolio(linked.home, "show", "--json", env=LOCK_ENV)
    assert_environment_error(writers, "is locked", "Another keyfolio process")
    assert reader.returncode == 0, reader.stderr  # reading never waits for a writer
    assert holdings(linked) == before
    names = [a["name"] for a in linked("show", "--json").json()["accounts"]]
    assert names == ["alice"]  # the refused link left nothing behind
    assert linked("account", "list").returncode == 0


def test_locked_database_exclusive_mode_stops_every_command(
    linked: Runner, sandbox_url: str
) -> None:
    with held_lock(linked.home, readers_too=True):
        results = each_command(linked.home, sandbox_url, env=LOCK_ENV)
    assert_environment_error(results, "is locked", "KEYFOLIO_DB_LOCK_TIMEOUT_SECONDS")


def test_log_file_rotates_with_configured_size(kf: Runner) -> None:
    env = {"KEYFOLIO_LOG_MAX_BYTES": "1024", "KEYFOLIO_LOG_BACKUPS": "2"}
    log = kf.home / "keyfolio.log"
    kf.home.mkdir(mode=0o700)
    for _ in range(3):  # fill the log past its limit, then a run rotates it: three rotations
        with log.open("a") as handle:
            handle.write("x" * 1100 + "\n")
        assert kf("portfolio", "list", env=env).returncode == 0
    logs = sorted(p.name for p in kf.home.iterdir() if p.name.startswith("keyfolio.log"))
    assert logs == ["keyfolio.log", "keyfolio.log.1", "keyfolio.log.2"]
    assert log.stat().st_size < 1024 and "keyfolio started" in log.read_text()
