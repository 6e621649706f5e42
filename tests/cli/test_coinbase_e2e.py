"""Coinbase as a new user meets it: a sandbox from the CLI, a PEM key from a file or pasted at a
hidden prompt, refusals, a wrong or malformed key, `watch` (polled) and doctor. The planted
private keys never appear in argv, output, logs or the data directory."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import PASSWORD, Runner, sandbox_command
from coinbase_support import CB_READ, CB_SECRETS, CB_TRADE, CB_TRANSFER, coinbase_state
from test_cli_watch import watch_a_trade

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state

CMD = [sys.executable, "-c", "from keyfolio.cli.main import run; run()"]


@pytest.fixture(scope="module")
def coinbase_url() -> Iterator[str]:
    with SandboxThread(parse_state(coinbase_state()), rate_limit=False) as server:
        yield server.url


def assert_no_secret(kf: Runner, *texts: str) -> None:
    """No line of a planted private key in the outputs, ``texts`` or any file of the home."""
    seen = "\n".join([*kf.outputs, *texts])
    files = [path.read_bytes() for path in kf.home.rglob("*") if path.is_file()]
    for part in CB_SECRETS:
        assert part not in seen, f"{part[:12]}... leaked"
        assert all(part.encode() not in data for data in files), f"{part[:12]}... on disk"


def fifo_with(path: Path, text: str) -> threading.Thread:
    """A named pipe that hands ``text`` over once: a second read would find no writer."""
    os.mkfifo(path, 0o600)

    def write() -> None:
        with path.open("w") as pipe:
            pipe.write(text)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


def test_sandbox_command_then_link_with_a_secret_file_shows_every_source(tmp_path: Path) -> None:
    state = tmp_path / "coinbase.json"
    state.write_text(json.dumps(coinbase_state()))
    with sandbox_command("--exchange", "coinbase", "--state", str(state)) as sandbox:
        url = sandbox.url
        kf = Runner(tmp_path / "home")
        key_file = tmp_path / "key.pem"
        writer = fifo_with(key_file, CB_READ["secret"])
        argv = ("account", "add", "coinbase", "--name", "cb", "--api-url", url,
                "--secret-file", str(key_file))  # fmt: skip
        result = kf(*argv, env={"KEYFOLIO_API_KEY": CB_READ["apiKey"]})
        writer.join(timeout=10)
        assert result.returncode == 0, result.stderr
        assert "Key permissions: can_view." in result.stdout
        for source in ("Wallets", "Staked"):
            assert source in result.stdout, result.stdout
        assert "History imported: 4 trades, 2 deposits, 1 withdrawal" in result.stdout
        assert "Coinbase does not report whether this key is bound to an IP" in result.stderr
        holdings = {h["asset"]: h for h in kf("show", "--json").json()["holdings"]}
        assert holdings["BTC"]["amount"] == "0.5"  # 0.4 available + 0.1 on hold, once
        assert holdings["ETH"]["amount"] == "1.25"  # 1 in its wallet + 0.25 legacy ETH2
        assert {s["source"] for s in holdings["ETH"]["sources"]} == {"trading", "staked"}
        assert holdings["CELO"]["amount"] == "10" and holdings["ADA"]["amount"] == "100"
        assert holdings["BTC"]["price_source"] == "coinbase:BTC-USD"
        assert_no_secret(kf, " ".join(argv))


def test_keys_that_can_trade_or_transfer_are_refused_with_the_portal_s_guide(
    kf: Runner, coinbase_url: str
) -> None:
    add = ("account", "add", "coinbase", "--api-url", coinbase_url)
    trade = kf(*add, "--name", "risky", creds=CB_TRADE)
    transfer = kf(*add, "--name", "mover", creds=CB_TRANSFER)
    for result, word in ((trade, "'can_trade' (Trade)"), (transfer, "'can_transfer' (Transfer)")):
        assert result.returncode != 0
        assert word in result.stderr, result.stderr
        assert "portal.cdp.coinbase.com" in result.stderr and "tick only 'View'" in result.stderr
    assert "No accounts yet" in kf("account", "list").stdout  # nothing stored
    assert_no_secret(kf)


def test_a_wrong_or_malformed_private_key_is_named(
    kf: Runner, coinbase_url: str, tmp_path: Path
) -> None:
    add = ("--debug", "account", "add", "coinbase", "--name", "cb", "--api-url", coinbase_url)
    wrong = kf(*add, creds={**CB_READ, "secret": CB_TRADE["secret"]})
    assert wrong.returncode != 0
    assert "401 Unauthorized" in wrong.stderr
    for cause in ("API key name", "private key", "clock", "IP allowlist"):
        assert cause in wrong.stderr, wrong.stderr
    cut = tmp_path / "cut.pem"
    cut.write_text("\n".join(CB_READ["secret"].splitlines()[:2]) + "\n")
    cut.chmod(0o600)
    malformed = kf(*add, "--secret-file", str(cut), env={"KEYFOLIO_API_KEY": CB_READ["apiKey"]})
    assert malformed.returncode != 0
    assert "is not a CDP private key: the PEM is cut short" in malformed.stderr
    assert "-----BEGIN EC PRIVATE KEY-----" in malformed.stderr and "Ed25519" in malformed.stderr
    assert_no_secret(kf)


def test_watch_picks_up_a_trade_on_the_demo_sandbox_by_polling(tmp_path: Path) -> None:
    with sandbox_command("--exchange", "coinbase", "--no-rate-limit") as sandbox:
        url = sandbox.url
        demo = sandbox.demo_key("Coinbase", lines=2)
        kf = Runner(tmp_path / "home")
        linked = kf("account", "add", "coinbase", "--name", "cb", "--api-url", url, creds=demo)
        assert linked.returncode == 0, linked.stderr
        sell = {"account": "demo", "symbol": "BTC-USD", "side": "sell", "amount": "0.05"}
        watched = watch_a_trade(
            kf, url, "cb", sell, poll_seconds="0.5", status="polling", reason="poll"
        )
        assert "total=" in watched.update
        assert "Traceback" not in watched.stderr


def test_doctor_checks_the_clock_and_says_the_ip_binding_is_unknown(
    kf: Runner, coinbase_url: str
) -> None:
    add = ("account", "add", "coinbase", "--name", "cb", "--api-url", coinbase_url)
    assert kf(*add, creds=CB_READ).returncode == 0
    result = kf("doctor", "--account", "cb")
    assert result.returncode == 0, result.stderr
    for line in ("reachability", "clock", "key", "permissions", "ip binding"):
        assert line in result.stdout, result.stdout
    assert "read-only (can_view)" in result.stdout
    assert "not reported by the exchange: unknown" in result.stdout
    assert "region" not in result.stdout.replace("regions", "")
    assert_no_secret(kf)


def test_a_pem_pasted_at_the_hidden_prompt_is_read_whole_and_not_echoed(
    kf: Runner, coinbase_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    env.update(KEYFOLIO_HOME=str(kf.home), KEYFOLIO_PASSWORD=PASSWORD, COLUMNS="200",
               KEYFOLIO_API_KEY=CB_READ["apiKey"])  # fmt: skip
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*CMD, "account", "add", "coinbase", "--name", "cb", "--api-url", coinbase_url],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    try:
        assert proc.stderr is not None
        prompt = proc.stderr.readline()  # printed once echo is off
        assert prompt.startswith("Private Key (input hidden"), prompt
        os.write(master, CB_READ["secret"].encode())  # pasted: several lines at once
        stdout, stderr = proc.communicate(timeout=60)
        echoed = b""
        while select.select([master], [], [], 0)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            echoed += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Linked cb" in stdout
    for part in CB_SECRETS:
        assert part.encode() not in echoed and part not in stdout + stderr
