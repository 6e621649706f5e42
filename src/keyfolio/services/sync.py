"""Syncing accounts: bounded-concurrent fetches, one transaction per account, then prices."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.balances import SourceResult
from keyfolio.errors import InternalError, KeyfolioError, PricingError, StorageUnavailableError
from keyfolio.logging import QUIET
from keyfolio.services.accounts import refuse_manual
from keyfolio.services.context import App, protect
from keyfolio.services.pricing import refresh_prices
from keyfolio.services.slots import AccountSlots

if TYPE_CHECKING:
    from keyfolio.exchanges.pool import ConnectorPool
    from keyfolio.services.imports import ImportReport
    from keyfolio.storage import Store

__all__ = ["SyncOutcome", "SyncReport", "sync_accounts"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, str], None]
"""``progress(account_name, event)`` with event ``start``, ``ok``, ``partial`` or ``failed``."""


@dataclass(frozen=True)
class SyncOutcome:
    """What one account's sync did."""

    account: str
    status: str
    results: list[SourceResult] = field(default_factory=list)
    error: KeyfolioError | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class SyncReport:
    outcomes: list[SyncOutcome]
    pricing_error: PricingError | None = None
    imports: list[ImportReport] = field(default_factory=list)

    @property
    def failed(self) -> list[SyncOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]

    @property
    def has_bug(self) -> bool:
        """True when a bug stopped an account's balances or its history import."""
        errors = [o.error for o in self.outcomes] + [e for r in self.imports for e in r.errors]
        return any(isinstance(error, InternalError) for error in errors)

    def to_json(self) -> dict[str, Any]:
        """The report as `keyfolio sync --json` prints it (amounts as strings). An account's
        ``error`` is its own failure (with its ``code``), else its first failed source's."""
        from keyfolio.domain.money import format_amount

        return {
            "accounts": [
                {
                    "name": o.account,
                    "status": o.status,
                    **_account_error(o),
                    "sources": [
                        {
                            "source": r.source.value,
                            "status": r.status.value,
                            "error": r.error,
                            "hint": r.hint,
                            "amounts": {a: format_amount(v) for a, v in sorted(r.amounts.items())},
                        }
                        for r in o.results
                    ],
                }
                for o in self.outcomes
            ],
            "prices_error": self.pricing_error.message if self.pricing_error else None,
            "history": [
                {
                    "account": imported.account,
                    "new": {kind.value: count for kind, count in sorted(imported.new.items())},
                    "skipped": imported.skipped,
                    "unfinished": imported.unfinished,
                    "progress": imported.progress,
                    "errors": [
                        {"error": e.message, "hint": e.hint, "code": e.code}
                        for e in imported.errors
                    ],
                }
                for imported in self.imports
            ],
        }


def _account_error(outcome: SyncOutcome) -> dict[str, str | None]:
    """The account-level error of a sync: its exception (with its code), else its first failed
    source (no code)."""
    if outcome.error is not None:
        error = outcome.error
        return {"error": error.message, "hint": error.hint, "code": error.code}
    if outcome.status == "failed":
        failed = next((r for r in outcome.results if not r.is_ok), None)
        if failed is not None:
            return {"error": failed.error, "hint": failed.hint, "code": None}
    return {"error": None, "hint": None, "code": None}


