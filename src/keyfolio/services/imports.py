"""Importing trade, transfer and ledger history from exchange accounts.

Incremental, idempotent and resumable, per account and per history stream (``trades:SPOT``,
``trades:BTCUSDT``, ``deposits``, ``ledger:funding``...). Each venue's streams page their own
way (:mod:`keyfolio.exchanges.history`); every stream has a persisted cursor, and **every page is
stored in its own transaction together with its cursor**, so a crash loses at most the page in
flight; the next run resumes from the stored cursor and, because every record has a unique key,
a replayed page adds nothing.

Exchange failures never raise: they end up in :class:`ImportReport.errors`. Accounts of
exchange ``manual`` are skipped (nothing to contact).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keyfolio.domain.accounts import MANUAL_EXCHANGE, AccountSpec, Credentials
from keyfolio.domain.history import HistoryKind, LedgerEntry, Trade, Transfer
from keyfolio.errors import ExchangeError, KeyfolioError, StorageError
from keyfolio.services.context import App, protect

if TYPE_CHECKING:
    from keyfolio.exchanges.history import HistoryContext, HistoryRecord, HistoryStream
    from keyfolio.exchanges.pool import ConnectorPool

__all__ = [
    "MANUAL_EXCHANGE",
    "ImportReport",
    "describe_counts",
    "import_all",
    "import_history",
]

logger = logging.getLogger(__name__)


_MAX_PAGES = 10_000  # per stream and run: a guard against a cursor that does not move


@dataclass
class ImportReport:
    """What one account's history import did. ``new`` counts only records not stored before."""

    account: str
    new: dict[HistoryKind, int] = field(default_factory=dict)
    pages: int = 0
    errors: list[KeyfolioError] = field(default_factory=list)
    skipped: str | None = None
    unfinished: list[str] = field(default_factory=list)
    """Streams that read their page budget for this run and continue at the next sync."""

    @property
    def ok(self) -> bool:
        """True when every stream was read to its end."""
        return not self.errors

    @property
    def total_new(self) -> int:
        """New records of every kind."""
        return sum(self.new.values())

    def summary(self) -> str:
        """The new records in words, e.g. ``10 trades, 1 deposit, 23 ledger entries``."""
        return describe_counts({kind.value: count for kind, count in self.new.items()})


_NOUNS = {
    "trades": ("trade", "trades"),
    "deposits": ("deposit", "deposits"),
    "withdrawals": ("withdrawal", "withdrawals"),
    "ledger": ("ledger entry", "ledger entries"),
}


def describe_counts(counts: dict[str, int]) -> str:
    """``{"trades": 10, "deposits": 1}`` -> ``10 trades, 1 deposit`` (zero counts left out)."""
    parts = []
    for kind in ("trades", "deposits", "withdrawals", "ledger"):
        count = counts.get(kind, 0)
        if count:
            one, many = _NOUNS[kind]
            parts.append(f"{count} {one if count == 1 else many}")
    return ", ".join(parts)


def _save_page(
    app: App, account: str, stream_key: str, records: Sequence[HistoryRecord], cursor: str
) -> int:
    """One transaction: the page's records and the cursor advance. Returns how many were new."""
    trades = [r for r in records if isinstance(r, Trade)]
    transfers = [r for r in records if isinstance(r, Transfer)]
    entries = [r for r in records if isinstance(r, LedgerEntry)]
    with app.db().session() as store:
        history = store.history
        added = history.add_trades(trades) + history.add_transfers(transfers)
        added += history.add_ledger(entries)
        history.set_cursor(account=account, kind=stream_key, cursor=cursor)
    return added


def _load_cursor(app: App, account: str, stream_key: str) -> str | None:
    with app.db().session(read_only=True) as store:
        return store.history.get_cursor(account=account, kind=stream_key)


def _context(app: App, account: str) -> HistoryContext:
    """What the account ever held, deposited, withdrew or traded (canonical assets)."""
    from keyfolio.exchanges.history import HistoryContext

    with app.db().session(read_only=True) as store:
        assets = {row.asset for row in store.balances(account=account, include_excluded=True)}
        assets |= store.snapshots.assets(account=account)
        assets |= store.history.assets(account=account)
    return HistoryContext(assets=frozenset(assets))


async def _import_stream(
    app: App,
    stream: HistoryStream,
    report: ImportReport,
    write_lock: asyncio.Lock,
) -> None:
    """Read one stream page by page from its stored cursor, a page and its cursor per commit."""
    name = report.account
    cursor = await asyncio.to_thread(_load_cursor, app, name, stream.key)
    budget = stream.pages_per_run or _MAX_PAGES
    for pages in range(1, _MAX_PAGES + 1):
        page = await stream.next_page(cursor)
        report.pages += page.requests
        if page.records or page.cursor != cursor:
            async with write_lock:
                added = await asyncio.to_thread(
                    _save_page, app, name, stream.key, page.records, page.cursor
                )
            report.new[stream.kind] = report.new.get(stream.kind, 0) + added
            logger.debug(
                "import %s %s: %d rows, %d new", name, stream.key, len(page.records), added
            )
        cursor = page.cursor
        if page.done:
            return
        if pages >= budget:
            report.unfinished.append(stream.key)  # it walks on at the next sync
            return
    raise StorageError(
        f"the {stream.key} import of '{name}' did not finish after {_MAX_PAGES} pages",
        hint="Run the import again: it resumes where it stopped.",
    )


