"""Bybit as a new user meets it: the demo sandbox, link, refusals, show, watch, doctor."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bybit_support import BY_READ, BY_SECRETS, BY_TRADE, bybit_state
from cli_support import SANDBOX_CMD, Runner, sandbox_command
from test_cli_watch import watch_a_trade

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state


@pytest.fixture(scope="module")
def bybit_url() -> Iterator[str]:
    with SandboxThread(parse_state(bybit_state()), rate_limit=False) as server:
        yield server.url


def test_the_demo_sandbox_links_with_its_printed_key_and_counts_each_coin_once(
    tmp_path: Path,
) -> None:
    with sandbox_command("--exchange", "bybit") as sandbox:
        creds = sandbox.demo_key("Bybit", lines=2)
        kf = Runner(tmp_path / "home")
        add = ("account", "add", "bybit", "--name", "by", "--api-url", sandbox.url)
        result = kf(*add, creds=creds)
        assert result.returncode == 0, result.stderr
        for source in ("Unified Trading", "Funding", "Flexible Savings", "On-chain Earn"):
            assert source in result.stdout, result.stdout
        shown = kf("show", "--json").json()
    holdings = {h["asset"]: h for h in shown["holdings"]}
    assert holdings["BTC"]["amount"] == "0.0552"  # 0.0352 Unified + 0.02 Flexible Savings
    assert holdings["ETH"]["amount"] == "1.1"  # 0.8 Unified + 0.3 On-chain Earn
    assert holdings["BBSOL"]["amount"] == "4.75" and "SOL" not in holdings  # LST counted once
    assert holdings["BTC"]["price_source"] == "bybit:BTC-USDT"
    assert {s["source"] for s in holdings["BTC"]["sources"]} == {"trading", "savings"}


def test_a_bad_bybit_state_names_the_file_and_the_field(tmp_path: Path) -> None:
    data = bybit_state()
    data["accounts"]["alice"]["wallet"] = {"BTC": "1"}
    state = tmp_path / "bybit.json"
    state.write_text(json.dumps(data))
    result = subprocess.run([*SANDBOX_CMD, "--state", str(state), "--port", "0"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert f"{state}: accounts.alice.wallet: unknown source; bybit has unified" in result.stderr


def test_a_key_that_can_trade_is_refused_with_bybit_guidance(kf: Runner, bybit_url: str) -> None:
    result = kf("account", "add", "bybit", "--name", "risky", "--api-url", bybit_url,
                creds=BY_TRADE)  # fmt: skip
    assert result.returncode != 0
    assert "'readWrite' (Read-Write)" in result.stderr
    assert "'Wallet:Withdraw' (Wallet - Withdrawal)" in result.stderr
    assert "Account & Security > API" in result.stderr and "'Read-Only'" in result.stderr
    assert kf("account", "list").stdout.count("risky") == 0  # nothing stored


def test_a_wrong_secret_names_the_secret(kf: Runner, bybit_url: str) -> None:
    wrong = {**BY_READ, "secret": "not-the-secret-key"}
    result = kf("account", "add", "bybit", "--name", "by", "--api-url", bybit_url, creds=wrong)
    assert result.returncode != 0
    assert "10004" in result.stderr and "API Secret does not belong" in result.stderr
    for secret in [*BY_SECRETS, "not-the-secret-key"]:
        assert secret not in result.stderr + result.stdout


def test_link_then_doctor_then_watch_updates_on_a_bybit_trade(kf: Runner, bybit_url: str) -> None:
    linked = kf("account", "add", "bybit", "--name", "by", "--api-url", bybit_url, creds=BY_READ)
    assert linked.returncode == 0, linked.stderr
    assert "History imported:" in linked.stdout
    doctor = kf("doctor", "--account", "by")
    assert doctor.returncode == 0, doctor.stderr
    for line in ("reachability", "clock", "key", "permissions", "ip binding"):
        assert line in doctor.stdout, doctor.stdout
    assert "read-only (readOnly)" in doctor.stdout
    sell = {"account": "alice", "symbol": "BTC-USDT", "side": "sell", "amount": "0.1"}
    watched = watch_a_trade(kf, bybit_url, "by", sell)
    assert "total=" in watched.update
    assert watched.leaked(BY_SECRETS) == []
    for secret in BY_SECRETS:
        assert all(secret not in output for output in kf.outputs)
