"""``BalanceStore``: what a sync writes and every view reads back: balances, sources, runs, prices.

The part of ``Store`` (:mod:`keyfolio.storage.repositories`) that records each sync of an account
(its balances per source, the state of each source, the sync log) and the USD prices. Like the
rest of ``Store`` it lives inside one transaction, takes keyword-only arguments, never commits
and hands out domain records only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, String, select, type_coerce

from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import BalanceRecord, Price, SourceState
from keyfolio.storage import _sync
from keyfolio.storage._base import StoreBase, guarded
from keyfolio.storage._types import as_utc, to_text
from keyfolio.storage.tables import (
    ASSET_LENGTH,
    AccountRow,
    BalanceRow,
    PortfolioRow,
    PriceRow,
    SourceStateRow,
    SyncRunRow,
)

__all__ = ["BalanceStore", "SyncRun"]

logger = logging.getLogger(__name__)

_SOURCE_ORDER = {source.value: index for index, source in enumerate(Source)}
_CHUNK = 500


@dataclass(frozen=True)
class SyncRun:
    """One sync attempt of one account, newest first from ``Store.sync_runs``."""

    account: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    error_code: str | None = None


def _source_key(source: str) -> int:
    return _SOURCE_ORDER.get(source, len(_SOURCE_ORDER))


def _joined(*columns: Any) -> Select[Any]:
    """``columns`` of the balances joined to their accounts and portfolios."""
    return (
        select(*columns)
        .join(AccountRow, BalanceRow.account_id == AccountRow.id)
        .join(PortfolioRow, AccountRow.portfolio_id == PortfolioRow.id)
    )


class BalanceStore(StoreBase):
    """Syncs, balances, source states, the sync log and prices (a part of ``Store``)."""

    # -- syncs --------------------------------------------------------------------------

    @guarded
    def record_sync(
        self,
        *,
        name: str,
        results: Sequence[SourceResult],
        synced_at: datetime,
        started_at: datetime | None = None,
        log_run: bool = True,
    ) -> str:
        """Write one sync of one account and return its status (``ok``/``partial``/``failed``).

        ``results`` may cover only some sources; the status then also counts the stored state
        of the others. ``log_run=False`` skips the sync-run log entry (live pushes).

        OK sources get exactly their new amounts (zero amounts dropped, stale cleared); any
        other source keeps its last good amounts, marked stale, and records its error. Every
        result is validated before anything is written; the caller's transaction makes the
        whole sync atomic.
        """
        at = as_utc(synced_at, field="synced_at")
        start = at if started_at is None else as_utc(started_at, field="started_at")
        checked = _sync.check_results(results)
        account = self._account_row(name)
        status = _sync.write_sync(
            self._s, account=account, results=checked, at=at, started_at=start, log_run=log_run
        )
        logger.debug("recorded sync of %s: %s (%d sources)", name, status, len(checked))
        return status

    @guarded
    def record_failure(
        self,
        *,
        name: str,
        error_code: str | None,
        error: str,
        hint: str,
        at: datetime,
        started_at: datetime | None = None,
    ) -> None:
        """Record a whole-account failure (auth, network): status ``failed``, every kept
        balance stale, every known source state failed with the error. Amounts untouched."""
        when = as_utc(at, field="at")
        start = when if started_at is None else as_utc(started_at, field="started_at")
        account = self._account_row(name)
        _sync.write_failure(
            self._s,
            account=account,
            failure=_sync.Failure(error_code=error_code, error=error, hint=hint),
            at=when,
            started_at=start,
        )
        logger.debug("recorded failure of %s: %s", name, error_code)

    @guarded
    def balances(
        self,
        *,
        portfolio: str | None = None,
        account: str | None = None,
        include_excluded: bool = False,
        where_amount: Callable[[Decimal], bool] | None = None,
    ) -> list[BalanceRecord]:
        """Stored balances, by account, source and asset. By default only accounts whose
        ``import_balance`` is on; ``include_excluded=True`` returns every account's.

        ``where_amount`` keeps only the balances whose amount it accepts; the others are read
        as their amounts alone, never as records (a value series looks for the few amounts
        outside the money bounds among all of a portfolio's balances on every request).
        """
        conditions = []
        if portfolio is not None:
            self._portfolio_row(portfolio)
            conditions.append(PortfolioRow.name == portfolio)
        if account is not None:
            self._account_row(account)
            conditions.append(AccountRow.name == account)
        if not include_excluded:
            conditions.append(AccountRow.import_balance.is_(True))
        query = _joined(
            AccountRow.name,
            BalanceRow.source,
            BalanceRow.asset,
            BalanceRow.amount,
            BalanceRow.synced_at,
            BalanceRow.stale,
        ).where(*conditions)  # columns, not ORM entities: 1,000 balances load 3x faster
        if where_amount is None:
            rows = list(self._s.execute(query))
        else:  # the amounts' text first (Core rows: no record, no typed column's processor)
            amounts = _joined(BalanceRow.id, type_coerce(BalanceRow.amount, String))
            found = self._s.connection().execute(amounts.where(*conditions)).all()
            ids = [balance_id for balance_id, text in found if where_amount(Decimal(text))]
            rows = []
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                rows += self._s.execute(query.where(BalanceRow.id.in_(chunk)))
        records = [
            BalanceRecord(
                account=account_name,
                source=Source(source),
                asset=asset,
                amount=amount,
                synced_at=synced_at,
                stale=stale,
            )
            for account_name, source, asset, amount, synced_at, stale in rows
        ]
        records.sort(key=lambda r: (r.account, _source_key(r.source.value), r.asset))
        return records

    @guarded
    def source_states(self, *, account: str | None = None) -> list[SourceState]:
        """The last read of every source (of one account, or of all), by account and source."""
        query = select(SourceStateRow, AccountRow.name).join(
            AccountRow, SourceStateRow.account_id == AccountRow.id
        )
        if account is not None:
            self._account_row(account)
            query = query.where(AccountRow.name == account)
        states = [
            SourceState(
                account=account_name,
                source=Source(row.source),
                status=SourceStatus(row.status),
                updated_at=row.updated_at,
                error_code=row.error_code,
                error=row.error,
                hint=row.hint,
                last_ok_at=row.last_ok_at,
            )
            for row, account_name in self._s.execute(query)
        ]
        states.sort(key=lambda s: (s.account, _source_key(s.source.value)))
        return states

    @guarded
    def sync_runs(self, *, account: str | None = None, limit: int | None = None) -> list[SyncRun]:
        """The sync log, newest first (of one account, or of all)."""
        query = (
            select(SyncRunRow, AccountRow.name)
            .join(AccountRow, SyncRunRow.account_id == AccountRow.id)
            .order_by(SyncRunRow.started_at.desc(), SyncRunRow.id.desc())
        )
        if account is not None:
            self._account_row(account)
            query = query.where(AccountRow.name == account)
        if limit is not None:
            query = query.limit(limit)
        return [
            SyncRun(
                account=account_name,
                started_at=row.started_at,
                finished_at=row.finished_at,
                status=row.status,
                error_code=row.error_code,
            )
            for row, account_name in self._s.execute(query)
        ]

    # -- prices -------------------------------------------------------------------------

    @guarded
    def upsert_prices(self, *, prices: Iterable[Price]) -> None:
        """Insert or replace the USD price of each asset (the last one of an asset wins)."""
        latest: dict[str, Price] = {}
        for price in prices:
            if not price.asset or len(price.asset) > ASSET_LENGTH:
                raise ValueError(f"asset: {price.asset!r} is not an asset name")
            to_text(price.usd, field=f"{price.asset} usd")
            if price.open24h_usd is not None:
                to_text(price.open24h_usd, field=f"{price.asset} open24h_usd")
            as_utc(price.as_of, field=f"{price.asset} as_of")
            latest[price.asset] = price
        assets = sorted(latest)
        for start in range(0, len(assets), _CHUNK):
            chunk = assets[start : start + _CHUNK]
            rows = {
                row.asset: row
                for row in self._s.scalars(select(PriceRow).where(PriceRow.asset.in_(chunk)))
            }
            for asset in chunk:
                price = latest[asset]
                row = rows.get(asset)
                if row is None:
                    row = PriceRow(asset=asset)
                    self._s.add(row)
                row.usd = price.usd
                row.open24h_usd = price.open24h_usd
                row.open_basis = None if price.open_basis == "24h" else price.open_basis
                row.source = price.source
                row.as_of = price.as_of
        self._s.flush()

    @guarded
    def prices(self) -> dict[str, Price]:
        """Every stored price, by asset."""
        rows = self._s.scalars(select(PriceRow).order_by(PriceRow.asset))
        return {
            row.asset: Price(
                asset=row.asset,
                usd=row.usd,
                source=row.source,
                as_of=row.as_of,
                open24h_usd=row.open24h_usd,
                open_basis=row.open_basis or "24h",
            )
            for row in rows
        }
