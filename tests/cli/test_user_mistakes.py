"""What a user gets wrong, and what keyfolio says: each case is Error + Hint, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_support import BOB_KEY, PASSWORD, READ_KEY, Runner, base_state, control

from keyfolio.vault import Vault

ADD_A = ("account", "add", "okx", "--name", "a", "--api-url")


def test_rotate_refuses_a_key_of_another_account(linked: Runner) -> None:
    result = linked("account", "rotate", "alice", creds=BOB_KEY)
    assert result.returncode == 1
    assert "another OKX account" in result.stderr and "Hint:" in result.stderr
    kept = Vault.open(linked.home / "vault.bin", PASSWORD).get("alice")
    assert kept.api_key == READ_KEY["apiKey"]


def test_linking_the_same_exchange_account_twice_is_refused(
    linked: Runner, sandbox_url: str
) -> None:
    result = linked(
        "account", "add", "okx", "--name", "again", "--api-url", sandbox_url, creds=READ_KEY
    )
    assert result.returncode == 1
    assert "already linked as 'alice'" in result.stderr and "twice" in result.stderr
    bob = linked("account", "add", "okx", "--name", "bob", "--api-url", sandbox_url, creds=BOB_KEY)
    assert bob.returncode == 0, bob.stderr


def test_myokx_is_okx_in_the_eea_region(kf: Runner, tmp_path: Path) -> None:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    data = base_state()
    data["keys"] = [{**data["keys"][0], "region": "eea"}]
    with SandboxThread(parse_state(data), region="eea") as server:
        result = kf(
            "account", "add", "myokx", "--name", "eu", "--api-url", server.url, creds=READ_KEY
        )
        assert result.returncode == 0, result.stderr
        assert "region eea" in result.stdout
        show = kf("show", "--json").json()
        assert show["accounts"][0]["exchange"] == "okx"
        assert show["accounts"][0]["region"] == "eea"
        assert show["total_value"] != "0"  # priced from the account's own host


def test_okx_only_options_are_refused_for_other_exchanges(kf: Runner) -> None:
    result = kf("account", "add", "binance", "--name", "b", "--region", "eea")
    assert result.returncode == 2 and "binance has no region eea" in result.stderr
    result = kf("account", "add", "bitstamp", "--name", "b", "--demo")
    assert result.returncode == 2 and "demo keys are an OKX option" in result.stderr


def test_api_url_with_a_path_is_refused(kf: Runner, sandbox_url: str) -> None:
    result = kf(*ADD_A, sandbox_url + "/api/v5", creds=READ_KEY)
    assert result.returncode == 2 and "no path" in result.stderr


def test_unreachable_api_url_says_nothing_was_stored(kf: Runner) -> None:
    result = kf(*ADD_A, "http://127.0.0.1:1", creds=READ_KEY, env={"KEYFOLIO_RETRIES": "0"})
    assert result.returncode == 1
    assert "Nothing was stored" in result.stderr and "--api-url" in result.stderr
    assert not (kf.home / "vault.bin").exists()


def test_failed_sync_does_not_move_last_sync(linked: Runner, sandbox_url: str) -> None:
    before = linked("show", "--json").json()
    control(sandbox_url, "/__sandbox__/faults", {"path": "*", "mode": "code50001", "count": 1000})
    assert linked("sync", env={"KEYFOLIO_RETRIES": "0"}).returncode == 1
    after = linked("show", "--json").json()
    assert after["as_of"] == before["as_of"]
    assert after["accounts"][0]["last_sync"] == before["accounts"][0]["last_sync"]
    failed = json.loads(linked("sync", "--json", env={"KEYFOLIO_RETRIES": "0"}).stdout)
    assert failed["accounts"][0]["error"] and failed["accounts"][0]["hint"]


def test_failed_price_refresh_is_shown(linked: Runner, sandbox_url: str) -> None:
    before = {row["asset"]: row for row in linked("show", "--json").json()["holdings"]}
    control(
        sandbox_url,
        "/__sandbox__/faults",
        {"path": "/api/v5/market/tickers", "mode": "http500", "count": 1000},
    )
    result = linked("sync", env={"KEYFOLIO_RETRIES": "0"})  # a fault that never ends
    assert result.returncode == 0
    assert "Prices not refreshed" in result.stderr
    after = {row["asset"]: row for row in linked("show", "--json").json()["holdings"]}
    # the last good prices stay, with their own time (stale once older than the max age)
    assert after["BTC"]["price"] == before["BTC"]["price"] == "60000"
    assert after["BTC"]["price_as_of"] == before["BTC"]["price_as_of"] is not None


def test_vault_change_password_without_terminal(linked: Runner) -> None:
    result = linked("vault", "change-password")
    assert result.returncode == 2 and "KEYFOLIO_NEW_PASSWORD" in result.stderr


def test_blank_new_vault_password_is_refused(kf: Runner, sandbox_url: str) -> None:
    result = kf(*ADD_A, sandbox_url, creds=READ_KEY, password=" ")
    assert result.returncode == 2 and "blank" in result.stderr
    assert not (kf.home / "vault.bin").exists()


def test_bad_names(kf: Runner) -> None:
    assert "not a valid portfolio name" in kf("portfolio", "add", "bad name!").stderr
    result = kf("account", "add", "okx", "--name", "x" * 70)
    assert result.returncode == 2 and "not a valid account name" in result.stderr


def test_unwritable_home_and_bad_setting(tmp_path: Path) -> None:
    run = [sys.executable, "-c", "from keyfolio.cli.main import run; run()"]
    result = subprocess.run(
        [*run, "--home", "/proc/keyfolio", "show"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "data directory" in result.stderr
    result = subprocess.run(
        [*run, "--home", str(tmp_path), "show"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"KEYFOLIO_SYNC_CONCURRENCY": "many", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2 and "KEYFOLIO_SYNC_CONCURRENCY" in result.stderr


def test_sandbox_refuses_bad_host_port_and_busy_port(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(base_state()))
    run = [
        sys.executable,
        "-c",
        "from keyfolio.cli.main import run; run()",
        "sandbox",
        "--state",
        str(state),
    ]
    for extra, text in ((["--host", "0.0.0.0"], "loopback"), (["--port", "99999"], "TCP port")):
        result = subprocess.run([*run, *extra], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and text in result.stderr
    first = subprocess.Popen([*run, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        port = first.stdout.readline().strip().rsplit(":", 1)[1]
        busy = subprocess.run([*run, "--port", port], capture_output=True, text=True, timeout=60)
        assert busy.returncode == 2 and "--port" in busy.stderr and "Error:" in busy.stderr
    finally:
        first.terminate()
        first.communicate(timeout=10)


def test_demo_refuses_a_home_with_data(linked: Runner) -> None:
    result = linked("--home", str(linked.home), "demo")
    assert result.returncode == 2 and "will not touch" in result.stderr
    # with KEYFOLIO_HOME instead (the runner sets it) the demo runs in a temporary directory
    # and leaves the data alone: tests/cli/test_demo.py checks it on its one demo run


def test_a_bug_in_one_account_is_reported_as_a_bug_and_the_others_sync(
    linked: Runner, sandbox_url: str
) -> None:
    """A real bug path: an asset code longer than the database column reaches storage."""
    bob = linked("account", "add", "okx", "--name", "bob", "--api-url", sandbox_url, creds=BOB_KEY)
    assert bob.returncode == 0, bob.stderr
    control(
        sandbox_url,
        "/__sandbox__/balances",
        {"account": "bob", "source": "funding", "ccy": "X" * 300, "amount": "1"},
    )
    control(
        sandbox_url,
        "/__sandbox__/trade",
        {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.01"},
    )
    result = linked("sync")
    assert result.returncode == 1
    assert "Error: bob: bug in keyfolio while syncing 'bob': ValueError:" in result.stderr
    assert "This is a bug in keyfolio" in result.stderr
    assert "could not be saved" not in result.stderr
    assert "Traceback" not in result.stderr  # the traceback goes to the log file
    log = (linked.home / "keyfolio.log").read_text()
    assert "ERROR keyfolio.services.sync: sync bob: a bug in keyfolio" in log
    assert "Traceback (most recent call last)" in log and "ValueError" in log
    show = linked("show", "--json").json()
    by_name = {a["name"]: a for a in show["accounts"]}
    assert by_name["alice"]["status"] == "ok"  # the sibling went on
    assert by_name["bob"]["status"] == "failed"
    assert "bug in keyfolio" in str(by_name["bob"])
    amounts = {h["asset"]: h["amount"] for h in show["holdings"]}
    assert amounts["BTC"] == "2.50999"  # alice's new amount next to bob's kept one
    assert READ_KEY["secret"] not in log