async def sync_accounts(
    app: App,
    *,
    names: list[str] | None = None,
    progress: ProgressCallback | None = None,
    history: bool = True,
    commit_with: Callable[[Store], None] | None = None,
) -> SyncReport:
    """Sync the named accounts (default: all). Never raises for one account's failure.

    One account's failure, even a bug (logged with its traceback, reported as
    :class:`~keyfolio.errors.InternalError`), is its outcome; the others go on. A failure of
    the machine (a full disk, a database locked too long, an unusable data directory) stops
    the sync: :class:`~keyfolio.errors.StorageUnavailableError` is raised, and what was saved
    before it stays (each account's save is one transaction).

    Balances first (all accounts concurrently), then prices; then one snapshot set per OK
    source, the trade/transfer history (``history``, incremental), the automatic snapshot
    compaction, and the events ``account.status`` and ``portfolio.updated`` on ``app.bus``.
    Manual accounts (held elsewhere, entered by hand) are never contacted.

    The credentials are read from the vault once, at the start, for the accounts synced; the
    balances and the history use them through one connector pool, which is closed (with
    every connector holding them) before this returns, and the sync keeps no reference.
    """
    from keyfolio.services.assets import connector_pool

    with app.db().session(read_only=True) as store:
        accounts = (
            [store.get_account(name=name) for name in names] if names else store.list_accounts()
        )
    for spec in accounts if names else []:
        refuse_manual(spec, "sync")
    accounts = [spec for spec in accounts if not spec.is_manual]
    if not accounts:
        return SyncReport(outcomes=[])
    from keyfolio.exchanges.pool import preload

    await app.unlock_meanwhile(preload)  # Argon2id on a worker thread while ccxt imports here
    keys = _read_credentials(app, accounts)
    run = _Run(app, progress)
    slots = AccountSlots(app.settings)
    imports: list[ImportReport] = []
    try:
        async with connector_pool(app) as pool:

            async def one(spec: AccountSpec) -> None:
                async with slots(spec):
                    run.outcomes[spec.name] = await _guarded(run, pool, keys[spec.name], spec)

            async with asyncio.TaskGroup() as group:
                for spec in accounts:
                    group.create_task(one(spec))
            if run.halted is not None:  # the machine, not an account: nothing more is stored
                raise run.halted
            outcomes = run.outcomes
            pricing_error = await refresh_prices(app, accounts, pool=pool)
            ordered = [outcomes[spec.name] for spec in accounts]
            await asyncio.to_thread(_record_snapshots, app, ordered, commit_with)
            if history:
                from keyfolio.services.imports import history_due, import_all, mark_checked

                reached = [outcome.account for outcome in ordered if outcome.status != "failed"]
                due = await asyncio.to_thread(history_due, app, reached) if reached else {}
                held = {n: c for n, c in keys.items() if isinstance(c, Credentials)}
                if due:
                    imports = await import_all(
                        app, list(due), pool=pool, credentials=held, streams=due
                    )
                    partial = [name for name, only in due.items() if only is not None]
                    await asyncio.to_thread(mark_checked, app, imports, partial)
                held.clear()
    finally:
        keys.clear()
    _publish(app, accounts, ordered)
    return SyncReport(outcomes=ordered, pricing_error=pricing_error, imports=imports)


def _read_credentials(
    app: App, accounts: list[AccountSpec]
) -> dict[str, Credentials | KeyfolioError]:
    """Each account's credentials from the vault (or why there are none), registered with the
    log redaction filter."""
    vault = app.vault()
    keys: dict[str, Credentials | KeyfolioError] = {}
    for spec in accounts:
        try:
            credentials = vault.get(spec.name)
        except KeyfolioError as exc:
            keys[spec.name] = exc
            continue
        protect(credentials)
        keys[spec.name] = credentials
    return keys


def _record_snapshots(
    app: App, outcomes: list[SyncOutcome], also: Callable[[Store], None] | None = None
) -> None:
    """After the prices: one snapshot set per OK source, then compaction when it is due."""
    from keyfolio.services.snapshots import maybe_compact, record_snapshot_batch

    record_snapshot_batch(
        app,
        [
            (outcome.account, outcome.results, outcome.at)
            for outcome in outcomes
            if outcome.results and outcome.at is not None
        ],
        also=also,
    )
    maybe_compact(app)


def _publish(app: App, accounts: list[AccountSpec], outcomes: list[SyncOutcome]) -> None:
    for outcome in outcomes:
        error = outcome.error
        app.bus.publish(
            "account.status",
            {
                "account": outcome.account,
                "status": outcome.status,
                "error": error.message if error else None,
                "hint": error.hint if error else None,
                "source": None,
            },
        )
    by_name = {outcome.account: outcome for outcome in outcomes}
    for portfolio in sorted({spec.portfolio for spec in accounts}):
        changed = [
            spec.name
            for spec in accounts
            if spec.portfolio == portfolio and by_name[spec.name].status != "failed"
        ]
        if changed:
            app.bus.publish(
                "portfolio.updated",
                {"portfolio": portfolio, "account": ",".join(changed), "reason": "sync"},
            )


