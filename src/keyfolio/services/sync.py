"""Syncing accounts: bounded-concurrent fetches, one transaction per account, then prices."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.balances import SourceResult
from keyfolio.errors import KeyfolioError, PricingError, StorageError
from keyfolio.services.accounts import refuse_manual
from keyfolio.services.context import App, protect
from keyfolio.services.pricing import refresh_prices

if TYPE_CHECKING:
    from keyfolio.exchanges.pool import ConnectorPool
    from keyfolio.services.imports import ImportReport

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


async def sync_accounts(
    app: App,
    *,
    names: list[str] | None = None,
    progress: ProgressCallback | None = None,
    history: bool = True,
) -> SyncReport:
    """Sync the named accounts (default: all). Never raises for one account's failure.

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
    keys = _read_credentials(app, accounts)
    semaphore = asyncio.Semaphore(max(1, app.settings.sync_concurrency))
    write_lock = asyncio.Lock()
    outcomes: dict[str, SyncOutcome] = {}
    imports: list[ImportReport] = []
    try:
        async with connector_pool(app) as pool:

            async def one(spec: AccountSpec) -> None:
                async with semaphore:
                    try:
                        outcomes[spec.name] = await _sync_one(
                            app, pool, keys[spec.name], spec, progress, write_lock
                        )
                    except Exception as exc:  # one account must never cancel its siblings
                        logger.info("sync %s: could not be saved", spec.name, exc_info=True)
                        error = (
                            exc
                            if isinstance(exc, KeyfolioError)
                            else StorageError(
                                f"the sync of '{spec.name}' could not be saved "
                                f"({type(exc).__name__}: {exc})",
                                hint="Earlier data is kept. Run with --debug and report the "
                                "output if it happens again.",
                            )
                        )
                        if progress:
                            progress(spec.name, "failed")
                        outcomes[spec.name] = SyncOutcome(spec.name, "failed", error=error)

            async with asyncio.TaskGroup() as group:
                for spec in accounts:
                    group.create_task(one(spec))
            pricing_error = await refresh_prices(app, accounts, pool=pool)
            ordered = [outcomes[spec.name] for spec in accounts]
            await asyncio.to_thread(_record_snapshots, app, ordered)
            if history:
                from keyfolio.services.imports import history_due, import_all, mark_checked

                reached = [outcome.account for outcome in ordered if outcome.status != "failed"]
                due = await asyncio.to_thread(history_due, app, reached) if reached else []
                held = {n: c for n, c in keys.items() if isinstance(c, Credentials)}
                if due:
                    imports = await import_all(app, due, pool=pool, credentials=held)
                    await asyncio.to_thread(mark_checked, app, imports)
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


def _record_snapshots(app: App, outcomes: list[SyncOutcome]) -> None:
    """After the prices: one snapshot set per OK source, then compaction when it is due."""
    from keyfolio.services.snapshots import maybe_compact, record_snapshot_batch

    record_snapshot_batch(
        app,
        [
            (outcome.account, outcome.results, outcome.at)
            for outcome in outcomes
            if outcome.results and outcome.at is not None
        ],
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


async def _sync_one(
    app: App,
    pool: ConnectorPool,
    credentials: Credentials | KeyfolioError,
    spec: AccountSpec,
    progress: ProgressCallback | None,
    write_lock: asyncio.Lock,
) -> SyncOutcome:
    if progress:
        progress(spec.name, "start")
    now = datetime.now(UTC)
    try:
        if isinstance(credentials, KeyfolioError):
            raise credentials
        connector = pool.connector(spec, credentials)
        results = await connector.fetch_balances()
    except KeyfolioError as exc:
        code = getattr(exc, "exchange_code", None) or exc.code
        async with write_lock:
            await asyncio.to_thread(_save_failure, app, spec.name, code, exc, now)
        logger.info("sync %s: failed (%s)", spec.name, exc.message)
        if progress:
            progress(spec.name, "failed")
        return SyncOutcome(account=spec.name, status="failed", error=exc)
    async with write_lock:
        status = await asyncio.to_thread(_save, app, spec.name, results, now)
    logger.info("sync %s: %s", spec.name, status)
    if progress:
        progress(spec.name, status)
    return SyncOutcome(account=spec.name, status=status, results=results, at=now)


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
