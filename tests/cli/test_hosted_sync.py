"""`keyfolio sync` in hosted mode: the workers sync, the command waits for their results and
prints what a local sync prints; `--no-wait` only sends; with no worker it stops with an error.

A local sync (SQLite, in-process) of the same accounts against the same sandbox is the
reference for the output. The command waits on the workers' replies in Redis, and the no-worker
error comes from the missing heartbeats, so nothing here waits for time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import BOB_KEY, PASSWORD, READ_KEY, SECRETS, Runner, base_state, control
from hosted_support import needs_servers, start_keyfolio, stop_keyfolio

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state

pytestmark = needs_servers


@pytest.fixture
def sandbox() -> Iterator[str]:
    with SandboxThread(parse_state(base_state()), rate_limit=False) as running:
        yield running.url


def _link(runner: Runner, url: str, env: dict[str, str] | None = None) -> None:
    for name, key in (("alice", READ_KEY), ("bob", BOB_KEY)):
        added = runner(
            "account", "add", "okx", "--name", name, "--api-url", url, creds=key, env=env
        )
        assert added.returncode == 0, added.stderr


def _lines(text: str) -> list[str]:
    """What a sync says about the accounts (not its progress lines)."""
    starts = ("Error:", "Hint:", "Warning:", "Prices not refreshed:")
    return [line for line in text.splitlines() if line.startswith(starts)]


def test_the_workers_sync_and_the_command_prints_what_a_local_sync_prints(
    tmp_path: Path, hosted: dict[str, str], sandbox: str
) -> None:
    admin, local = Runner(tmp_path / "admin"), Runner(tmp_path / "local")
    _link(admin, sandbox, hosted)
    _link(local, sandbox)
    state = base_state()
    state["keys"] = [key for key in state["keys"] if key["apiKey"] != BOB_KEY["apiKey"]]
    control(sandbox, "/__sandbox__/state", state, method="PUT")  # bob's key is gone
    worker = start_keyfolio(
        tmp_path / "w", hosted, tmp_path / "w.log", "worker", "-c", "2", password=PASSWORD
    )
    try:
        # No password: the command only sends jobs and reads their results.
        remote = admin("sync", env=hosted, password=None)
        here = local("sync")
        remote_json = admin("sync", "--json", env=hosted, password=None)
        here_json = local("sync", "--json")
        alice = admin("sync", "--account", "alice", env=hosted, password=None)
    finally:
        stop_keyfolio(worker)
    assert worker.returncode == 0, (tmp_path / "w.log").read_text()
    assert remote.returncode == here.returncode == 1  # bob failed
    assert "Sent 2 sync job(s) to the workers (hosted mode)." in remote.stderr
    assert _lines(remote.stderr) == _lines(here.stderr)
    assert any(line.startswith("Error: bob: ") for line in _lines(remote.stderr))
    assert remote.stdout == here.stdout
    assert remote_json.returncode == here_json.returncode == 1
    assert remote_json.json() == here_json.json()
    assert [a["status"] for a in remote_json.json()["accounts"]] == ["ok", "failed"]
    assert alice.returncode == 0 and _lines(alice.stderr) == [], alice.stderr
    for text in [*admin.outputs, (tmp_path / "w.log").read_text()]:
        for secret in SECRETS:
            assert secret not in text


def test_no_wait_only_sends_and_without_a_worker_the_wait_ends_with_an_error(
    tmp_path: Path, hosted: dict[str, str], sandbox: str
) -> None:
    import redis

    admin = Runner(tmp_path / "admin")
    _link(admin, sandbox, hosted)
    sent = admin("sync", "--no-wait", env=hosted, password=None)
    assert sent.returncode == 0, sent.stderr
    assert "Sent 2 sync job(s) to the workers" in sent.stdout
    client = redis.Redis.from_url(hosted["KEYFOLIO_BROKER_URL"])
    try:
        queued = client.llen(f"{hosted['KEYFOLIO_BROKER_NAMESPACE']}:keyfolio-sync")
    finally:
        client.close()
    assert queued == 2
    as_json = admin("sync", "--no-wait", "--json", "--account", "bob", env=hosted, password=None)
    assert as_json.returncode == 0 and as_json.json() == {"sent": ["bob"]}
    # No worker has ever run: after one heartbeat period without one, the command says so.
    waited = admin("sync", env={**hosted, "KEYFOLIO_BROKER_HEARTBEAT_SECONDS": "1"}, password=None)
    assert waited.returncode == 1
    said = " ".join(waited.stderr.split())
    assert (
        "Error: no keyfolio worker is running: none has sent a heartbeat to Redis for 1 s, "
        "and 2 sync job(s) are still waiting (5 in the queue)"
    ) in said
    assert "Hint: Start a worker with `keyfolio worker`" in waited.stderr
    assert "Traceback" not in waited.stderr
    unknown = admin("sync", "--account", "nobody", env=hosted, password=None)
    assert unknown.returncode == 1 and "Error: no account named 'nobody'" in unknown.stderr


def test_sync_help_names_hosted_mode(tmp_path: Path) -> None:
    result = Runner(tmp_path / "home")("sync", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--no-wait" in text and "hosted mode" in text and "heartbeat" in text
