"""Startup cost: `keyfolio --help` and `keyfolio show` versus `python -c "import typer"`.

Prints the median wall time of each over several runs, and their ratios to the baseline,
measured in this one run. The test suite asserts the *cause* (no ccxt / aiohttp / alembic
imported); this script only reports the effect.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 7


def median_seconds(args: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "KEYFOLIO_HOME": home}
        run = [sys.executable, "-c", "from keyfolio.cli.main import run; run()"]
        subprocess.run([*run, "show"], env=env, check=True, capture_output=True)  # create the DB
        baseline = median_seconds([sys.executable, "-c", "import typer"], env)
        help_time = median_seconds([*run, "--help"], env)
        show_time = median_seconds([*run, "show"], env)
    print(f"python -c 'import typer': {baseline * 1000:7.1f} ms (baseline)")
    print(
        f"keyfolio --help:          {help_time * 1000:7.1f} ms  ratio {help_time / baseline:.2f}x"
    )
    print(
        f"keyfolio show (empty DB): {show_time * 1000:7.1f} ms  ratio {show_time / baseline:.2f}x"
    )


if __name__ == "__main__":
    main()
