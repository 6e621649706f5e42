"""`keyfolio serve` in hosted mode: what it says at start, the password file, and the dashboard's
sync (``POST /api/v1/sync``), which the workers run while the server's vault stays locked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from cli_support import PASSWORD, READ_KEY, SECRETS, base_state
from hosted_support import needs_servers, start_keyfolio, stop_keyfolio
from test_hosted_e2e import EventLog

from keyfolio.api.server import ServerThread
from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state
from keyfolio.services.context import App

pytestmark = needs_servers


def _serve(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """`keyfolio serve --port 0`; its URL and the lines it printed up to "Press Ctrl-C"."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    full.update(env, KEYFOLIO_HOME=str(tmp_path / "server"), COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from keyfolio.cli.main import run; run()", "serve", "--port", "0"],
        env=full,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Press Ctrl-C"):
        line = proc.stdout.readline()
        assert line, f"serve ended early: {lines}"
        lines.append(line.strip())
    url = lines[0].split(" on ", 1)[1].split()[0].rstrip("/")
    return proc, url, lines


def test_a_hosted_server_says_who_syncs_and_how_the_vault_opens(
    tmp_path: Path, hosted: dict[str, str]
) -> None:
    proc, url, lines = _serve(tmp_path, hosted)
    try:
        assert any(line.startswith("Hosted mode: `keyfolio worker` processes") for line in lines)
        assert "No vault yet: create it on the dashboard's Unlock page" in " ".join(lines)
        body = {"name": "alice", "credentials": {"api_key": "k", "secret": "s", "passphrase": "p"}}
        refused = httpx.post(f"{url}/api/v1/accounts", json=body, timeout=30)
        assert refused.status_code == 423
        assert refused.json()["message"] == "there is no vault yet"
        assert "Create the vault on the dashboard's Unlock page" in refused.json()["hint"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    secret_file = tmp_path / "vault-password"
    secret_file.write_text(PASSWORD + "\n")
    proc, url, lines = _serve(tmp_path, {**hosted, "KEYFOLIO_PASSWORD_FILE": str(secret_file)})
    try:
        assert not any("vault" in line.lower() and "yet" in line for line in lines)
        vault = httpx.get(f"{url}/api/v1/vault", timeout=30).json()
        assert (vault["unlocked"], vault["auto_unlock"]) == (True, True)  # read from the file
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert PASSWORD not in out and "Traceback" not in out


def test_the_dashboards_sync_runs_on_the_workers_while_the_server_is_locked(
    tmp_path: Path, hosted: dict[str, str]
) -> None:
    settings = Settings(
        home=tmp_path / "admin",
        database_url=hosted["KEYFOLIO_DATABASE_URL"],
        broker_url=hosted["KEYFOLIO_BROKER_URL"],
        broker_namespace=hosted["KEYFOLIO_BROKER_NAMESPACE"],
    )
    with SandboxThread(parse_state(base_state()), rate_limit=False) as sandbox:
        admin = App(settings=settings, password=lambda **_: PASSWORD)
        with admin.db().session() as store:
            store.add_account(spec=AccountSpec(exchange="okx", name="alice", api_url=sandbox.url))
        fields = {"apiKey": READ_KEY["apiKey"], "secret": READ_KEY["secret"]}
        fields["password"] = READ_KEY["passphrase"]
        admin.vault(create=True).set("alice", Credentials(fields=fields))
        admin.close()
        worker = start_keyfolio(
            tmp_path / "w", hosted, tmp_path / "w.log", "worker", "-c", "2", password=PASSWORD
        )
        try:
            server_settings = replace(settings, home=tmp_path / "server")
            with ServerThread(server_settings) as server:  # no password: locked
                assert httpx.get(f"{server.url}/api/v1/vault", timeout=30).json()["exists"]
                events = EventLog(server.url)
                try:
                    started = httpx.post(f"{server.url}/api/v1/sync", json={}, timeout=30)
                    assert started.status_code == 202, started.text
                    task_id = started.json()["task"]

                    def finished() -> bool:
                        return any(
                            kind == "sync.progress" and data["task"] == task_id
                            and data["event"] != "start"
                            for kind, data in events.events
                        )  # fmt: skip

                    events.wait(finished, "the task's result on the server's stream")
                    task: dict[str, Any] = {"state": "running"}
                    while task["state"] == "running":  # it ends right after its last result
                        got = httpx.get(f"{server.url}/api/v1/tasks/{task_id}", timeout=30)
                        task = got.json()
                finally:
                    events.close()
        finally:
            stop_keyfolio(worker)
    assert task["state"] == "done" and task["progress"] == {"done": 1, "total": 1}
    assert [(a["account"], a["status"]) for a in task["accounts"]] == [("alice", "ok")]
    log = (tmp_path / "w.log").read_text() + (tmp_path / "w" / "keyfolio.log").read_text()
    assert "job alice round -" in log  # the worker ran it, not the server
    for secret in SECRETS:
        assert secret not in log
