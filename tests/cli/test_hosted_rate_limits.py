"""A worker never makes a venue answer 429: two `keyfolio worker` processes sync accounts of one
OKX sandbox whose per-IP limits are scaled down (``ip_limit_scale``: 5 ticker requests per 2 s
instead of 20), so a handful of accounts reaches them.

Every job prices its account with one public ticker request, limited per IP. With the shared
budgets in Redis the sandbox refuses nothing; with them off, the same workers make it answer 429
(the sibling test holds the first ticker requests and lets them go at once, so the burst does
not depend on the machine's speed). The tests wait for the workers' events (every account's
status, relayed through Redis) and for held requests, never for time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from cli_support import PASSWORD, control
from hosted_support import (
    REDIS_URL,
    link_accounts,
    needs_servers,
    start_keyfolio,
    stop_keyfolio,
)

from keyfolio.config import Settings
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state

ACCOUNTS = 12  # 4 threads per worker prefetch 8 jobs: each of the two workers gets some
SCALE = 0.25  # the sandbox: OKX's 20 ticker requests / 2 s per IP become 5
SHARE = "0.15"  # the workers' budget: 0.15 of 20, 3 requests per 3 s (window + 1 s slack)
TICKERS = "/api/v5/market/tickers"


def _state() -> dict[str, Any]:
    keys, accounts = [], {}
    for i in range(ACCOUNTS):
        name = f"acct{i}"
        key = {"apiKey": f"limit-key-{i}", "secret": f"limit-secret-{i}"}
        keys.append({**key, "passphrase": f"pass-{i}", "perm": "read_only", "account": name})
        accounts[name] = {"trading": {"BTC": "0.5", "USDT": str(100 + i)}, "funding": {"ETH": "1"}}
    return {
        "tickers": {"BTC-USDT": {"last": "60000"}, "ETH-USDT": {"last": "3000"}},
        "keys": keys,
        "accounts": accounts,
    }


class Statuses:
    """The workers' ``account.status`` events, read from the deployment's Redis channel."""

    def __init__(self, namespace: str) -> None:
        import redis

        assert REDIS_URL is not None
        self._client = redis.Redis.from_url(REDIS_URL)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(f"{namespace}:events")
        self.seen: dict[str, str] = {}

    def wait_all(self, names: set[str], timeout: float = 300) -> None:
        """Until every account in ``names`` had a status; the timeout turns a hang into a
        failure."""
        deadline = time.monotonic() + timeout
        while not names <= set(self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; statuses so far: {self.seen}")
            # None: nothing yet, or a subscription notice (ignored)
            message = self._pubsub.get_message(timeout=left)
            if message is None:
                continue
            event = json.loads(message["data"])
            if event["type"] == "account.status":
                self.seen[event["data"]["account"]] = event["data"]["status"]

    def close(self) -> None:
        self._pubsub.close()
        self._client.close()


def _wait_for_workers(
    hosted: dict[str, str], count: int, processes: list[subprocess.Popen[bytes]]
) -> None:
    """Until ``count`` workers send heartbeats to Redis (each one consumes the queue)."""
    from keyfolio.services.hosted_sync import live_workers

    settings = Settings(
        broker_url=hosted["KEYFOLIO_BROKER_URL"],
        broker_namespace=hosted["KEYFOLIO_BROKER_NAMESPACE"],
    )
    poll = threading.Event()
    while live_workers(settings)[0] < count:
        assert all(p.poll() is None for p in processes), "a worker ended before it started"
        poll.wait(0.1)  # a condition polled, not a time waited for


def _run_round(
    tmp_path: Path, hosted: dict[str, str], sandbox_url: str, *, budgets: bool
) -> Statuses:
    """Link the accounts, start two workers (4 threads each), send one round, and return once
    every account's job reported its status; the workers are stopped with SIGTERM."""
    link_accounts(tmp_path / "admin", hosted, sandbox_url, _state()["keys"], PASSWORD)
    env = {**hosted, "KEYFOLIO_RATE_BUDGET_SHARE": SHARE}
    if not budgets:
        env["KEYFOLIO_RATE_LIMITS"] = "false"
    logs = tmp_path / "logs"
    logs.mkdir()
    statuses = Statuses(hosted["KEYFOLIO_BROKER_NAMESPACE"])
    workers = [
        start_keyfolio(
            tmp_path / f"w{i}", env, logs / f"w{i}.log", "worker", "-c", "4", password=PASSWORD
        )
        for i in range(2)
    ]
    try:
        _wait_for_workers(hosted, 2, workers)  # both consume before the round is sent
        scheduler = start_keyfolio(
            tmp_path / "s", env, logs / "s.log",
            "scheduler", "--once", "--interval", "3600", "--jitter", "0", password=PASSWORD,
        )  # fmt: skip
        assert scheduler.wait(timeout=120) == 0, (logs / "s.log").read_text()
        if not budgets:  # the burst: 6 ticker requests in flight at once, then let go together
            url = sandbox_url + "/__sandbox__/faults/held?wait=300&count=6"
            with urllib.request.urlopen(url, timeout=310) as answer:
                held = json.loads(answer.read())["held"]
            assert len(held) == 6, held
            control(sandbox_url, "/__sandbox__/faults/release", {})
        statuses.wait_all({f"acct{i}" for i in range(ACCOUNTS)})
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)  # finishes its job in progress, then exits
        for worker in workers:
            stop_keyfolio(worker, signal_it=False)
        statuses.close()
    for i, worker in enumerate(workers):
        text = (logs / f"w{i}.log").read_text()
        assert worker.returncode == 0 and "Traceback" not in text, text
        jobs = (tmp_path / f"w{i}" / "keyfolio.log").read_text()
        assert ": syncing" in jobs, f"worker {i} ran no job"  # the budget was shared
    return statuses


@needs_servers
def test_workers_sharing_the_budget_never_make_the_venue_answer_429(
    tmp_path: Path, hosted: dict[str, str]
) -> None:
    with SandboxThread(parse_state(_state()), ip_limit_scale=SCALE) as sandbox:
        statuses = _run_round(tmp_path, hosted, sandbox.url, budgets=True)
        limits = control(sandbox.url, "/__sandbox__/limits")
        log = control(sandbox.url, "/__sandbox__/requests")
    assert statuses.seen == {f"acct{i}": "ok" for i in range(ACCOUNTS)}
    tickers = next(w for w in limits["windows"] if w["what"] == TICKERS)
    assert (tickers["limit"], tickers["total"]) == (5, ACCOUNTS)  # a ticker request per job
    assert limits["refused"] == 0, limits["refused_by_limit"]
    assert "429" not in limits["statuses"], limits["statuses"]
    assert not [entry for entry in log if entry["status"] == 429]


@needs_servers
def test_without_the_shared_budget_the_same_workers_are_refused(
    tmp_path: Path, hosted: dict[str, str]
) -> None:
    with SandboxThread(parse_state(_state()), ip_limit_scale=SCALE) as sandbox:
        control(sandbox.url, "/__sandbox__/faults", {"path": TICKERS, "mode": "hold", "count": 6})
        statuses = _run_round(tmp_path, hosted, sandbox.url, budgets=False)
        limits = control(sandbox.url, "/__sandbox__/limits")
    # Six requests arrived together at a limit of five: the venue refused, the jobs retried.
    assert limits["refused_by_limit"].get(TICKERS, 0) >= 1, limits
    assert limits["statuses"].get("429", 0) >= 1
    assert set(statuses.seen) == {f"acct{i}" for i in range(ACCOUNTS)}
