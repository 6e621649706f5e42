"""A 1-year history query over 100,000 snapshots in a temporary SQLite database.

50 accounts x 4 sources = 200 (account, source) pairs, each with 100 snapshot sets spread
over the past year (20,000 sets) of 5 assets each: 100,000 snapshot rows. Then it times
``value_series(window="1y")`` (the portfolio total), the same for one asset, and
``value_at`` a year ago; each query runs 5 times and the median is printed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from _history import (
    ACCOUNTS,
    SETS_PER_SOURCE,
    SOURCES,
    account_name,
    write_year_of_snapshots,
)

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.records import Price
from keyfolio.services.context import App
from keyfolio.services.values import value_at, value_series

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RUNS = 5


def build(app: App) -> int:
    """Write the accounts, prices and snapshots; return the number of snapshot rows."""
    prices = [
        Price("BTC", Decimal("60000.5"), "okx:BTC-USDT", NOW),
        Price("ETH", Decimal("3000.25"), "okx:ETH-USDT", NOW),
        Price("SOL", Decimal("150.125"), "okx:SOL-USDT", NOW),
        Price("USDT", Decimal(1), "par", NOW),
    ]
    with app.db().session() as store:
        store.upsert_prices(prices=prices)
        stored = store.prices()
        for index in range(ACCOUNTS):
            store.add_account(spec=AccountSpec(exchange="okx", name=account_name(index)))
        return write_year_of_snapshots(store, stored, now=NOW)


def timed(label: str, query: Callable[[], object]) -> object:
    times, result = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        result = query()
        times.append(time.perf_counter() - start)
    median, best = statistics.median(times) * 1000, min(times) * 1000
    print(f"{label:<44} median {median:8.1f} ms  (min {best:.1f})")
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = App(settings=Settings(home=Path(tmp)), password=lambda **_: "unused")
        start = time.perf_counter()
        rows = build(app)
        print(
            f"built {rows} snapshots in {ACCOUNTS * len(SOURCES) * SETS_PER_SOURCE} sets "
            f"({time.perf_counter() - start:.1f} s)"
        )
        series = timed(
            "value_series(window='1y'), portfolio total",
            lambda: value_series(app, window="1y", now=NOW),
        )
        asset = timed(
            "value_series(window='1y', asset='BTC')",
            lambda: value_series(app, window="1y", asset="BTC", now=NOW),
        )
        timed("value_at(a year ago)", lambda: value_at(app, at=NOW - timedelta(days=365), now=NOW))
        for label, result in (("total", series), ("BTC", asset)):
            points = result.points  # type: ignore[attr-defined]
            print(f"{label}: {len(points)} points, last value {points[-1].value}")
        app.close()


if __name__ == "__main__":
    sys.exit(main())
