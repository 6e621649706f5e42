"""The CLI as a user runs it: a data directory with linked accounts, and `keyfolio …` timed as a
subprocess with default settings (only ``KEYFOLIO_HOME`` and ``KEYFOLIO_PASSWORD`` set)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.services.context import App

PASSWORD = "bench-password"
KEYFOLIO = str(Path(sys.executable).with_name("keyfolio"))
"""The console script, as a user runs it."""

Link = tuple[str, str, str, dict[str, str]]
"""(exchange, account name, sandbox URL, vault fields)."""


def link_accounts(home: Path, links: Sequence[Link]) -> None:
    """Write the accounts and their keys directly (no key check round trip: the benchmark
    times syncs, not linking)."""
    app = App(settings=Settings(home=home), password=lambda **_: PASSWORD)
    vault = app.vault(create=True)
    with app.db().session() as store:
        for exchange, name, url, fields in links:
            store.add_account(spec=AccountSpec(exchange=exchange, name=name, api_url=url))
            vault.set(name, Credentials(fields=fields))
    app.close()


def env(home: Path) -> dict[str, str]:
    """The environment of a user's shell: no KEYFOLIO_* tuning, only the data dir and password."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    return {**clean, "KEYFOLIO_HOME": str(home), "KEYFOLIO_PASSWORD": PASSWORD}


def run(home: Path, *args: str) -> float:
    """Run ``keyfolio ARGS``; its wall time in seconds (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run([KEYFOLIO, *args], env=env(home), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"keyfolio {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def best_of(runs: int, home: Path, *args: str) -> float:
    """The fastest of ``runs`` runs (the least disturbed by the other load on the machine)."""
    return min(run(home, *args) for _ in range(runs))


def peak_rss_mib(home: Path, *args: str) -> float:
    """Peak resident memory of ``keyfolio ARGS`` in MiB (a wrapper process that has no other
    child reports its children's ``ru_maxrss``)."""
    code = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, KEYFOLIO, *args],
        env=env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip()) / 1024


def load() -> str:
    """The load average now (the machine is shared)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


__all__ = ["best_of", "env", "link_accounts", "load", "peak_rss_mib", "run"]