@dataclass
class _Run:
    """One sync of several accounts: what they share."""

    app: App
    progress: ProgressCallback | None
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    outcomes: dict[str, SyncOutcome] = field(default_factory=dict)
    halted: StorageUnavailableError | None = None
    """Set by the first account whose save met a full disk, a lock or an unusable directory:
    the others then skip their saves instead of each waiting for the same failure."""

    def report(self, name: str, event: str) -> None:
        if self.progress:
            self.progress(name, event)


async def _guarded(
    run: _Run, pool: ConnectorPool, credentials: Credentials | KeyfolioError, spec: AccountSpec
) -> SyncOutcome:
    """One account's sync; its failure (even a bug) never cancels the other accounts."""
    try:
        return await _sync_one(run, pool, credentials, spec)
    except StorageUnavailableError as exc:
        run.halted = run.halted or exc
        logger.warning("sync %s: not saved (%s)", spec.name, exc.message)
        error: KeyfolioError = exc
    except KeyfolioError as exc:  # e.g. a value the database refused: this account only
        logger.warning("sync %s: not saved (%s)", spec.name, exc.message)
        error = exc
    except Exception as exc:  # a bug: logged and reported as one; the other accounts go on
        logger.error("sync %s: a bug in keyfolio", spec.name, exc_info=True, extra=QUIET)
        error = InternalError.from_bug(exc, doing=f"syncing '{spec.name}'")
        await _save_failure_quietly(run, spec.name, error)
    run.report(spec.name, "failed")
    return SyncOutcome(spec.name, "failed", error=error)


async def _sync_one(
    run: _Run, pool: ConnectorPool, credentials: Credentials | KeyfolioError, spec: AccountSpec
) -> SyncOutcome:
    run.report(spec.name, "start")
    now = datetime.now(UTC)
    try:
        if isinstance(credentials, KeyfolioError):
            raise credentials
        connector = pool.connector(spec, credentials)
        results = await connector.fetch_balances()
    except KeyfolioError as exc:
        code = getattr(exc, "exchange_code", None) or exc.code
        async with run.write_lock:
            _check_halted(run)
            await asyncio.to_thread(_save_failure, run.app, spec.name, code, exc, now)
        logger.info("sync %s: failed (%s)", spec.name, exc.message)
        run.report(spec.name, "failed")
        return SyncOutcome(account=spec.name, status="failed", error=exc)
    async with run.write_lock:
        _check_halted(run)
        status = await asyncio.to_thread(_save, run.app, spec.name, results, now)
    logger.info("sync %s: %s", spec.name, status)
    run.report(spec.name, status)
    return SyncOutcome(account=spec.name, status=status, results=results, at=now)


def _check_halted(run: _Run) -> None:
    if run.halted is not None:
        raise run.halted


async def _save_failure_quietly(run: _Run, name: str, error: InternalError) -> None:
    """Mark the account failed with the bug's message (shown by `show` and the dashboard)."""
    if run.halted is not None:
        return
    try:
        async with run.write_lock:
            await asyncio.to_thread(
                _save_failure, run.app, name, error.code, error, datetime.now(UTC)
            )
    except KeyfolioError as exc:  # the bug is the news; this only adds to the log
        logger.warning("sync %s: the failure was not recorded (%s)", name, exc.message)


# The database writes run in a worker thread: a busy SQLite lock (another keyfolio process)
# then delays only this account, never the event loop that the other accounts' requests use.
# One write at a time (write_lock): SQLite has one writer anyway, and threads queueing on its
# busy handler would sleep in steps instead of taking turns.


def _save(app: App, name: str, results: list[SourceResult], at: datetime) -> str:
    with app.db().session() as store:
        return store.record_sync(name=name, results=results, synced_at=at)


def _save_failure(app: App, name: str, code: str, exc: KeyfolioError, at: datetime) -> None:
    with app.db().session() as store:
        store.record_failure(name=name, error_code=code, error=exc.message, hint=exc.hint, at=at)
