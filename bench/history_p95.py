"""p95 of `GET /api/v1/history` for 1y and all, read from the value series kept at write time.

50 accounts x 4 sources with 5 assets as current balances, and 100 snapshot sets per
(account, source) over the past year: 20,000 sets, 100,000 snapshot rows (``_history.py``).
The portfolio's value series is then built once from the sets, as a sync keeps it, and timed
(``refresh_values``). `keyfolio serve`'s app runs on uvicorn in a thread (`ServerThread`, vault
locked, no live engine); one keep-alive httpx client times 200 requests per window after 10
warm-up requests. Goal: p95 <= 50 ms for 1y and for all.

The last column is the median of the same series computed from the snapshot sets
(``computed_series``, what every request did before the series was stored), in-process.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from _cli import load
from _history import ACCOUNTS, ASSETS, SOURCES, account_name, write_year_of_snapshots

from keyfolio.api.server import ServerThread
from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import SourceResult, SourceStatus
from keyfolio.domain.records import Price
from keyfolio.services.context import App
from keyfolio.services.values import computed_series, refresh_values

REQUESTS = 200
WARMUP = 10
GOAL_MS = 50.0
WINDOWS = ("1y", "all")


def build(app: App) -> tuple[int, float]:
    """Write accounts, balances, prices and snapshots; build the stored series. Returns the
    number of snapshot rows and the seconds the series took to build."""
    now = datetime.now(UTC)
    prices = [
        Price("BTC", Decimal("60000.5"), "okx:BTC-USDT", now, Decimal("58000")),
        Price("ETH", Decimal("3000.25"), "okx:ETH-USDT", now, Decimal("3100")),
        Price("SOL", Decimal("150.125"), "okx:SOL-USDT", now),
        Price("USDT", Decimal(1), "par", now),
    ]
    with app.db().session() as store:
        store.upsert_prices(prices=prices)
        stored = store.prices()
        for index in range(ACCOUNTS):
            name = account_name(index)
            store.add_account(spec=AccountSpec(exchange="okx", name=name))
            held = {asset: Decimal(index + k + 1) / 100 for k, asset in enumerate(ASSETS)}
            results = [SourceResult(source, SourceStatus.OK, held) for source in SOURCES]
            store.record_sync(name=name, results=results, synced_at=now)
        written = write_year_of_snapshots(store, stored, now=now)
    started = time.perf_counter()
    with app.db().session() as store:
        refresh_values(store, portfolio="main", rebuild=True)
    return written, time.perf_counter() - started


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def measure(client: httpx.Client, path: str) -> tuple[float, float, int]:
    """p50 and p95 in ms over REQUESTS requests, and the number of points."""
    for _ in range(WARMUP):
        client.get(path).raise_for_status()
    times, points = [], 0
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        points = len(response.json()["points"])
    return statistics.median(times), percentile(times, 95), points


def computed_ms(app: App, window: str) -> float:
    times = []
    for _ in range(10):
        start = time.perf_counter()
        computed_series(app, portfolio="main", window=window)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    print(f"start: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp))
        app = App(settings=settings, password=lambda **_: "unused")
        rows, seconds = build(app)
        print(f"{ACCOUNTS} accounts, {rows:,} snapshot rows; value series built in {seconds:.2f} s")
        failed = False
        with ServerThread(settings, live=False) as server:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                print(f"{'endpoint':<44} {'p50':>8} {'p95':>8} {'points':>6}  computed p50")
                for window in WINDOWS:
                    path = f"/api/v1/history?portfolio=main&window={window}"
                    p50, p95, points = measure(client, path)
                    computed = computed_ms(app, window)
                    verdict = "ok" if p95 <= GOAL_MS else f"over the {GOAL_MS:.0f} ms goal"
                    failed = failed or p95 > GOAL_MS
                    print(
                        f"GET {path:<40} {p50:6.1f}ms {p95:6.1f}ms {points:>6}  "
                        f"{computed:7.1f}ms  {verdict}"
                    )
        app.close()
    print(f"end: {load()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
