"""Start `keyfolio sandbox` as a subprocess for benchmarks (its own process, its own CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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
        "tickers": {
            "BTC-USDT": {"last": "60000", "open24h": "58000"},
            "ETH-USDT": {"last": "3000"},
            "SOL-USDT": {"last": "150"},
        },
        "keys": keys,
        "accounts": data,
    }


@contextmanager
def sandbox(state: dict[str, Any], *, latency_ms: int) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.json"
        path.write_text(json.dumps(state))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from keyfolio.cli.main import run; run()",
                "sandbox",
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
            prefix = "keyfolio sandbox listening on "
            if not line.startswith(prefix):
                raise RuntimeError(f"sandbox did not start: {line!r}")
            yield line[len(prefix) :]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
