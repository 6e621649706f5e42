"""Hosted mode end to end: `keyfolio scheduler`, two `keyfolio worker` processes and a server,
on real PostgreSQL and Redis, against sandbox accounts; one worker is killed mid-job.

The first worker is stopped at a known point: the sandbox holds its first balance request
(a ``hold`` fault), and the test waits until the request is held, then kills the worker with
SIGKILL. The job it held was never acknowledged: the second worker takes it again once the
dead worker's heartbeat is silent, and every account is synced exactly once in the round.
The test waits for the server's event stream, never for time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import BOB_KEY, PASSWORD, READ_KEY, SECRETS, Runner, base_state, control
from hosted_support import needs_servers, stop_keyfolio
from zygote import popen

from keyfolio.api.server import ServerThread
from keyfolio.config import Settings
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state

CAROL_KEY = {"apiKey": "carol-key-3b4c", "secret": "carol-secret-5d6e", "passphrase": "carol-p-7f"}
DAVE_KEY = {"apiKey": "dave-key-8a9b", "secret": "dave-secret-0c1d", "passphrase": "dave-pp-2e"}
ACCOUNTS = {"alice": READ_KEY, "bob": BOB_KEY, "carol": CAROL_KEY, "dave": DAVE_KEY}


def _state() -> dict[str, Any]:
    """The CLI tests' sandbox, with two more exchange accounts (each linkable once)."""
    state = base_state()
    for name, key in (("carol", CAROL_KEY), ("dave", DAVE_KEY)):
        state["keys"].append({**key, "perm": "read_only", "account": name})
        state["accounts"][name] = {**state["accounts"]["bob"], "trading": {"ETH": "3"}}
    return state


BALANCE_PATH = "/api/v5/account/balance"


class EventLog:
    """The server's SSE stream, read on a thread; ``wait`` blocks until a condition holds."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []
        self._changed = threading.Condition()
        self._client = httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=None))
        self._stream = self._client.stream("GET", "/api/v1/events")
        self._response = self._stream.__enter__()
        self._lines = self._response.iter_lines()
        assert next(self._lines) == ": connected"
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        kind = None
        try:
            for line in self._lines:
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind is not None:
                    with self._changed:
                        self.events.append((kind, json.loads(line.removeprefix("data: "))))
                        self._changed.notify_all()
        except httpx.HTTPError:
            return  # the stream was closed

    def synced(self) -> dict[str, int]:
        """How many ``account.status`` events each account had."""
        counted: dict[str, int] = {}
        for kind, data in self.events:
            if kind == "account.status":
                name = str(data["account"])
                counted[name] = counted.get(name, 0) + 1
        return counted

    def wait(self, condition: object, what: str, timeout: float = 180) -> None:
        """Until ``condition()`` holds; the timeout only turns a hang into a failure."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout=timeout):  # type: ignore[arg-type]
                raise AssertionError(f"timed out waiting for {what}: {self.events}")

    def close(self) -> None:
        self._response.close()
        self._stream.__exit__(None, None, None)
        self._client.close()
        self._thread.join()


@pytest.fixture
def hosted(hosted: dict[str, str]) -> dict[str, str]:
    """The hosted environment (conftest.py), with workers that beat every 2 s."""
    return {**hosted, "KEYFOLIO_BROKER_HEARTBEAT_SECONDS": "2"}