async def _import_with(
    app: App,
    pool: ConnectorPool,
    spec: AccountSpec,
    kinds: Collection[HistoryKind] | None,
    write_lock: asyncio.Lock,
    credentials: Credentials | None = None,
) -> ImportReport:
    from keyfolio.exchanges.ccxt_generic import is_fatal

    report = ImportReport(account=spec.name)
    try:
        if credentials is None:
            credentials = app.vault().get(spec.name)
        protect(credentials)
        connector = pool.connector(spec, credentials)
        context = await asyncio.to_thread(_context, app, spec.name)
        streams = await connector.history_streams(context)
    except KeyfolioError as exc:
        report.errors.append(exc)
        return report
    for stream in streams:
        if kinds is not None and stream.kind not in kinds:
            continue
        try:
            await _import_stream(app, stream, report, write_lock)
        except ExchangeError as exc:
            logger.info("import %s %s failed: %s", spec.name, stream.key, exc.message)
            report.errors.append(exc)
            if is_fatal(exc):
                break
        except KeyfolioError as exc:
            report.errors.append(exc)
            break
    logger.info(
        "imported history of %s: %d new in %d pages, %d errors",
        spec.name,
        report.total_new,
        report.pages,
        len(report.errors),
    )
    return report


async def import_history(
    app: App,
    name: str,
    *,
    kinds: Collection[HistoryKind] | None = None,
    pool: ConnectorPool | None = None,
    credentials: Credentials | None = None,
) -> ImportReport:
    """Import the new history of one account (all kinds, or ``kinds``).

    Incremental from the persisted cursors and idempotent. Never raises for an exchange
    failure (see ``ImportReport.errors``); an unknown account raises ``NotFoundError``.
    ``credentials`` (the caller already holds them) spares reading the vault.
    """
    with app.db().session(read_only=True) as store:
        spec = store.get_account(name=name)
    if spec.exchange == MANUAL_EXCHANGE:
        return ImportReport(account=name, skipped="manual account: nothing to import")
    lock = asyncio.Lock()
    if pool is not None:
        return await _import_with(app, pool, spec, kinds, lock, credentials)
    async with _pool(app, None) as own:
        return await _import_with(app, own, spec, kinds, lock, credentials)


async def import_all(
    app: App,
    names: list[str] | None = None,
    *,
    pool: ConnectorPool | None = None,
    credentials: Mapping[str, Credentials] | None = None,
) -> list[ImportReport]:
    """Import the history of the named accounts (default: all), a few at a time.

    Manual accounts are reported as skipped. Never raises for one account's failure. A sync
    passes its ``pool`` and the ``credentials`` it read at its start (by account name), so
    the vault is not read again.
    """

    with app.db().session(read_only=True) as store:
        specs = [store.get_account(name=n) for n in names] if names else store.list_accounts()
    reports: dict[str, ImportReport] = {}
    contacted = [spec for spec in specs if spec.exchange != MANUAL_EXCHANGE]
    for spec in specs:
        if spec.exchange == MANUAL_EXCHANGE:
            reports[spec.name] = ImportReport(spec.name, skipped="manual account")
    if contacted:
        semaphore = asyncio.Semaphore(max(1, app.settings.sync_concurrency))
        lock = asyncio.Lock()
        known = credentials or {}
        async with _pool(app, pool) as shared:

            async def one(spec: AccountSpec) -> None:
                async with semaphore:
                    try:
                        reports[spec.name] = await _import_with(
                            app, shared, spec, None, lock, known.get(spec.name)
                        )
                    except Exception as exc:  # one account never cancels the others
                        logger.info("import %s failed", spec.name, exc_info=True)
                        error = (
                            exc
                            if isinstance(exc, KeyfolioError)
                            else StorageError(
                                f"the history import of '{spec.name}' failed "
                                f"({type(exc).__name__}: {exc})",
                                hint="What was imported is kept; run the import again.",
                            )
                        )
                        reports[spec.name] = ImportReport(spec.name, errors=[error])

            async with asyncio.TaskGroup() as group:
                for spec in contacted:
                    group.create_task(one(spec))
    return [reports[spec.name] for spec in specs]


@asynccontextmanager
async def _pool(app: App, pool: ConnectorPool | None) -> AsyncIterator[ConnectorPool]:
    """``pool`` as it is (its owner closes it), else a new one closed on exit."""
    if pool is not None:
        yield pool
        return
    from keyfolio.services.assets import connector_pool

    async with connector_pool(app) as own:
        yield own
