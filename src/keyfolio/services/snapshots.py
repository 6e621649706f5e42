"""Writing balance snapshots after a sync, and keeping them compact.

``record_snapshots`` writes one snapshot set per source that was read successfully; a stale
or failed source writes nothing (its last set carries forward, so it never shows as zero).
``maybe_compact`` applies the retention policy at most once an hour; ``compact_snapshots``
applies it now (`keyfolio db compact`). Both keep the portfolios' value series current in the
same transaction: a write updates it from the new sets on, a compaction rebuilds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from keyfolio.domain.balances import SourceResult
from keyfolio.domain.money import ZERO, multiply
from keyfolio.domain.records import Price, Snapshot
from keyfolio.errors import ConflictError
from keyfolio.services.bounds import check_prices
from keyfolio.services.context import App
from keyfolio.services.values import rebuild_values, refresh_values
from keyfolio.storage import Store
from keyfolio.storage.retention import CompactReport

__all__ = [
    "COMPACT_EVERY",
    "compact_snapshots",
    "maybe_compact",
    "record_snapshot_batch",
    "record_snapshots",
    "snapshot_rows",
]

logger = logging.getLogger(__name__)

COMPACT_EVERY = timedelta(hours=1)
"""``maybe_compact`` compacts when the last compaction is at least this old."""


def snapshot_rows(
    *, account: str, result: SourceResult, at: datetime, prices: dict[str, Price]
) -> list[Snapshot]:
    """The snapshots of one OK source: one per asset held (zero amounts left out, as in the
    balances), valued exactly at ``prices`` (``None`` value for an unpriced asset)."""
    rows = []
    for asset, amount in sorted(result.amounts.items()):
        if amount == ZERO:
            continue
        price = prices.get(asset)
        rows.append(
            Snapshot(
                at=at,
                account=account,
                source=result.source.value,
                asset=asset,
                amount=amount,
                price=None if price is None else price.usd,
                price_source=None if price is None else price.source,
                value=None if price is None else multiply(amount, price.usd),
            )
        )
    return rows


def record_snapshots(
    app: App, *, account: str, results: Sequence[SourceResult], at: datetime
) -> None:
    """Write a snapshot set for every OK source of ``account`` at ``at``, valued with the
    stored prices (call it after the prices were refreshed). Other sources write nothing."""
    record_snapshot_batch(app, [(account, results, at)])


def record_snapshot_batch(
    app: App,
    batch: Sequence[tuple[str, Sequence[SourceResult], datetime]],
    *,
    also: Callable[[Store], None] | None = None,
) -> None:
    """:func:`record_snapshots` for many accounts in one transaction (a sync of 50 accounts
    writes its 200 sets with one commit, not 50). ``also`` writes in the same transaction
    (a hosted worker's round marker: the snapshots and the marker commit together)."""
    work = [(account, [r for r in results if r.is_ok], at) for account, results, at in batch]
    work = [(account, ok, at) for account, ok, at in work if ok]
    if not work and also is None:
        return
    with app.db().session() as store:
        if also is not None:
            also(store)
        written = {account for account, _, _ in work}
        portfolios = sorted({s.portfolio for s in store.list_accounts() if s.name in written})
        store.values.lock(portfolios=portfolios)  # before the first set (PostgreSQL)
        prices, _refused = check_prices(store.prices())  # a refused price values nothing
        repo = store.snapshots
        for account, ok, at in work:
            for result in ok:
                rows = snapshot_rows(account=account, result=result, at=at, prices=prices)
                repo.record(account=account, source=result.source.value, at=at, rows=rows)
        for portfolio in portfolios:
            refresh_values(store, portfolio=portfolio)
    logger.debug("recorded snapshot sets of %d accounts", len(work))


def compact_snapshots(app: App, *, now: datetime | None = None) -> CompactReport:
    """Apply the retention policy now (or at ``now``) and say what was removed."""
    when = now or datetime.now(UTC)
    with app.db().session() as store:
        store.values.lock(portfolios=[item.name for item in store.list_portfolios()])
        report = store.snapshots.compact(now=when)
        rebuild_values(store, now=when)
    return report


def maybe_compact(
    app: App, *, now: datetime | None = None, every: timedelta = COMPACT_EVERY
) -> CompactReport | None:
    """Compact when the last compaction is ``every`` (default an hour) old or more, or never
    ran; ``None`` when it was not due. Call it after each sync."""
    when = now or datetime.now(UTC)
    try:
        with app.db().session() as store:
            repo = store.snapshots
            last = repo.last_compaction()
            if last is not None and when - last < every:
                return None
            store.values.lock(portfolios=[item.name for item in store.list_portfolios()])
            report = repo.compact(now=when)
            rebuild_values(store, now=when)
    except ConflictError:  # another process (a hosted worker) compacted at the same moment
        logger.debug("snapshot compaction: done by another process just now")
        return None
    logger.info("snapshot compaction removed %d sets", report.sets_removed)
    return report
