"""The write side of a sync: balances, source states and the sync log of one account.

Private helpers of ``Store.record_sync`` and ``Store.record_failure``. They only touch rows of
the one account they are given and run inside the caller's transaction, so a sync either
lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.storage._types import to_text
from keyfolio.storage.tables import (
    ASSET_LENGTH,
    AccountRow,
    BalanceRow,
    SourceStateRow,
    SyncRunRow,
)

__all__ = [
    "CheckedResult",
    "Failure",
    "account_status",
    "check_results",
    "first_failure",
    "mark_stale",
    "put_state",
    "replace_balances",
    "write_failure",
    "write_sync",
]

_HEALTHY = frozenset({SourceStatus.OK, SourceStatus.UNSUPPORTED})


@dataclass(frozen=True)
class CheckedResult:
    """A ``SourceResult`` whose source, status and amounts were validated."""

    source: Source
    status: SourceStatus
    amounts: Mapping[str, Decimal]
    error_code: str | None
    error: str | None
    hint: str | None


@dataclass(frozen=True)
class Failure:
    """What went wrong with a whole account (auth error, network)."""

    error_code: str | None
    error: str
    hint: str


def _check_asset(asset: object) -> str:
    if not isinstance(asset, str) or not asset.strip():
        raise ValueError(f"asset: {asset!r} is not an asset name")
    if len(asset) > ASSET_LENGTH:
        raise ValueError(f"asset: {asset[:20]!r}... is longer than {ASSET_LENGTH} characters")
    return asset


def check_results(results: Sequence[SourceResult]) -> list[CheckedResult]:
    """Validate every result before anything is written (floats and NaN are refused)."""
    checked: list[CheckedResult] = []
    for result in results:
        source = Source(result.source)
        status = SourceStatus(result.status)
        amounts: dict[str, Decimal] = {}
        if status is SourceStatus.OK:
            for asset, amount in result.amounts.items():
                to_text(amount, field=f"{source.value} {asset}")
                amounts[_check_asset(asset)] = amount
        checked.append(
            CheckedResult(
                source=source,
                status=status,
                amounts=amounts,
                error_code=result.error_code,
                error=result.error,
                hint=result.hint,
            )
        )
    return checked


def account_status(results: Sequence[CheckedResult]) -> str:
    """``ok`` if every source is OK or UNSUPPORTED, ``failed`` if none is OK, else ``partial``."""
    if all(result.status in _HEALTHY for result in results):
        return "ok"
    if not any(result.status is SourceStatus.OK for result in results):
        return "failed"
    return "partial"


def first_failure(results: Sequence[CheckedResult]) -> CheckedResult | None:
    """The first result that is neither OK nor UNSUPPORTED (NOT_PERMITTED counts)."""
    return next((result for result in results if result.status not in _HEALTHY), None)


def replace_balances(
    session: Session,
    *,
    account_id: int,
    source: Source,
    amounts: Mapping[str, Decimal],
    at: datetime,
    rows: Mapping[str, BalanceRow],
) -> dict[str, BalanceRow]:
    """Make the stored balances of one source exactly ``amounts`` (zero amounts dropped).

    ``rows`` are its stored rows by asset; returns its rows now.
    """
    old = dict(rows)
    new: dict[str, BalanceRow] = {}
    for asset, amount in amounts.items():
        if amount == 0:
            continue
        row = old.pop(asset, None)
        if row is None:
            row = BalanceRow(account_id=account_id, source=source.value, asset=asset)
            session.add(row)
        row.amount = amount
        row.synced_at = at
        row.stale = False
        new[asset] = row
    for gone in old.values():
        session.delete(gone)
    return new


def mark_stale(session: Session, *, account_id: int, source: Source | None = None) -> None:
    """Mark the kept balances of one source (or of every source) stale; amounts untouched."""
    query = select(BalanceRow).where(BalanceRow.account_id == account_id)
    if source is not None:
        query = query.where(BalanceRow.source == source.value)
    for row in session.scalars(query):
        row.stale = True


def put_state(
    session: Session,
    *,
    account_id: int,
    result: CheckedResult,
    at: datetime,
    row: SourceStateRow | None,
) -> SourceStateRow:
    """Store how the read of one source went (``row``: its stored state, if any); ``last_ok_at``
    moves only on success."""
    if row is None:
        row = SourceStateRow(account_id=account_id, source=result.source.value)
        session.add(row)
    row.status = result.status.value
    row.error_code = result.error_code
    row.error = result.error
    row.hint = result.hint
    row.updated_at = at
    if result.status is SourceStatus.OK:
        row.last_ok_at = at
    return row


def _log_run(
    session: Session,
    *,
    account: AccountRow,
    started_at: datetime,
    at: datetime,
    status: str,
    error_code: str | None,
) -> None:
    session.add(
        SyncRunRow(
            account_id=account.id,
            started_at=started_at,
            finished_at=at,
            status=status,
            error_code=error_code,
        )
    )


def write_sync(
    session: Session,
    *,
    account: AccountRow,
    results: Sequence[CheckedResult],
    at: datetime,
    started_at: datetime,
    log_run: bool = True,
) -> str:
    """Write validated results of one sync of ``account``; returns the account status.

    ``results`` may cover only some sources (a live push re-reads the trading source): the
    status is worked out from the stored state of every source, so reading one source never
    turns a partial account into an ok one.

    Two reads (the account's balances of the sources written, and its source states), then
    one flush: a 50-account sync saved each account with about twenty statements and nine
    flushes before (docs/benchmarks.md).
    """
    written = [result.source.value for result in results]
    with session.no_autoflush:
        balances: dict[str, dict[str, BalanceRow]] = {source: {} for source in written}
        for balance in session.scalars(
            select(BalanceRow).where(
                BalanceRow.account_id == account.id, BalanceRow.source.in_(written)
            )
        ):
            balances[balance.source][balance.asset] = balance
        stored = {
            row.source: row
            for row in session.scalars(
                select(SourceStateRow).where(SourceStateRow.account_id == account.id)
            )
        }
        for result in results:
            key = result.source.value
            if result.status is SourceStatus.OK:
                balances[key] = replace_balances(
                    session,
                    account_id=account.id,
                    source=result.source,
                    amounts=result.amounts,
                    at=at,
                    rows=balances[key],
                )
            else:
                for row in balances[key].values():
                    row.stale = True
            stored[key] = put_state(
                session, account_id=account.id, result=result, at=at, row=stored.get(key)
            )
    states = _all_states(stored, fresh=results)
    status = account_status(states)
    failure = first_failure(states)
    account.status = status
    if status != "failed":  # last_sync is when the data last came in, not the last attempt
        account.last_sync = at
    account.last_error_code = failure.error_code if failure else None
    account.last_error = failure.error if failure else None
    account.last_hint = failure.hint if failure else None
    if log_run:
        _log_run(
            session,
            account=account,
            started_at=started_at,
            at=at,
            status=status,
            error_code=account.last_error_code,
        )
    session.flush()
    return status


def _all_states(
    stored: Mapping[str, SourceStateRow], *, fresh: Sequence[CheckedResult]
) -> list[CheckedResult]:
    """The results just written plus the stored state of every other source, in source order."""
    written = {result.source.value for result in fresh}
    others = [
        CheckedResult(
            source=Source(row.source),
            status=SourceStatus(row.status),
            amounts={},
            error=row.error,
            hint=row.hint,
            error_code=row.error_code,
        )
        for source, row in stored.items()
        if source not in written and source in Source._value2member_map_
    ]
    order = list(Source)
    return sorted([*fresh, *others], key=lambda result: order.index(result.source))


def write_failure(
    session: Session,
    *,
    account: AccountRow,
    failure: Failure,
    at: datetime,
    started_at: datetime,
) -> None:
    """Record a whole-account failure: every kept balance stale, every known state failed."""
    mark_stale(session, account_id=account.id)
    states = session.scalars(select(SourceStateRow).where(SourceStateRow.account_id == account.id))
    for state in states:
        state.status = SourceStatus.FAILED.value
        state.error_code = failure.error_code
        state.error = failure.error
        state.hint = failure.hint
        state.updated_at = at
    account.status = "failed"
    account.last_error_code = failure.error_code
    account.last_error = failure.error
    account.last_hint = failure.hint
    _log_run(
        session,
        account=account,
        started_at=started_at,
        at=at,
        status="failed",
        error_code=failure.error_code,
    )
    session.flush()
