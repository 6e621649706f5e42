"""p50/p95 of the API's summary and history endpoints: 50 accounts and 100,000 snapshots.

The database is written with the storage APIs directly (no exchange round trips): 50 accounts
x 4 sources with 5 assets each as current balances, and 100 snapshot sets per (account, source)
spread over the past year: 20,000 sets, 100,000 snapshot rows. Then `keyfolio serve`'s app runs
on uvicorn in a thread (`ServerThread`, vault locked, no live engine) and one keep-alive httpx
client times 200 requests per endpoint (after 10 warm-up requests). Goal: p95 <= 50 ms.

The last column is the median of the service call alone, in-process (no HTTP): the difference
is what the API layer (routing, validation, JSON, uvicorn) adds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from _history import ACCOUNTS, ASSETS, SOURCES, account_name, write_year_of_snapshots

from keyfolio.api.server import ServerThread
from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import SourceResult, SourceStatus
from keyfolio.domain.records import Price
from keyfolio.services.context import App
from keyfolio.services.summary import portfolio_summary
from keyfolio.services.values import value_series

REQUESTS = 200
WARMUP = 10
GOAL_MS = 50.0


def build(settings: Settings) -> int:
    """Write accounts, balances, prices and snapshots; return the number of snapshot rows."""
    now = datetime.now(UTC)
    app = App(settings=settings, password=lambda **_: "unused")
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
            current = [
                SourceResult(
                    source,
                    SourceStatus.OK,
                    {asset: Decimal(index + k + 1) / 100 for k, asset in enumerate(ASSETS)},
                )
                for source in SOURCES
            ]
            store.record_sync(name=name, results=current, synced_at=now)
        written = write_year_of_snapshots(store, stored, now=now)
    app.close()
    return written


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def measure(client: httpx.Client, path: str) -> tuple[float, float, int]:
    """p50 and p95 in ms over REQUESTS requests, and the response size."""
    size = 0
    for _ in range(WARMUP):
        client.get(path).raise_for_status()
    times = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return statistics.median(times), percentile(times, 95), size


def service_ms(settings: Settings, path: str) -> float:
    """Median ms of the service call behind ``path``, in-process."""
    app = App(settings=settings, password=lambda **_: "unused")
    query = dict(part.split("=", 1) for part in path.split("?", 1)[1].split("&"))
    times = []
    for _ in range(20):
        start = time.perf_counter()
        if path.startswith("/api/v1/summary"):
            portfolio_summary(app, portfolio=query["portfolio"])
        else:
            value_series(app, portfolio=query["portfolio"], window=query["window"])
        times.append((time.perf_counter() - start) * 1000)
    app.close()
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp))
        started = time.perf_counter()
        rows = build(settings)
        print(
            f"built {ACCOUNTS} accounts, {rows:,} snapshot rows "
            f"in {time.perf_counter() - started:.1f} s"
        )
        with ServerThread(settings, live=False) as server:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                print(f"{'endpoint':<44} {'p50':>8} {'p95':>8}  {'bytes':>6}  service p50")
                for path in (
                    "/api/v1/summary?portfolio=main",
                    "/api/v1/history?portfolio=main&window=24h",
                    "/api/v1/history?portfolio=main&window=30d",
                    "/api/v1/history?portfolio=main&window=1y",
                    "/api/v1/history?portfolio=main&window=all",
                ):
                    p50, p95, size = measure(client, path)
                    alone = service_ms(settings, path)
                    verdict = "ok" if p95 <= GOAL_MS else f"over the {GOAL_MS:.0f} ms goal"
                    print(
                        f"GET {path:<40} {p50:6.1f}ms {p95:6.1f}ms  {size:>6}  "
                        f"{alone:6.1f}ms  {verdict}"
                    )


if __name__ == "__main__":
    main()
