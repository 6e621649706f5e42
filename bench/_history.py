"""The year of snapshot history both `bench/history_query.py` and `bench/api.py` query.

50 accounts x 4 sources = 200 (account, source) pairs, each with 100 snapshot sets spread
over the past year (20,000 sets) of 5 assets: 100,000 snapshot rows, written with the storage
APIs directly (no exchange round trips).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import Price
from keyfolio.services.snapshots import snapshot_rows
from keyfolio.storage import Store

ACCOUNTS = 50
SOURCES = list(Source)  # 4
SETS_PER_SOURCE = 100
ASSETS = ["BTC", "ETH", "SOL", "USDT", "XYZ"]


def account_name(index: int) -> str:
    return f"acct{index:02d}"


def write_year_of_snapshots(store: Store, prices: dict[str, Price], *, now: datetime) -> int:
    """The 20,000 sets of the accounts ``acct00``..``acct49`` (which must exist), valued with
    ``prices``; returns the number of snapshot rows written."""
    step = timedelta(days=365) / SETS_PER_SOURCE
    repo = store.snapshots
    written = 0
    for index in range(ACCOUNTS):
        name = account_name(index)
        for offset, source in enumerate(SOURCES):
            for n in range(SETS_PER_SOURCE):
                at = now - timedelta(days=365) + step * n + timedelta(minutes=index + offset)
                amounts = {
                    asset: Decimal(n + 1 + k) / Decimal(1000) for k, asset in enumerate(ASSETS)
                }
                result = SourceResult(source, SourceStatus.OK, amounts)
                rows = snapshot_rows(account=name, result=result, at=at, prices=prices)
                repo.record(account=name, source=source.value, at=at, rows=rows)
                written += len(rows)
    return written
