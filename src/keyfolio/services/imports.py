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
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keyfolio.domain.accounts import MANUAL_EXCHANGE, AccountSpec, Credentials
from keyfolio.domain.history import HistoryKind, LedgerEntry, Trade, Transfer, TransferKind
from keyfolio.errors import (
    ExchangeError,
    InternalError,
    KeyfolioError,
    StorageError,
    StorageUnavailableError,
)
from keyfolio.exchanges.history import load_cursor
from keyfolio.logging import QUIET
from keyfolio.services.context import App, protect
from keyfolio.services.slots import AccountSlots

if TYPE_CHECKING:
    from keyfolio.exchanges.history import HistoryContext, HistoryRecord, HistoryStream
    from keyfolio.exchanges.pool import ConnectorPool

__all__ = [
    "MANUAL_EXCHANGE",
    "ImportReport",
    "describe_counts",
    "history_due",
    "import_all",
    "import_history",
    "mark_checked",
    "recheck",
]

logger = logging.getLogger(__name__)


_MAX_PAGES = 10_000  # per stream and run: a guard against a cursor that does not move
_STREAMS_AT_ONCE = 4
"""An account's history streams read at the same time. Each stream is its own endpoint (or
market), and the venues limit per endpoint or by weight per minute, far above 4 at once."""
CHECK_KIND = "@check"
"""The import-cursor row (never a stream key) that remembers each account's last check."""


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
    progress: dict[str, str] = field(default_factory=dict)
    """How far each unfinished stream that says so has come (stream key -> words), e.g.
    ``OKX bills archive: 8 of 23 quarters imported, 10 being prepared by OKX``."""

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
) -> dict[HistoryKind, int]:
    """One transaction: the page's records and the cursor advance. Returns how many were new,
    per kind (a stream may carry several: Kraken's ledger also holds deposits)."""
    trades = [r for r in records if isinstance(r, Trade)]
    transfers = [r for r in records if isinstance(r, Transfer)]
    entries = [r for r in records if isinstance(r, LedgerEntry)]
    with app.db().session() as store:
        history = store.history
        added = {HistoryKind.TRADES: history.add_trades(trades)}
        added[HistoryKind.DEPOSITS] = history.add_transfers(
            [t for t in transfers if t.kind is TransferKind.DEPOSIT]
        )
        added[HistoryKind.WITHDRAWALS] = history.add_transfers(
            [t for t in transfers if t.kind is TransferKind.WITHDRAWAL]
        )
        added[HistoryKind.LEDGER] = history.add_ledger(entries)
        history.set_cursor(account=account, kind=stream_key, cursor=cursor)
    return {kind: count for kind, count in added.items() if count}


def _load_cursor(app: App, account: str, stream_key: str) -> tuple[str, datetime] | None:
    with app.db().session(read_only=True) as store:
        return store.history.cursor_at(account=account, kind=stream_key)


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
    stored = await asyncio.to_thread(_load_cursor, app, name, stream.key)
    cursor, written_at = stored if stored is not None else (None, None)
    if stream.resting(cursor, written_at):
        report.unfinished.append(stream.key)  # a paced walk: it continues at a later sync
        _note_progress(stream, cursor, report)
        return
    saved = [cursor]  # the last cursor stored, kept up to date by _read_pages
    try:
        await _read_pages(app, stream, saved, report, write_lock)
    finally:
        _note_progress(stream, saved[0], report)


def _note_progress(stream: HistoryStream, cursor: str | None, report: ImportReport) -> None:
    """A stream that says how far it has come is unfinished: the next sync goes on."""
    note = stream.progress(cursor)
    if note is None:
        return
    report.progress[stream.key] = note
    if stream.key not in report.unfinished:
        report.unfinished.append(stream.key)


