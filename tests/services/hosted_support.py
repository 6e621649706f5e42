"""Hosted-mode test helpers: a fresh PostgreSQL database and a Redis namespace per test.

Skipped with a reason unless KEYFOLIO_TEST_PG_URL and KEYFOLIO_TEST_REDIS_URL name servers
(`.ci/run` starts both: scripts/pg_test_server.sh, scripts/redis_test_server.sh).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pg_support
import pytest

# Read at import: the autouse clean_environ fixture removes KEYFOLIO_* before each test.
PG_URL = os.environ.get("KEYFOLIO_TEST_PG_URL")
REDIS_URL = os.environ.get("KEYFOLIO_TEST_REDIS_URL")

needs_servers = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="set KEYFOLIO_TEST_PG_URL and KEYFOLIO_TEST_REDIS_URL to run the hosted-mode tests "
    "(scripts/pg_test_server.sh, scripts/redis_test_server.sh)",
)


def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration of the generator; its URL."""
    assert PG_URL is not None
    yield from pg_support.fresh_pg_database(PG_URL, prefix="keyfolio_hosted")


def fresh_namespace() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    assert REDIS_URL is not None
    namespace = f"kftest-{uuid.uuid4().hex[:12]}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{namespace}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def hosted_env(database_url: str, namespace: str) -> dict[str, str]:
    """The environment of a hosted-mode process on this test's database and namespace."""
    assert REDIS_URL is not None
    return {
        "KEYFOLIO_DATABASE_URL": database_url,
        "KEYFOLIO_BROKER_URL": REDIS_URL,
        "KEYFOLIO_BROKER_NAMESPACE": namespace,
    }


def start_keyfolio(
    home: Path, env: dict[str, str], log: Path, *args: str, password: str
) -> subprocess.Popen[bytes]:
    """`keyfolio ARGS` (a worker, a scheduler) in its own process, with its own data directory
    and the vault password in its environment; its output goes to ``log``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    full.update(env, KEYFOLIO_HOME=str(home), KEYFOLIO_PASSWORD=password)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from keyfolio.cli.main import run; run()", *args],
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def link_accounts(
    home: Path, hosted: dict[str, str], sandbox_url: str, keys: list[dict[str, str]], password: str
) -> None:
    """OKX accounts of the sandbox straight into the shared database and its vault (no first
    import): one per key of the sandbox's state, named after its ``account``."""
    from keyfolio.config import Settings
    from keyfolio.domain.accounts import AccountSpec, Credentials
    from keyfolio.services.context import App

    settings = Settings(
        home=home,
        database_url=hosted["KEYFOLIO_DATABASE_URL"],
        broker_url=hosted["KEYFOLIO_BROKER_URL"],
        broker_namespace=hosted["KEYFOLIO_BROKER_NAMESPACE"],
    )
    app = App(settings=settings, password=lambda **_: password)
    try:
        with app.db().session() as store:
            for key in keys:
                spec = AccountSpec(exchange="okx", name=key["account"], api_url=sandbox_url)
                store.add_account(spec=spec)
        vault = app.vault(create=True)
        for key in keys:
            fields = {
                "apiKey": key["apiKey"],
                "secret": key["secret"],
                "password": key["passphrase"],
            }
            vault.set(key["account"], Credentials(fields=fields))
    finally:
        app.close()


def wait_for_line(
    path: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 120
) -> str:
    """Until the log file ``path`` has a line with ``text`` (an event the process writes);
    the file's text. Fails when the process ends first, or after ``timeout`` seconds (a hang
    made a failure)."""
    deadline = time.monotonic() + timeout
    poll = threading.Event()
    while True:
        found = path.read_text() if path.exists() else ""
        if text in found:
            return found
        assert process.poll() is None, f"the process ended (status {process.returncode}) first"
        assert time.monotonic() < deadline, f"no line with {text!r} in {path}:\n{found}"
        poll.wait(0.05)  # a condition polled, not a time waited for


def stop_keyfolio(process: subprocess.Popen[bytes], *, signal_it: bool = True) -> None:
    """SIGTERM, then wait; killed if it hangs. A worker finishes its jobs in progress first;
    one still starting exits before taking a job (any moment after `run()` began: before, the
    interpreter's default action ends it). ``signal_it=False``: it was sent already (a second
    one changes nothing)."""
    if signal_it and process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=180)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
