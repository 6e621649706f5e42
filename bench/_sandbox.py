"""Sandboxes for benchmarks: `keyfolio sandbox` subprocesses (their own process, their own CPU),
states with N accounts per venue, and the control API (request log)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

VENUES = ("okx", "binance", "bybit", "coinbase", "kraken")


def bench_state(accounts: int) -> dict[str, Any]:
    """``accounts`` OKX accounts with a read-only key each and balances in all four sources."""
    keys = []
    data = {}
    for i in range(accounts):
        name = f"acct{i:02d}"
        keys.append(
            {
                "apiKey": f"bench-key-{i:02d}",
                "secret": f"bench-secret-{i:02d}",
                "passphrase": f"bench-pass-{i:02d}",
                "perm": "read_only",
                "account": name,
            }
        )
        data[name] = {
            "trading": {"BTC": f"0.{i + 1}", "USDT": str(1000 + i)},
            "funding": {"ETH": "2", "USDT": "50"},
            "savings": {"USDT": "500"},
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
        }
    return {
        "exchange": "okx",
        "tickers": {
            "BTC-USDT": {"last": "60000", "open24h": "58000"},
            "ETH-USDT": {"last": "3000"},
            "SOL-USDT": {"last": "150"},
        },
        "keys": keys,
        "accounts": data,
    }


def okx_credentials(i: int) -> dict[str, str]:
    """The vault fields of :func:`bench_state`'s account ``i``."""
    return {
        "apiKey": f"bench-key-{i:02d}",
        "secret": f"bench-secret-{i:02d}",
        "password": f"bench-pass-{i:02d}",
    }


def _key(venue: str, i: int) -> tuple[str, str]:
    """A distinct read-only key of the venue's shape (Kraken: base64 of 64 bytes; Coinbase:
    an Ed25519 key in the portal's one-line form)."""
    seed = hashlib.sha256(f"keyfolio-bench-{venue}-{i}".encode()).digest()
    if venue == "kraken":
        return f"benchKrakenKey+{i:04d}", base64.b64encode(seed + seed).decode()
    if venue == "coinbase":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        public = (
            ed25519.Ed25519PrivateKey.from_private_bytes(seed)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return f"5d4f8b1e-0c3a-4e2b-9f7d-{i:012d}", base64.b64encode(seed + public).decode()
    return f"bench{venue.title()}Key{i:04d}", f"bench{venue.title()}Secret{i:04d}{seed.hex()}"


def venue_state(venue: str, accounts: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A state of ``accounts`` copies of the venue's demo account, a read-only key each, and
    the vault fields of those keys (OKX: :func:`bench_state`)."""
    if venue == "okx":
        return bench_state(accounts), [okx_credentials(i) for i in range(accounts)]
    from keyfolio.sandbox.venues import venue as sandbox_venue

    demo = sandbox_venue(venue).demo_state().model_dump(mode="json", exclude_defaults=True)
    account = demo["accounts"]["demo"]
    template = next(k for k in demo["keys"] if k["perm"] == "read_only")
    keys, data, credentials = [], {}, []
    for i in range(accounts):
        name = f"acct{i:02d}"
        api_key, secret = _key(venue, i)
        keys.append({**template, "api_key": api_key, "secret": secret, "account": name})
        data[name] = account
        credentials.append({"apiKey": api_key, "secret": secret})
    return {**demo, "keys": keys, "accounts": data}, credentials


def control(url: str, path: str, body: Any = None) -> Any:
    """A call to the sandbox's control API (``body``: a POST)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def signed_per_key(url: str) -> Counter[str]:
    """Signed requests per API key in the request log since the last reset."""
    return Counter(entry["key"] for entry in control(url, "/__sandbox__/requests") if entry["key"])


def reset_log(url: str) -> None:
    control(url, "/__sandbox__/reset-log", {})


@contextmanager
def sandbox(state: dict[str, Any], *, latency_ms: int) -> Iterator[str]:
    """`keyfolio sandbox --state FILE` in a subprocess; yields its base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.json"
        path.write_text(json.dumps(state))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from keyfolio.cli.main import run; run()",
                "sandbox",
                "--exchange",
                state.get("exchange", "okx"),
                "--state",
                str(path),
                "--port",
                "0",
                "--latency-ms",
                str(latency_ms),
                "--no-rate-limit",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            prefix = "sandbox listening on "
            if prefix not in line:
                raise RuntimeError(f"sandbox did not start: {line!r}")
            yield line.split(prefix, 1)[1].split()[0]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
