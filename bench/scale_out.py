"""Hosted mode's scale-out: N sandbox accounts synced by 1, 2 and 4 `keyfolio worker` processes.

Needs PostgreSQL and Redis (the test servers: ``eval "$(scripts/pg_test_server.sh start)"`` and
``eval "$(scripts/redis_test_server.sh start)"``, which export KEYFOLIO_TEST_PG_URL and
KEYFOLIO_TEST_REDIS_URL). The sandboxes run in their own processes (``--sandboxes``, 20 ms per
response, no rate limit), the accounts are split between them.

For each worker count: the workers are started and ready (vault open), one round is sent, and
the time until every account's round is committed gives accounts per second. Printed: accounts/s
per worker count and the ratio to one worker. docs/benchmarks.md has the numbers and why it
stops scaling (the cores: this machine has 2, shared by the sandboxes, PostgreSQL and Redis).

    python bench/scale_out.py                 # 1,000 accounts
    python bench/scale_out.py --accounts 10000
    python bench/scale_out.py --accounts 10000 --dry-run   # check the arguments, start nothing
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _sandbox import bench_state, sandbox

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.services.context import App
from keyfolio.services.hosted import enqueue_round

PASSWORD = "bench-scale-out-pw"
WORKER_COUNTS = (1, 2, 4)


def _database(admin_url: str) -> str:
    from sqlalchemy import create_engine, make_url

    name = f"keyfolio_bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _done(app: App, number: int) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(app.settings.db_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM sync_rounds WHERE round = :r")
            return int(connection.execute(query, {"r": number}).scalar() or 0)
    finally:
        engine.dispose()


def _run(
    app: App, env: dict[str, str], workers: int, accounts: int, tmp: Path
) -> tuple[float, float]:
    """Start ``workers`` workers, wait until ready, send one round; accounts per second and
    the seconds the round took."""
    procs = []
    for i in range(workers):
        home = tmp / f"w{workers}-{i}"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", "from keyfolio.cli.main import run; run()", "worker"],
                env={**env, "KEYFOLIO_HOME": str(home)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        for i in range(workers):
            log = tmp / f"w{workers}-{i}" / "keyfolio.log"
            while not (log.exists() and "worker started" in log.read_text()):
                time.sleep(0.1)
        number = 1000 + workers
        start = time.perf_counter()
        enqueue_round(app, round=number)
        while _done(app, number) < accounts:
            time.sleep(0.25)
        took = time.perf_counter() - start
        return accounts / took, took
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=900)


def _worker_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 1,2,4") from None
    if not counts or min(counts) < 1 or counts[0] != 1:
        raise argparse.ArgumentTypeError("worker counts start at 1 (the ratios' base), e.g. 1,2,4")
    return counts


def _machine() -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000, help="sandbox accounts (10000)")
    parser.add_argument("--sandboxes", type=int, default=2, help="sandbox processes")
    parser.add_argument(
        "--workers", type=_worker_counts, default=WORKER_COUNTS, help="worker counts: 1,2,4"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check the arguments, print the plan, start nothing"
    )
    args = parser.parse_args()
    if args.accounts < 1 or not 1 <= args.sandboxes <= args.accounts:
        parser.error("--accounts must be at least 1, --sandboxes between 1 and --accounts")
    counts = ", ".join(str(n) for n in args.workers)
    plan = f"{args.accounts} accounts on {args.sandboxes} sandbox processes, {counts} worker(s)"
    if args.dry_run:
        print(f"plan: {plan} (x 8 threads each); nothing started")
        return
    print(f"machine: {_machine()}")
    pg, redis_url = (
        os.environ.get("KEYFOLIO_TEST_PG_URL"),
        os.environ.get("KEYFOLIO_TEST_REDIS_URL"),
    )
    if not (pg and redis_url):
        sys.exit("set KEYFOLIO_TEST_PG_URL and KEYFOLIO_TEST_REDIS_URL (scripts/*_test_server.sh)")
    state = bench_state(args.accounts)
    database = _database(pg)
    namespace = f"kfbench-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    env.update(
        KEYFOLIO_DATABASE_URL=database,
        KEYFOLIO_BROKER_URL=redis_url,
        KEYFOLIO_BROKER_NAMESPACE=namespace,
        KEYFOLIO_PASSWORD=PASSWORD,
        KEYFOLIO_RETRIES="1",
        # The sandboxes have no rate limit: measure the workers, not the shared budget (which
        # would cap every worker count at one budget: docs/deploy.md, egress IPs).
        KEYFOLIO_RATE_LIMITS="false",
    )
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        parts = [
            {**state, "keys": state["keys"][i :: args.sandboxes]} for i in range(args.sandboxes)
        ]
        urls = [stack.enter_context(sandbox(part, latency_ms=20)) for part in parts]
        settings = Settings(
            home=Path(tmp) / "admin",
            database_url=database,
            broker_url=redis_url,
            broker_namespace=namespace,
        )
        app = App(settings=settings, password=lambda **_: PASSWORD)
        # Key i is served by sandbox i % n: link each account to the sandbox that has its key.
        ordered = {"keys": [k for part in parts for k in part["keys"]]}
        by_url = [urls[i] for i, part in enumerate(parts) for _ in part["keys"]]
        accounts = _link_each(app, ordered, by_url)
        print(
            f"{accounts} accounts on {args.sandboxes} sandbox processes (20 ms per response)",
            flush=True,
        )
        rates = {}
        for workers in args.workers:
            rates[workers], took = _run(app, env, workers, accounts, Path(tmp))
            print(
                f"{workers} worker(s) x 8 threads: {rates[workers]:7.1f} accounts/s  "
                f"ratio to 1 worker: {rates[workers] / rates[1]:.2f}  ({took:.0f} s)",
                flush=True,
            )
        app.close()
    print(f"machine at the end: {_machine()}")


def _link_each(app: App, state: dict[str, Any], urls: list[str]) -> int:
    keys = state["keys"]
    with app.db().session() as store:
        for key, url in zip(keys, urls, strict=True):
            store.add_account(spec=AccountSpec(exchange="okx", name=key["account"], api_url=url))
    vault = app.vault(create=True)
    for key in keys:
        fields = {"apiKey": key["apiKey"], "secret": key["secret"], "password": key["passphrase"]}
        vault.set(key["account"], Credentials(fields=fields))
    return len(keys)


if __name__ == "__main__":
    main()
