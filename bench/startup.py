"""Start-up as a user meets it, against what a command cannot avoid importing.

Prints, from one run (median of several runs each, interleaved so a load change hits all):

* `keyfolio show` against ``python -c "import sqlalchemy.orm, typer, rich.table"`` (goal
  <= 1.3x), and `keyfolio --help` against ``import typer``;
* a one-account `keyfolio sync` against a sandbox without injected latency (so what remains
  is keyfolio's own time: start-up, vault unlock, database, and loopback requests) against
  ``import ccxt.async_support, sqlalchemy.orm, aiohttp`` (goal <= 1.5x).

The tests assert the cause (the modules each command imports); this script reports the effect.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _cli import KEYFOLIO, env, link_accounts, load, run
from _sandbox import sandbox, venue_state

RUNS = 9


def main() -> None:
    before = load()
    state, credentials = venue_state("okx", 1)
    with tempfile.TemporaryDirectory() as tmp, sandbox(state, latency_ms=0) as url:
        home = Path(tmp) / "home"
        link_accounts(home, [("okx", "acct00", url, credentials[0])])
        run(home, "sync")  # markets cache and the history import: the next syncs are steady
        py = sys.executable
        commands = {
            "import typer": [py, "-c", "import typer"],
            "import sqlalchemy.orm, typer, rich.table": [
                py,
                "-c",
                "import sqlalchemy.orm, typer, rich.table",
            ],
            "import ccxt.async_support, sqlalchemy.orm, aiohttp": [
                py,
                "-c",
                "import ccxt.async_support, sqlalchemy.orm, aiohttp",
            ],
            "keyfolio --help": [KEYFOLIO, "--help"],
            "keyfolio show": [KEYFOLIO, "show"],
            "keyfolio sync (1 account, 0 ms latency)": [KEYFOLIO, "sync"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(RUNS):
            for name, args in commands.items():
                start = time.perf_counter()
                subprocess.run(args, env=env(home), check=True, capture_output=True)
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{before} at start, {load()} at end; median of {RUNS} runs")
    for name, value in median.items():
        print(f"  {name:<52} {value * 1000:7.0f} ms")

    def ratio(label: str, command: str, baseline: str, goal: str = "") -> None:
        print(f"  {label:<52} {median[command] / median[baseline]:5.2f}x {goal}")

    print("Ratios")
    ratio("keyfolio --help / import typer", "keyfolio --help", "import typer")
    ratio(
        "keyfolio show / import sqlalchemy.orm, typer, rich",
        "keyfolio show",
        "import sqlalchemy.orm, typer, rich.table",
        "(goal <= 1.3x)",
    )
    ratio(
        "keyfolio sync, 1 account / import ccxt, sqla, aiohttp",
        "keyfolio sync (1 account, 0 ms latency)",
        "import ccxt.async_support, sqlalchemy.orm, aiohttp",
        "(goal <= 1.5x)",
    )


if __name__ == "__main__":
    main()
