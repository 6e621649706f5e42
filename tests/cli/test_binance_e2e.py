"""Binance as a new user meets it: a sandbox from the CLI, link, refusals, show, watch."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from binance_support import BN_READ, BN_SECRETS, BN_TRADE, binance_state
from cli_support import SANDBOX_CMD, Runner, sandbox_command
from test_cli_watch import watch_a_trade

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state


@pytest.fixture(scope="module")
def binance_url() -> Iterator[str]:
    with SandboxThread(parse_state(binance_state()), rate_limit=False) as server:
        yield server.url


def test_sandbox_command_serves_a_binance_state_file_and_the_key_links(tmp_path: Path) -> None:
    state = tmp_path / "binance.json"
    state.write_text(json.dumps(binance_state()))
    with sandbox_command("--exchange", "binance", "--state", str(state)) as sandbox:
        url = sandbox.url
        kf = Runner(tmp_path / "home")
        result = kf("account", "add", "binance", "--name", "bn", "--api-url", url, creds=BN_READ)
        assert result.returncode == 0, result.stderr
        for source in ("Spot", "Funding", "Simple Earn Flexible", "Simple Earn Locked"):
            assert source in result.stdout, result.stdout
        shown = kf("show", "--json").json()
        holdings = {h["asset"]: h for h in shown["holdings"]}
        assert holdings["BTC"]["amount"] == "0.75"  # 0.5 spot + 0.25 Simple Earn, LDBTC once
        assert holdings["LDO"]["amount"] == "300" and "LDBTC" not in holdings
        assert holdings["BTC"]["price_source"] == "binance:BTC-USDT"
        assert {s["source"] for s in holdings["BTC"]["sources"]} == {"trading", "savings"}


def test_a_state_for_another_exchange_than_asked_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "binance.json"
    state.write_text(json.dumps(binance_state()))
    result = subprocess.run(
        [*SANDBOX_CMD, "--exchange", "okx", "--state", str(state), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "is a binance state, but --exchange okx was given" in result.stderr


def test_a_key_that_can_withdraw_is_refused_with_binance_guidance(
    kf: Runner, binance_url: str
) -> None:
    result = kf(
        "account", "add", "binance", "--name", "risky", "--api-url", binance_url, creds=BN_TRADE
    )
    assert result.returncode != 0
    assert "Enable Withdrawals" in result.stderr and "Enable Spot & Margin Trading" in result.stderr
    assert "API Management > Create API" in result.stderr and "'Enable Reading'" in result.stderr
    assert kf("account", "list").stdout.count("risky") == 0  # nothing stored


def test_a_wrong_secret_names_the_secret(kf: Runner, binance_url: str) -> None:
    wrong = {**BN_READ, "secret": "not-the-secret-key"}
    result = kf("account", "add", "binance", "--name", "bn", "--api-url", binance_url, creds=wrong)
    assert result.returncode != 0
    assert (
        "-1022" in result.stderr and "Secret Key does not belong to this API key" in result.stderr
    )
    for secret in BN_SECRETS:
        assert secret not in result.stderr + result.stdout


def test_watch_updates_on_a_binance_trade(kf: Runner, binance_url: str) -> None:
    linked = kf(
        "account", "add", "binance", "--name", "bn", "--api-url", binance_url, creds=BN_READ
    )
    assert linked.returncode == 0, linked.stderr
    sell = {"account": "alice", "symbol": "BTC-USDT", "side": "sell", "amount": "0.1"}
    watched = watch_a_trade(kf, binance_url, "bn", sell)
    assert "total=" in watched.update
    assert watched.leaked(BN_SECRETS) == []


def test_doctor_checks_a_binance_account_without_okx_regions(kf: Runner, binance_url: str) -> None:
    linked = kf(
        "account", "add", "binance", "--name", "bn", "--api-url", binance_url, creds=BN_READ
    )
    assert linked.returncode == 0, linked.stderr
    result = kf("doctor", "--account", "bn")
    assert result.returncode == 0, result.stderr
    for line in ("reachability", "clock", "key", "permissions", "ip binding"):
        assert line in result.stdout, result.stdout
    assert "read-only (enableFixReadOnly, enableReading)" in result.stdout
    assert "the key is valid (uid" in result.stdout
    assert "region" not in result.stdout.replace("regions", "")  # Binance has one host per key
