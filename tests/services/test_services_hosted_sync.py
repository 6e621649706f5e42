"""On-demand syncs in hosted mode: the workers' replies in Redis, merged into one report, and
the end of the wait when no worker is alive (on a real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hosted_support import REDIS_URL, fresh_namespace

from keyfolio.config import Settings
from keyfolio.errors import ExchangeUnavailableError, NoWorkerError
from keyfolio.services.context import App
from keyfolio.services.hosted import JobResult
from keyfolio.services.hosted_sync import (
    SentSync,
    live_workers,
    reply_failure,
    reply_result,
    wait_for_results,
)

pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="set KEYFOLIO_TEST_REDIS_URL (scripts/redis_test_server.sh)"
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    for namespace in fresh_namespace():
        settings = Settings(
            home=tmp_path, broker_url=REDIS_URL, broker_namespace=namespace,
            broker_heartbeat_seconds=0.5,
        )  # fmt: skip
        yield App(settings=settings, password=lambda **_: "unused")


def _report(name: str, status: str) -> dict[str, object]:
    account: dict[str, object] = {"name": name, "status": status, "sources": []}
    account.update(error=None, hint=None, code=None)
    history: dict[str, object] = {"account": name, "new": {}, "skipped": None}
    history.update(unfinished=[], progress={}, errors=[])
    return {"accounts": [account], "prices_error": None, "history": [history]}


def test_the_replies_merge_in_the_order_sent_whatever_their_order(app: App) -> None:
    sent = SentSync(-1, ["alice", "bob", "carol", "dave"])
    reply_failure(app.settings, "dave", -1, ExchangeUnavailableError("OKX is down", hint="Wait."))
    reply_result(app.settings, JobResult("carol", -1, "gone"))
    reply_failure(app.settings, "bob", -1, ZeroDivisionError("division by zero"))
    reply_result(app.settings, JobResult("alice", -1, "synced", "ok", _report("alice", "ok")))
    reply_result(app.settings, JobResult("alice", -1, "synced", "ok", _report("alice", "ok")))
    seen: list[tuple[str, str]] = []
    merged = wait_for_results(app, sent, on_result=lambda name, status: seen.append((name, status)))
    assert seen == [("dave", "failed"), ("carol", "removed"), ("bob", "failed"), ("alice", "ok")]
    accounts = {entry["name"]: entry for entry in merged["accounts"]}
    assert list(accounts) == ["alice", "bob", "dave"]  # carol was removed meanwhile
    assert accounts["bob"]["code"] == "internal_error"
    assert "bug in keyfolio while syncing bob: ZeroDivisionError" in accounts["bob"]["error"]
    assert (accounts["dave"]["error"], accounts["dave"]["hint"]) == ("OKX is down", "Wait.")
    assert [entry["account"] for entry in merged["history"]] == ["alice"]


def test_without_a_live_worker_the_wait_ends_with_no_worker_error(app: App) -> None:
    assert live_workers(app.settings) == (0, 0.0)
    with pytest.raises(NoWorkerError) as caught:
        wait_for_results(app, SentSync(-2, ["alice"]))
    assert "none has sent a heartbeat to Redis for 0.5 s" in caught.value.message
    assert "1 sync job(s) are still waiting (0 in the queue)" in caught.value.message
    assert "keyfolio worker" in caught.value.hint