async def _read_pages(
    app: App,
    stream: HistoryStream,
    saved: list[str | None],
    report: ImportReport,
    write_lock: asyncio.Lock,
) -> None:
    """Pages from ``saved[0]`` on, each stored with its cursor (``saved[0]`` follows)."""
    name = report.account
    cursor = saved[0]
    budget = stream.pages_per_run or _MAX_PAGES
    for pages in range(1, _MAX_PAGES + 1):
        page = await stream.next_page(cursor)
        report.pages += page.requests
        if page.records or page.cursor != cursor:
            async with write_lock:
                added = await asyncio.to_thread(
                    _save_page, app, name, stream.key, page.records, page.cursor
                )
            saved[0] = page.cursor
            report.new.setdefault(stream.kind, 0)
            for kind, count in added.items():
                report.new[kind] = report.new.get(kind, 0) + count
            logger.debug(
                "import %s %s: %d rows, %d new",
                name, stream.key, len(page.records), sum(added.values()),
            )  # fmt: skip
        cursor = page.cursor
        if page.error is not None:
            raise page.error  # stored first: the stream knows not to ask again at once
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
    keys: Collection[str] | None = None,
) -> ImportReport:
    from keyfolio.exchanges.sources import is_fatal

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
    gate = asyncio.Semaphore(_STREAMS_AT_ONCE)
    stopped = asyncio.Event()  # a key problem or a storage error: start no further stream

    async def one(stream: HistoryStream) -> None:
        async with gate:
            if stopped.is_set():
                return
            try:
                await _import_stream(app, stream, report, write_lock)
            except ExchangeError as exc:
                logger.info("import %s %s failed: %s", spec.name, stream.key, exc.message)
                report.errors.append(exc)
                if is_fatal(exc):
                    stopped.set()
            except KeyfolioError as exc:
                report.errors.append(exc)
                stopped.set()

    chosen = [
        stream
        for stream in streams
        if (kinds is None or stream.kind in kinds) and (keys is None or stream.key in keys)
    ]
    if chosen:  # the first alone: a wrong key fails one request, not one per stream
        await one(chosen[0])
    try:
        async with asyncio.TaskGroup() as group:
            for stream in chosen[1:]:
                group.create_task(one(stream))
    except BaseExceptionGroup as raised:  # a bug: raised as itself, as a sequential read would
        raise raised.exceptions[0]  # noqa: B904
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


def _fingerprint(store: Any, account: str) -> str:
    rows = sorted(
        (row.source.value, row.asset, f"{row.amount.normalize():f}")
        for row in store.balances(account=account, include_excluded=True)
    )
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def history_due(app: App, names: Sequence[str]) -> dict[str, frozenset[str] | None]:
    """The accounts whose history could have changed since their last import, each with the
    streams to read: ``None`` for all of them, or the keys of the walks still under way.

    Every trade, deposit, withdrawal, transfer between sources and fee or reward changes a
    balance, so an account whose balances are what they were at its last complete import has
    nothing new to read. An account is due when its balances differ from then, when it was
    never checked, or when the periodic full check is due (``KEYFOLIO_HISTORY_CHECK_HOURS``, 6
    by default): all its streams are read. When only a walk is still under way (a backfill at
    its page budget, an archive OKX is still preparing), only those streams are read.
    docs/exchanges/okx.md gives the argument.
    """
    now = datetime.now(UTC)
    period = app.settings.history_check_hours * 3600
    due: dict[str, frozenset[str] | None] = {}
    with app.db().session(read_only=True) as store:
        for name in names:
            state = load_cursor(store.history.get_cursor(account=name, kind=CHECK_KIND))
            checked = state.get("checked_at")
            stale = not isinstance(checked, int | float) or now.timestamp() - checked >= period
            unfinished = state.get("unfinished")
            if stale or state.get("fp") != _fingerprint(store, name):
                due[name] = None
            elif isinstance(unfinished, list) and unfinished:
                due[name] = frozenset(str(key) for key in unfinished)
            elif unfinished:  # written by an older keyfolio: a flag, not the streams
                due[name] = None
    return due


def recheck(store: Any, account: str) -> None:
    """Make the next sync read every stream of ``account`` (records were added another way,
    e.g. an imported file, and may name markets the walks did not know)."""
    store.history.set_cursor(account=account, kind=CHECK_KIND, cursor="{}")