def _start(home: Path, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    full.update(env, KEYFOLIO_HOME=str(home), KEYFOLIO_PASSWORD=PASSWORD)
    with log.open("wb") as out:
        return popen(list(args), env=full, stdout=out, stderr=subprocess.STDOUT)


def _rows(database_url: str, query: str) -> list[tuple[object, ...]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


def _per_account(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Sync runs and snapshot sets per account."""
    counted = []
    for table in ("sync_runs", "snapshot_sets"):
        rows = _rows(
            url,
            f"SELECT a.name, count(*) FROM {table} t JOIN accounts a ON a.id = t.account_id "
            "GROUP BY a.name",
        )
        counted.append({str(name): int(str(count)) for name, count in rows})
    return counted[0], counted[1]


def _run_round(
    tmp_path: Path, sandbox_url: str, hosted: dict[str, str], events: EventLog
) -> tuple[dict[str, int], dict[str, int]]:
    """Link the accounts, hold the first balance request, start a worker, send a round, kill
    the worker inside its job, start another; return the counts the linking left."""
    admin = Runner(tmp_path / "admin")  # another machine: its own data directory
    for name, key in ACCOUNTS.items():
        added = admin(
            "account", "add", "okx", "--name", name, "--api-url", sandbox_url,
            creds=key, env=hosted,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    linked = _per_account(hosted["KEYFOLIO_DATABASE_URL"])
    control(sandbox_url, "/__sandbox__/faults", {"path": BALANCE_PATH, "mode": "hold"})
    logs = tmp_path / "logs"
    logs.mkdir()
    doomed = _start(tmp_path / "w1", hosted, logs / "w1.log", "worker", "-c", "1")
    survivor = None
    try:
        sent = admin("scheduler", "--once", "--interval", "3600", "--jitter", "0", env=hosted)
        assert sent.returncode == 0 and "sent 4 sync jobs" in sent.stderr, sent.stderr
        held = control(sandbox_url, "/__sandbox__/faults/held?wait=120")["held"]
        assert len(held) == 1, held  # the first worker is inside a job
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        control(sandbox_url, "/__sandbox__/faults/release", {})
        survivor = _start(tmp_path / "w2", hosted, logs / "w2.log", "worker", "-c", "2")
        events.wait(
            lambda: set(events.synced()) == set(ACCOUNTS),
            "every account's status on the server's stream",
        )
    finally:
        for process in (doomed, survivor):
            if process is not None:
                stop_keyfolio(process)  # SIGTERM: a worker finishes its job first
    assert survivor is not None and survivor.returncode == 0, (logs / "w2.log").read_text()
    for log in (logs / "w1.log", logs / "w2.log"):  # no secret in any worker's output
        text = log.read_text()
        assert "Traceback" not in text, text
        for secret in SECRETS:
            assert secret not in text
    return linked


@needs_servers
def test_a_round_survives_a_killed_worker_and_syncs_each_account_once(
    tmp_path: Path, hosted: dict[str, str]
) -> None:
    with SandboxThread(parse_state(_state()), rate_limit=False) as sandbox:
        settings = Settings(
            home=tmp_path / "server",
            database_url=hosted["KEYFOLIO_DATABASE_URL"],
            broker_url=hosted["KEYFOLIO_BROKER_URL"],
            broker_namespace=hosted["KEYFOLIO_BROKER_NAMESPACE"],
        )
        with ServerThread(settings, password=PASSWORD) as server:
            health = httpx.get(f"{server.url}/api/v1/health", timeout=10).json()
            assert health["refresh"] == "hosted"
            events = EventLog(server.url)
            try:
                linked_runs, linked_sets = _run_round(tmp_path, sandbox.url, hosted, events)
            finally:
                events.close()
    assert events.synced() == dict.fromkeys(ACCOUNTS, 1)  # once each, not twice
    assert all(data["status"] == "ok" for kind, data in events.events if kind == "account.status")
    updated = {
        account
        for kind, data in events.events
        if kind == "portfolio.updated"
        for account in str(data["account"]).split(",")
    }
    assert updated == set(ACCOUNTS)
    url = hosted["KEYFOLIO_DATABASE_URL"]
    runs, sets = _per_account(url)  # the link's first import, then exactly one round's sync
    assert runs == {name: linked_runs[name] + 1 for name in ACCOUNTS}
    assert sets == {name: 2 * linked_sets[name] for name in ACCOUNTS}  # no set twice
    rounds = _rows(url, "SELECT account, count(*) FROM sync_rounds GROUP BY account")
    assert dict(rounds) == dict.fromkeys(ACCOUNTS, 1)
