"""Importing trade, transfer and ledger history from exchange accounts.

Incremental, idempotent and resumable, per account and per history stream (``trades:SPOT``,
``deposits``, ``ledger:funding``...):

* Each stream has a persisted cursor (JSON text): ``done`` (every record with a paging key at
  or below it is stored) and, while a walk is under way, ``walk`` = {``top``: the newest key
  of this walk, ``low``: the oldest key stored so far, ``after``: the next request's cursor}.
* A walk reads OKX's pages newest first (OKX's ``after`` cursor is the one whose meaning is
  unambiguous) down to ``done``. **Every page is stored in its own transaction together with
  the cursor advance**, so a crash loses at most the page in flight; the next run resumes at
  ``walk.after`` and, because every record has a unique key, a replayed page adds nothing.
* When the walk reaches ``done`` (or the end of the history), ``done`` becomes ``top``; a
  deposit or withdrawal still pending holds ``done`` below it, so its final state is read
  again next time.

Exchange failures never raise: they end up in :class:`ImportReport.errors`. Accounts of
exchange ``manual`` are skipped (nothing to contact).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keyfolio.domain.accounts import MANUAL_EXCHANGE, AccountSpec, Credentials
from keyfolio.domain.history import HistoryKind, LedgerEntry, Trade, Transfer
from keyfolio.errors import (
    ExchangeError,
    InternalError,
    KeyfolioError,
    StorageError,
    StorageUnavailableError,
)
from keyfolio.logging import QUIET
from keyfolio.services.context import App, protect

if TYPE_CHECKING:
    from keyfolio.exchanges.base import ExchangeConnector
    from keyfolio.exchanges.history import HistoryRecord, HistoryStream
    from keyfolio.exchanges.pool import ConnectorPool

__all__ = [
    "MANUAL_EXCHANGE",
    "ImportReport",
    "WalkCursor",
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


@dataclass
class WalkCursor:
    """The persisted import position of one stream (see the module docstring)."""

    done: int | None = None
    top: int | None = None
    low: int | None = None
    after: int | None = None
    hold: int | None = None

    @property
    def walking(self) -> bool:
        return self.top is not None

    def dump(self) -> str:
        """The cursor as JSON text (the ``import_cursors.cursor`` column)."""
        if not self.walking:
            return json.dumps({"done": self.done})
        walk = {"top": self.top, "low": self.low, "after": self.after, "hold": self.hold}
        return json.dumps({"done": self.done, "walk": walk})

    @classmethod
    def load(cls, text: str | None) -> WalkCursor:
        """Parse a stored cursor; a missing or unreadable one starts from scratch."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            walk = data.get("walk") or {}
            return cls(
                done=_opt_int(data.get("done")),
                top=_opt_int(walk.get("top")),
                low=_opt_int(walk.get("low")),
                after=_opt_int(walk.get("after")),
                hold=_opt_int(walk.get("hold")),
            )
        except (ValueError, TypeError, AttributeError):
            logger.warning("unreadable import cursor %r: starting over", text[:80])
            return cls()


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _next_after(stream: HistoryStream, low: int, previous: int | None) -> int:
    """The next ``after``: below ``low`` for ids; for times ``low + 1`` (records sharing
    ``low`` may continue on the next page), unless that would repeat the last request."""
    if stream.paged_by == "id":
        return low
    if previous is not None and low + 1 >= previous:
        logger.warning("more than a page of %s records at ts %d: skipping to older", stream, low)
        return low
    return low + 1


def _pending(record: HistoryRecord) -> bool:
    return isinstance(record, Transfer) and record.status == "pending"


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


def _load_cursor(app: App, account: str, stream_key: str) -> WalkCursor:
    with app.db().session(read_only=True) as store:
        return WalkCursor.load(store.history.get_cursor(account=account, kind=stream_key))


async def _import_stream(
    app: App,
    connector: ExchangeConnector,
    stream: HistoryStream,
    report: ImportReport,
    write_lock: asyncio.Lock,
) -> None:
    """Walk one stream from the newest page down to its ``done`` mark, a page per commit."""
    from keyfolio.exchanges.history import fetch_page

    name = report.account
    cursor = await asyncio.to_thread(_load_cursor, app, name, stream.key)
    for _ in range(_MAX_PAGES):
        request_after = cursor.after if cursor.walking else None
        page = await fetch_page(connector, stream, after=request_after)
        report.pages += 1
        keys = [key for key, _ in page.records]
        if not cursor.walking:
            if not keys or (cursor.done is not None and max(keys) <= cursor.done):
                return  # nothing newer than what is stored
            cursor.top, cursor.low = max(keys), min(keys)
        elif keys:
            cursor.low = min(min(keys), cursor.low if cursor.low is not None else min(keys))
        held = [key for key, record in page.records if _pending(record)]
        if held:
            cursor.hold = min([*held, *([cursor.hold] if cursor.hold is not None else [])])
        low = cursor.low if cursor.low is not None else 0
        finished = not keys or not page.full or (cursor.done is not None and low <= cursor.done)
        if finished:
            assert cursor.top is not None
            done = cursor.top if cursor.hold is None else min(cursor.top, cursor.hold - 1)
            cursor = WalkCursor(done=done)
        else:
            cursor.after = _next_after(stream, low, request_after)
        records = [record for _, record in page.records]
        async with write_lock:
            added = await asyncio.to_thread(
                _save_page, app, name, stream.key, records, cursor.dump()
            )
        report.new[stream.kind] = report.new.get(stream.kind, 0) + added
        logger.debug("import %s %s: %d rows, %d new", name, stream.key, len(records), added)
        if finished:
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
    from keyfolio.exchanges.history import history_streams

    report = ImportReport(account=spec.name)
    try:
        if credentials is None:
            credentials = app.vault().get(spec.name)
        protect(credentials)
        connector = pool.connector(spec, credentials)
        streams = history_streams(connector)
    except KeyfolioError as exc:
        report.errors.append(exc)
        return report
    for stream in streams:
        if kinds is not None and stream.kind not in kinds:
            continue
        try:
            await _import_stream(app, connector, stream, report, write_lock)
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
    from keyfolio.exchanges.pool import ConnectorPool

    async with ConnectorPool(app.settings) as own:
        return await _import_with(app, own, spec, kinds, lock, credentials)


async def import_all(
    app: App,
    names: list[str] | None = None,
    *,
    pool: ConnectorPool | None = None,
    credentials: Mapping[str, Credentials] | None = None,
) -> list[ImportReport]:
    """Import the history of the named accounts (default: all), a few at a time.

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
        semaphore = asyncio.Semaphore(max(1, app.settings.sync_concurrency))
        lock = asyncio.Lock()
        known = credentials or {}
        async with _pool(app, pool) as shared:

            async def one(spec: AccountSpec) -> None:
                async with semaphore:
                    if halted:
                        reports[spec.name] = ImportReport(spec.name, errors=[halted[0]])
                        return
                    reports[spec.name] = await _import_guarded(
                        app, shared, spec, lock, known.get(spec.name), halted
                    )

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
) -> ImportReport:
    """One account's import; its failure (even a bug) never cancels the other accounts."""
    try:
        return await _import_with(app, pool, spec, None, lock, credentials)
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
    from keyfolio.exchanges.pool import ConnectorPool

    async with ConnectorPool(app.settings) as own:
        yield own