def mark_checked(app: App, reports: Sequence[ImportReport], partial: Collection[str] = ()) -> None:
    """Remember the balances each complete import saw (an import with errors stays due).

    An account in ``partial`` had only its unfinished walks read: its balances and the time of
    its last full check stay as they were, only the walks still under way are updated.
    """
    now = datetime.now(UTC).timestamp()
    with app.db().session() as store:
        for report in reports:
            if report.errors or report.skipped:
                continue
            state: dict[str, Any] = {
                "fp": _fingerprint(store, report.account),
                "checked_at": now,
            }
            if report.account in partial:
                state = load_cursor(
                    store.history.get_cursor(account=report.account, kind=CHECK_KIND)
                )
            state["unfinished"] = sorted(report.unfinished)
            store.history.set_cursor(
                account=report.account, kind=CHECK_KIND, cursor=json.dumps(state)
            )


async def import_all(
    app: App,
    names: list[str] | None = None,
    *,
    pool: ConnectorPool | None = None,
    credentials: Mapping[str, Credentials] | None = None,
    streams: Mapping[str, Collection[str] | None] | None = None,
) -> list[ImportReport]:
    """Import the history of the named accounts (default: all), a few at a time.

    ``streams`` limits an account to the streams with those keys (``None``: all of them).

    Manual accounts are reported as skipped. Never raises for one account's failure: an
    expected error, or a bug (logged with its traceback, reported as
    :class:`~keyfolio.errors.InternalError`), is that account's report. A failure of the
    machine (:class:`~keyfolio.errors.StorageUnavailableError`: a full disk, a lock held too
    long) stops the import and is raised; what was imported before it is kept. A sync passes
    its ``pool`` and the ``credentials`` it read at its start (by account name), so the vault
    is not read again.
    """

    with app.db().session(read_only=True) as store:
        specs = [store.get_account(name=n) for n in names] if names else store.list_accounts()
    reports: dict[str, ImportReport] = {}
    contacted = [spec for spec in specs if spec.exchange != MANUAL_EXCHANGE]
    for spec in specs:
        if spec.exchange == MANUAL_EXCHANGE:
            reports[spec.name] = ImportReport(spec.name, skipped="manual account")
    halted: list[StorageUnavailableError] = []
    if contacted:
        slots = AccountSlots(app.settings)
        lock = asyncio.Lock()
        known = credentials or {}
        async with _pool(app, pool) as shared:

            async def one(spec: AccountSpec) -> None:
                async with slots(spec):
                    if halted:
                        reports[spec.name] = ImportReport(spec.name, errors=[halted[0]])
                        return
                    reports[spec.name] = await _import_guarded(
                        app, shared, spec, lock, known.get(spec.name), halted,
                        (streams or {}).get(spec.name),
                    )  # fmt: skip

            async with asyncio.TaskGroup() as group:
                for spec in contacted:
                    group.create_task(one(spec))
    if halted:
        raise halted[0]
    return [reports[spec.name] for spec in specs]


async def _import_guarded(
    app: App,
    pool: ConnectorPool,
    spec: AccountSpec,
    lock: asyncio.Lock,
    credentials: Credentials | None,
    halted: list[StorageUnavailableError],
    keys: Collection[str] | None = None,
) -> ImportReport:
    """One account's import; its failure (even a bug) never cancels the other accounts."""
    try:
        return await _import_with(app, pool, spec, None, lock, credentials, keys)
    except StorageUnavailableError as exc:  # the machine: the caller stops the import
        halted.append(exc)
        error: KeyfolioError = exc
    except KeyfolioError as exc:
        logger.warning("import %s failed: %s", spec.name, exc.message)
        error = exc
    except Exception as exc:  # a bug: logged and reported as one; the other accounts go on
        logger.error("import %s: a bug in keyfolio", spec.name, exc_info=True, extra=QUIET)
        error = InternalError.from_bug(exc, doing=f"importing the history of '{spec.name}'")
    return ImportReport(spec.name, errors=[error])


@asynccontextmanager
async def _pool(app: App, pool: ConnectorPool | None) -> AsyncIterator[ConnectorPool]:
    """``pool`` as it is (its owner closes it), else a new one closed on exit."""
    if pool is not None:
        yield pool
        return
    from keyfolio.services.assets import connector_pool

    async with connector_pool(app) as own:
        yield own
