"""`keyfolio sync` from the command line while `keyfolio serve` syncs the same data directory.

The sandbox answers slowly (latency) so the two syncs overlap, and the CLI sync is started
only once the server's sync is talking to the sandbox (a condition on the sandbox's request
log). The checks hold whatever the interleaving: nothing lost, nothing doubled, the vault intact.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
from cli_support import PASSWORD, READ_KEY, Runner, base_state, control
from race_support import spawn, wait_until

from keyfolio.api.server import ServerThread
from keyfolio.config import Settings
from keyfolio.sandbox.server import SandboxThread
from keyfolio.sandbox.state import parse_state
from keyfolio.vault import Vault

COUNTED = ["snapshot_sets", "snapshots", "trades", "transfers", "ledger_entries", "sync_runs"]


def counts(home: Path) -> dict[str, int]:
    with sqlite3.connect(home / "keyfolio.db") as db:
        return {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COUNTED
        }


def holdings(runner: Runner) -> dict[str, str]:
    show = runner("show", "--json").json()
    return {h["asset"]: h["amount"] for h in show["holdings"]}


def link(runner: Runner, url: str) -> None:
    result = runner("account", "add", "okx", "--name", "alice", "--api-url", url, creds=READ_KEY)
    assert result.returncode == 0, result.stderr


def test_cli_sync_during_a_server_sync_loses_nothing(tmp_path: Path) -> None:
    with SandboxThread(parse_state(base_state()), latency_ms=250) as sandbox:
        kf = Runner(tmp_path / "home")
        link(kf, sandbox.url)
        after_link = counts(kf.home)
        for side in ("buy", "sell"):  # new history for both syncs to import
            control(
                sandbox.url,
                "/__sandbox__/trade",
                {"account": "alice", "instId": "BTC-USDT", "side": side, "sz": "0.01"},
            )
        control(sandbox.url, "/__sandbox__/reset-log", {})
        settings = Settings(home=kf.home, poll_seconds=3600)
        with ServerThread(settings, password=PASSWORD, live=False) as server:
            task = httpx.post(f"{server.url}/api/v1/sync", timeout=30).json()["task"]
            wait_until(
                lambda: bool(control(sandbox.url, "/__sandbox__/requests")),
                "the server's sync to reach the sandbox",
            )
            cli = spawn(kf.home, "sync", "--json")

            def server_done() -> bool:
                answer = httpx.get(f"{server.url}/api/v1/tasks/{task}", timeout=30).json()
                return bool(answer["state"] != "running")

            wait_until(server_done, "the server's sync to finish", timeout=120)
            finished = httpx.get(f"{server.url}/api/v1/tasks/{task}", timeout=30).json()
            out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, err
        assert finished["state"] == "done" and finished["error"] is None, finished
        assert [a["status"] for a in finished["accounts"]] == ["ok"]
        report = json.loads(out)
        assert [a["status"] for a in report["accounts"]] == ["ok"]
        assert all(not h["errors"] for h in report["history"])

        # A reference: the same exchange account linked afresh, in one go, with no overlap.
        reference = Runner(tmp_path / "reference")
        link(reference, sandbox.url)

        assert holdings(kf) == holdings(reference)
        got, expected = counts(kf.home), counts(reference.home)
        for table in ("trades", "transfers", "ledger_entries"):
            assert got[table] == expected[table], table  # none lost, none doubled
        assert got["trades"] == 2
        # Each of the two syncs recorded its run and one snapshot set per source.
        assert got["sync_runs"] == after_link["sync_runs"] + 2
        assert got["snapshot_sets"] == 3 * after_link["snapshot_sets"]
        assert got["snapshots"] > after_link["snapshots"]
    vault = Vault.open(kf.home / "vault.bin", PASSWORD)
    assert vault.names() == ["alice"]
    assert vault.get("alice").secret == READ_KEY["secret"]
