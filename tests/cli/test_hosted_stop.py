"""SIGTERM stops a `keyfolio worker` cleanly at any moment of its life (docs/deploy.md).

The kernel hands a signal sent to a process to any of its threads that does not block it, and
a thread that starts a thread (every job does, as its event loop ends) can take one meant for
the main thread. A Python handler then only marks itself due for the main thread, which sleeps
in ``Event.wait()`` and never runs it: the worker ran on, SIGTERM lost (issue 10's flaky
`test_hosted_rate_limits`). So no thread may take SIGTERM but the one that waits for it
(:mod:`keyfolio.cli._signals`): the first test checks the threads of a worker held inside a
job, then stops it there. The second stops a worker at its very start, before it has written
its log's first line, where the default action used to kill it.

Each test holds the worker at a known point (a sandbox request held, its log file a full pipe)
and waits for events, never for time.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import PASSWORD, control
from hosted_support import (
    link_accounts,
    needs_servers,
    start_keyfolio,
    stop_keyfolio,
    wait_for_line,
)

from keyfolio.config import Settings
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state

ACCOUNTS = 3
HISTORY = "/api/v5/account/bills-history-archive"  # a job's first request after its commit
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads threads' signal masks in /proc"
)


def _state() -> dict[str, Any]:
    keys, accounts = [], {}
    for i in range(ACCOUNTS):
        name = f"acct{i}"
        keys.append(
            {"apiKey": f"stop-key-{i}", "secret": f"stop-secret-{i}", "passphrase": f"pass-{i}",
             "perm": "read_only", "account": name}
        )  # fmt: skip
        accounts[name] = {"trading": {"BTC": "0.5", "USDT": str(100 + i)}}
    return {"tickers": {"BTC-USDT": {"last": "60000"}}, "keys": keys, "accounts": accounts}


def _takers(pid: int) -> list[int]:
    """The threads of process ``pid`` that SIGINT or SIGTERM can be delivered to: those that
    do not block it (a thread in ``sigwait`` does not, while it waits)."""
    takers = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):  # a thread that has just ended
            continue
        blocked = int(status.split("SigBlk:")[1].split()[0], 16)
        if any(not blocked & (1 << (number - 1)) for number in STOP_SIGNALS):
            takers.append(int(task.name))
    return takers


def _hosted_settings(hosted: dict[str, str]) -> Settings:
    return Settings(
        broker_url=hosted["KEYFOLIO_BROKER_URL"],
        broker_namespace=hosted["KEYFOLIO_BROKER_NAMESPACE"],
    )


@needs_servers
@linux_only
@pytest.mark.fault(
    "stop_worker", sees="exit 0; the job in progress synced once, the others wait in the queue"
)
def test_sigterm_right_after_a_job_committed_lets_it_finish_and_hands_the_rest_back(
    tmp_path: Path, hosted: dict[str, str]
) -> None:
    from keyfolio.services.hosted import queue_depth

    with SandboxThread(parse_state(_state())) as sandbox:
        link_accounts(tmp_path / "admin", hosted, sandbox.url, _state()["keys"], PASSWORD)
        control(sandbox.url, "/__sandbox__/faults", {"path": HISTORY, "mode": "hold"})
        logs = tmp_path / "logs"
        logs.mkdir()
        worker = start_keyfolio(
            tmp_path / "w", hosted, logs / "w.log", "worker", "-c", "1", password=PASSWORD
        )
        try:
            scheduler = start_keyfolio(
                tmp_path / "s", hosted, logs / "s.log",
                "scheduler", "--once", "--interval", "3600", "--jitter", "0", password=PASSWORD,
            )  # fmt: skip
            assert scheduler.wait(timeout=120) == 0, (logs / "s.log").read_text()
            held = control(sandbox.url, "/__sandbox__/faults/held?wait=120")["held"]
            assert len(held) == 1, held  # the job's sync committed; its history import waits
            takers = _takers(worker.pid)
            assert len(takers) <= 1 and worker.pid not in takers, (
                f"threads {takers} of the worker (main thread {worker.pid}) could take SIGTERM: "
                "one that is not waiting for it would leave the main thread asleep"
            )
            worker.send_signal(signal.SIGTERM)
            wait_for_line(tmp_path / "w" / "keyfolio.log", "Shutting down", worker)
        finally:
            control(sandbox.url, "/__sandbox__/faults/release", {})
            stop_keyfolio(worker)  # one more SIGTERM if it still runs: that changes nothing
    output = (logs / "w.log").read_text()
    log = (tmp_path / "w" / "keyfolio.log").read_text()
    assert worker.returncode == 0 and "Traceback" not in output + log, output + log
    assert "SIGTERM: stopping once the jobs in progress finish." in output
    synced = log.count(": synced (ok)")
    assert synced >= 1, log  # the job in progress finished and was acknowledged
    assert synced + queue_depth(_hosted_settings(hosted)) == ACCOUNTS  # the rest went back


@needs_servers
@linux_only
@pytest.mark.fault(
    "stop_worker", sees="exit 0 before any job: `worker stopped before taking any job`"
)
def test_sigterm_before_the_worker_wrote_a_line_ends_it_before_any_job(
    tmp_path: Path, hosted: dict[str, str]
) -> None:
    """The worker is held at its first write: its log file is a pipe this test filled."""
    home = tmp_path / "w"
    home.mkdir(mode=0o700)
    pipe = home / "keyfolio.log"
    os.mkfifo(pipe, 0o600)
    ends = os.open(pipe, os.O_RDWR | os.O_NONBLOCK)  # Linux: a reader and a writer, no wait
    for size in (4096, 1):  # fill the pipe to the last byte: no log line can go in
        try:
            while True:
                os.write(ends, b"-" * size)
        except BlockingIOError:
            pass
    worker = None
    try:
        worker = start_keyfolio(home, hosted, tmp_path / "w.log", "worker", password=PASSWORD)
        _wait_until_open(worker, pipe)
        worker.send_signal(signal.SIGTERM)  # it is stuck in its first write
        written = _drain(ends, worker)
    finally:
        os.close(ends)  # a worker still writing to the pipe fails (EPIPE)
        if worker is not None:
            stop_keyfolio(worker)
    output = (tmp_path / "w.log").read_text()
    assert worker.returncode == 0, f"status {worker.returncode}: {output}"
    text = written.decode().lstrip("-")
    assert "keyfolio started" in text and "worker stopped before taking any job" in text, text
    assert "worker started" not in text and "Traceback" not in output + text


def _wait_until_open(process: subprocess.Popen[bytes], path: Path) -> None:
    """Until ``process`` has ``path`` open (a condition polled in /proc, not a time waited
    for); a hang of two minutes is a failure."""
    deadline = time.monotonic() + 120
    poll = threading.Event()
    while not any(_points_at(fd, path) for fd in Path(f"/proc/{process.pid}/fd").iterdir()):
        assert process.poll() is None, f"it ended first (status {process.returncode})"
        assert time.monotonic() < deadline, f"it never opened {path}"
        poll.wait(0.01)


def _points_at(fd: Path, target: Path) -> bool:
    try:
        return Path(os.readlink(fd)) == target
    except OSError:  # closed meanwhile
        return False


def _drain(fd: int, process: subprocess.Popen[bytes]) -> bytes:
    """Everything written to the pipe ``fd`` until ``process`` ends; a process still running
    after three minutes fails the test."""
    deadline = time.monotonic() + 180
    chunks = []
    while True:
        readable, _, _ = select.select([fd], [], [], 0.05)
        if readable:
            chunks.append(os.read(fd, 65536))
        elif process.poll() is not None:
            return b"".join(chunks)
        assert time.monotonic() < deadline, "still running: " + b"".join(chunks).decode()
