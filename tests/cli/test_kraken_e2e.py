"""Kraken as a new user meets it: a sandbox from the CLI, link, a second run, refusals, watch,
doctor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cli_support import Runner, control, sandbox_command
from kraken_support import (
    KR_BOB,
    KR_READ,
    KR_SECRETS,
    KR_TRADE,
    KR_WATCH,
    kraken_state,
    next_nonce,
    private,
)
from test_cli_watch import watch_a_trade

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state


@pytest.fixture(scope="module")
def kraken_url() -> Iterator[str]:
    with SandboxThread(parse_state(kraken_state(0)), rate_limit=False) as server:
        yield server.url


def private_nonces(url: str) -> list[int]:
    log = control(url, "/__sandbox__/requests")
    return [int(e["nonce"]) for e in log if e["path"].startswith("/0/private/") and "nonce" in e]


def test_a_sandbox_state_links_every_source_and_a_second_run_keeps_the_nonce(
    tmp_path: Path,
) -> None:
    state = tmp_path / "kraken.json"
    state.write_text(json.dumps(kraken_state(0)))
    # rate limits on: the link stays within Kraken's call counter
    with sandbox_command("--exchange", "kraken", "--state", str(state)) as sandbox:
        url = sandbox.url
        kf = Runner(tmp_path / "home")
        linked = kf("account", "add", "kraken", "--name", "kr", "--api-url", url, creds=KR_READ)
        assert linked.returncode == 0, linked.stderr
        for source in ("Spot", "Earn (flexible)", "Earn (bonded)", "Staking"):
            assert source in linked.stdout, linked.stdout
        holdings = {h["asset"]: h for h in kf("show", "--json").json()["holdings"]}
        amounts = {asset: Decimal(h["amount"]) for asset, h in holdings.items()}
        assert amounts["BTC"] == Decimal("0.6")  # XXBT + XBT.M
        assert amounts["ETH"] == Decimal("5")  # XETH + ETH.B + ETH2 + ETH2.S, each once
        assert amounts["SOL"] == Decimal("10")  # SOL.F (the SOL row is 0)
        assert {s["source"] for s in holdings["ETH"]["sources"]} == {
            "trading",
            "locked_earn",
            "staked",
        }
        assert holdings["BTC"]["price_source"] == "kraken:BTC-USDT*USDT-USD"  # USDT from its market
        assert holdings["BTC"]["change_24h_basis"] == "utc_day"  # Kraken's open is 00:00 UTC
        first_run = private_nonces(url)
        [kept] = (tmp_path / "home" / "keys").iterdir()
        assert KR_READ["apiKey"] not in kept.name + kept.read_text()
        assert json.loads(kept.read_text())["nonce"] == max(first_run)
        # The run before ended ahead of the clock (a clock set back since): its last request...
        ahead = max(first_run) + 10**9
        kept.write_text(json.dumps({**json.loads(kept.read_text()), "nonce": ahead}))
        assert private(url, "Balance", nonce=ahead)[1]["error"] == []
        synced = kf("sync")  # ...and the second run starts above it
        assert synced.returncode == 0, synced.stderr
        assert min(private_nonces(url)[len(first_run) + 1 :]) == ahead + 1


def test_a_key_that_can_trade_or_withdraw_is_refused_with_krakens_words(
    kf: Runner, kraken_url: str
) -> None:
    result = kf("account", "add", "kraken", "--name", "risky", "--api-url", kraken_url,
                creds=KR_TRADE)  # fmt: skip
    assert result.returncode != 0
    for words in ("Create & Modify Orders", "Withdraw Funds", "Cancel & Close Orders"):
        assert words in result.stderr, result.stderr
    for needed in ("Query Funds", "Query Closed Orders & Trades", "Query Ledger Entries"):
        assert needed in result.stderr  # what a tracker's key needs, as Kraken names it
    assert kf("account", "list").stdout.count("risky") == 0  # nothing stored


def test_a_wrong_private_key_is_named(kf: Runner, kraken_url: str) -> None:
    wrong = {**KR_READ, "secret": KR_BOB["secret"]}
    result = kf("account", "add", "kraken", "--name", "kr", "--api-url", kraken_url, creds=wrong)
    assert result.returncode != 0
    assert "EAPI:Invalid signature" in result.stderr and "Private Key" in result.stderr
    for secret in KR_SECRETS:
        assert secret not in result.stderr + result.stdout


def test_an_invalid_nonce_has_its_own_hint(kf: Runner, kraken_url: str) -> None:
    other = next_nonce() * 1000  # another program on the same key, counting in microseconds
    assert private(kraken_url, "Balance", key=KR_BOB, nonce=other)[1]["error"] == []
    result = kf("account", "add", "kraken", "--name", "bob", "--api-url", kraken_url,
                creds=KR_BOB)  # fmt: skip
    assert result.returncode != 0
    assert "EAPI:Invalid nonce" in result.stderr
    assert "Another program" in result.stderr and "for keyfolio alone" in result.stderr


def test_watch_updates_on_a_kraken_trade(kf: Runner, kraken_url: str) -> None:
    linked = kf("account", "add", "kraken", "--name", "kr", "--api-url", kraken_url,
                creds=KR_WATCH)  # fmt: skip
    assert linked.returncode == 0, linked.stderr
    sell = {"account": "alice", "symbol": "BTC-USD", "side": "sell", "amount": "0.1"}
    watched = watch_a_trade(kf, kraken_url, "kr", sell)
    assert "total=" in watched.update
    assert watched.leaked(KR_SECRETS) == []


def test_doctor_checks_a_kraken_account(kf: Runner, kraken_url: str) -> None:
    linked = kf("account", "add", "kraken", "--name", "kr", "--api-url", kraken_url,
                creds=KR_READ)  # fmt: skip
    assert linked.returncode == 0, linked.stderr
    result = kf("doctor", "--account", "kr")
    assert result.returncode == 0, result.stderr
    for line in ("reachability", "clock", "key", "permissions", "ip binding"):
        assert line in result.stdout, result.stdout
    assert "read-only (query-closed-trades, query-funds, query-ledger, query-open-trades)" in (
        result.stdout
    )
    assert "the key is valid (uid AA" in result.stdout
