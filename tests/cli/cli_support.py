"""Helpers for end-to-end CLI tests: keys, the sandbox state, a `keyfolio` runner, and
`keyfolio sandbox` in a process of its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zygote import run_keyfolio

PASSWORD = "vault-pw-for-tests-9d1c"
READ_KEY = {
    "apiKey": "ro-key-5b0e1c7a",
    "secret": "ro-secret-PLANTED-e3a91f",
    "passphrase": "ro-pass-77c2",
}
UNSAFE_KEY = {
    "apiKey": "rw-key-1f2e3d4c",
    "secret": "rw-secret-0a9b8c",
    "passphrase": "rw-pass-5d6e",
}
EEA_KEY = {"apiKey": "eea-key-9a8b7c", "secret": "eea-secret-6d5e4f", "passphrase": "eea-pass-3c2b"}
BOB_KEY = {"apiKey": "bob-key-4e5f6a", "secret": "bob-secret-7b8c9d", "passphrase": "bob-pass-1e2f"}
IP_KEY = {"apiKey": "ip-key-1a2b3c", "secret": "ip-secret-4d5e6f", "passphrase": "ip-pass-7a8b"}
SECRETS = [v for key in (READ_KEY, UNSAFE_KEY, EEA_KEY, IP_KEY, BOB_KEY) for v in key.values()] + [
    PASSWORD
]


def base_state() -> dict[str, Any]:
    def key(creds: dict[str, str], **extra: Any) -> dict[str, Any]:
        return {**creds, "perm": "read_only", "account": "alice", "label": "tracker", **extra}

    return {
        "tickers": {
            "BTC-USDT": {"last": "60000", "open24h": "58000"},
            "ETH-USDT": {"last": "3000"},
            "SOL-USDT": {"last": "150"},
            "XYZ-USDC": {"last": "2"},
            "ABC-BTC": {"last": "0.0001"},
        },
        "keys": [
            key(READ_KEY),
            key(UNSAFE_KEY, perm="read_only,withdraw,trade"),
            key(EEA_KEY, region="eea"),
            key(IP_KEY, ip="203.0.113.7"),
            key(BOB_KEY, account="bob"),
        ],
        "accounts": {
            "alice": {
                "trading": {"BTC": "0.5", "USDT": "1000", "ABC": "100"},
                "funding": {"ETH": "2", "USDT": "50", "NOMARKET": "7"},
                "savings": {"USDT": "500", "XYZ": "10"},
                "onchain_earn": [
                    {
                        "ccy": "SOL",
                        "amt": "10",
                        "productId": "1234",
                        "protocol": "Solana staking",
                        "apy": "0.07",
                    }
                ],
                "fills": [],
                "deposits": [],
                "withdrawals": [],
            },
            "bob": {
                "trading": {"BTC": "2"},
                "funding": {},
                "savings": {},
                "onchain_earn": [],
                "fills": [],
                "deposits": [],
                "withdrawals": [],
            },
        },
    }


def control(
    url: str, path: str, body: dict[str, Any] | None = None, *, method: str | None = None
) -> Any:
    """Call the sandbox's control API: GET without a body, else POST (or ``method``)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Runner:
    """Runs `keyfolio` in a fresh process (forked by the zygote, `zygote.py`) with a home, a
    vault password and optional credentials."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.outputs: list[str] = []

    def __call__(
        self,
        *args: str,
        creds: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        password: str | None = PASSWORD,
    ) -> Result:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
        full_env["KEYFOLIO_HOME"] = str(self.home)
        full_env["COLUMNS"] = "200"
        if password is not None:
            full_env["KEYFOLIO_PASSWORD"] = password
        if creds is not None:
            full_env["KEYFOLIO_API_KEY"] = creds["apiKey"]
            full_env["KEYFOLIO_API_SECRET"] = creds["secret"]
            if "passphrase" in creds:  # OKX only
                full_env["KEYFOLIO_API_PASSPHRASE"] = creds["passphrase"]
        full_env.update(env or {})
        proc = run_keyfolio(list(args), env=full_env)
        self.outputs += [proc.stdout, proc.stderr]
        assert "ResourceWarning" not in proc.stderr, proc.stderr  # a leak in the CLI itself
        return Result(proc.returncode, proc.stdout, proc.stderr)


Control = Callable[..., Any]


SANDBOX_CMD = [sys.executable, "-c", "from keyfolio.cli.main import run; run()", "sandbox"]


@dataclass
class SandboxProcess:
    """A running `keyfolio sandbox`: the process, its URL, and (once stopped) its stderr."""

    proc: subprocess.Popen[str]
    url: str
    stderr: str = ""

    def demo_key(self, venue: str, lines: int) -> dict[str, str]:
        """The key of the demo state (served when no --state is given), as the sandbox prints
        it on stderr after naming ``venue``: ``lines`` KEYFOLIO_API_* lines."""
        assert self.proc.stderr is not None
        said = self.proc.stderr.readline()
        assert said.startswith(f"No --state: serving the {venue} demo state."), said
        printed = dict(self.proc.stderr.readline().strip().split("=", 1) for _ in range(lines))
        names = {"apiKey": "KEY", "secret": "SECRET", "passphrase": "PASSPHRASE"}
        return {
            field: printed[f"KEYFOLIO_API_{name}"]
            for field, name in names.items()
            if f"KEYFOLIO_API_{name}" in printed
        }


@contextlib.contextmanager
def sandbox_command(*args: str) -> Iterator[SandboxProcess]:
    """`keyfolio sandbox ARGS --port 0` in a process of its own, from the moment it prints where
    it listens; stopped with SIGTERM afterwards (killed if it does not stop)."""
    proc = subprocess.Popen(
        [*SANDBOX_CMD, *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sandbox = SandboxProcess(proc, "")
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert ready.startswith("keyfolio sandbox listening on http://127.0.0.1:"), ready
        sandbox.url = ready.split(" on ", 1)[1].strip()
        yield sandbox
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, sandbox.stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # never leave the sandbox running
            proc.kill()
            proc.communicate()
            raise
