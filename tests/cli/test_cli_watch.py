"""`keyfolio watch` as a subprocess: a sandbox trade shows up, SIGINT exits 0 cleanly."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cli_support import PASSWORD, SECRETS, Runner, control
from zygote import popen


class Lines:
    """The lines a process prints, read on a thread so the test can wait with a timeout."""

    def __init__(self, stream: object) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float = 60.0) -> str:
        while True:
            line = self._queue.get(timeout=timeout)
            assert line is not None, f"output ended before {prefix!r}: {self.seen}"
            self.seen.append(line)
            if line.startswith(prefix):
                return line


@contextmanager
def watching(kf: Runner, *args: str) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    env.update(KEYFOLIO_HOME=str(kf.home), KEYFOLIO_PASSWORD=PASSWORD, COLUMNS="200")
    proc = popen(["watch", *args], env=env)
    try:
        yield proc, Lines(proc.stdout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Watched:
    """What `keyfolio watch` printed: its first line, the update, every line read, stderr."""

    first: str
    update: str
    seen: list[str]
    stderr: str

    def leaked(self, secrets: Iterable[str]) -> list[str]:
        """The ``secrets`` that appear anywhere in the output."""
        return [s for s in secrets if s in self.stderr or any(s in line for line in self.seen)]


def watch_a_trade(
    kf: Runner,
    sandbox_url: str,
    account: str,
    trade: dict[str, Any],
    *,
    poll_seconds: str = "30",
    status: str = "live",
    reason: str = "trade",
) -> Watched:
    """`keyfolio watch` until ``account`` is ``status``; the sandbox makes ``trade``; watch
    reports it (for ``reason``) and exits 0 on SIGINT."""
    with watching(kf, "--poll-seconds", poll_seconds) as (proc, lines):
        first = lines.wait_for("watching portfolio main (1 account)")
        lines.wait_for(f"account.status account={account} status={status}")
        control(sandbox_url, "/__sandbox__/trade", trade)
        update = lines.wait_for(f"portfolio.updated account={account} reason={reason}")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    return Watched(first, update, lines.seen, stderr)


def test_watch_prints_a_trade_with_the_new_total_and_stops_on_sigint(
    linked: Runner, sandbox_url: str
) -> None:
    sell = {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"}
    watched = watch_a_trade(linked, sandbox_url, "alice", sell)
    assert watched.first.endswith("total=39,670.00 USD")
    assert watched.update.endswith("total=39,664.00 USD")  # sold 0.1 BTC at 60,000, paid 6 USDT
    assert "Stopped watching." in watched.stderr
    for noise in ("Traceback", "Unclosed", "ResourceWarning", "Task was destroyed",
                  "never retrieved", "Error"):  # fmt: skip
        assert noise not in watched.stderr, watched.stderr
    assert watched.leaked(SECRETS) == []


def test_watch_an_unknown_portfolio_is_an_error(kf: Runner) -> None:
    result = kf("watch", "--portfolio", "nope")
    assert result.returncode == 1
    assert "Error:" in result.stderr and "nope" in result.stderr and "Hint:" in result.stderr


def test_watch_without_accounts_says_how_to_link_one(kf: Runner) -> None:
    result = kf("watch")
    assert result.returncode == 1
    assert "no account to watch" in result.stderr and "account add" in result.stderr
