"""``Store``: every read and write of keyfolio's data, in domain objects only.

A ``Store`` lives inside one transaction (``Database.session()``); its methods take
keyword-only arguments and never commit. Nothing of SQLAlchemy leaves this module: rows are
turned into ``keyfolio.domain`` records and database failures into keyfolio errors.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from sqlalchemy import delete, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from keyfolio.domain.accounts import AccountSpec, Region
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import BalanceRecord, Portfolio, Price, SourceState
from keyfolio.errors import ConflictError, NotFoundError, StorageError, UsageError
from keyfolio.storage import _sync
from keyfolio.storage._errors import translate_errors
from keyfolio.storage._types import as_utc, to_text
from keyfolio.storage.tables import (
    ASSET_LENGTH,
    NAME_LENGTH,
    AccountRow,
    BalanceRow,
    Base,
    PortfolioRow,
    PriceRow,
    SourceStateRow,
    SyncRunRow,
)
from keyfolio.storage.tables_snapshots import ValueSeriesStateRow

if TYPE_CHECKING:
    from keyfolio.storage.aliases import AliasRepo
    from keyfolio.storage.history import HistoryRepo
    from keyfolio.storage.hosted import HostedRepo
    from keyfolio.storage.snapshots import SnapshotRepo
    from keyfolio.storage.values import ValueRepo

__all__ = ["ACCOUNT_STATUSES", "DEFAULT_PORTFOLIO", "Store", "SyncRun"]

logger = logging.getLogger(__name__)

DEFAULT_PORTFOLIO = "main"
ACCOUNT_STATUSES = frozenset({"new", "ok", "partial", "failed"})
_SOURCE_ORDER = {source.value: index for index, source in enumerate(Source)}
_CHUNK = 500

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class SyncRun:
    """One sync attempt of one account, newest first from ``Store.sync_runs``."""

    account: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    error_code: str | None = None


def _guarded(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """Refuse a closed Store and translate database failures into keyfolio errors."""

    @functools.wraps(method)
    def wrapper(self: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._session is None:
            raise StorageError(
                "This storage session has ended",
                hint="Open a new one with `with database.session() as store:`.",
            )
        with translate_errors(self._where):
            return method(self, *args, **kwargs)

    return wrapper


def _check_name(name: object, kind: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"A {kind} name must not be empty", hint=f"Give the {kind} a name.")
    if len(name) > NAME_LENGTH:
        raise UsageError(
            f"The {kind} name {name[:20]!r}... is longer than {NAME_LENGTH} characters",
            hint=f"Choose a shorter {kind} name.",
        )
    return name


def _source_key(source: str) -> int:
    return _SOURCE_ORDER.get(source, len(_SOURCE_ORDER))


class Store:
    """Reads and writes inside one transaction. Get one from ``Database.session()``."""

    def __init__(self, session: Session, *, where: str) -> None:
        self._session: Session | None = session
        self._where = where

    @property
    def snapshots(self) -> SnapshotRepo:
        """Balance snapshots and value series (same transaction)."""
        from keyfolio.storage.snapshots import SnapshotRepo

        return SnapshotRepo(self._s, where=self._where)

    @property
    def values(self) -> ValueRepo:
        """Each portfolio's value series as stored at write time (same transaction)."""
        from keyfolio.storage.values import ValueRepo

        return ValueRepo(self._s, where=self._where)

    @property
    def history(self) -> HistoryRepo:
        """Imported trades, transfers, ledger entries and their cursors (same transaction)."""
        from keyfolio.storage.history import HistoryRepo

        return HistoryRepo(self._s, where=self._where)

    @property
    def aliases(self) -> AliasRepo:
        """The user's asset aliases (same transaction)."""
        from keyfolio.storage.aliases import AliasRepo

        return AliasRepo(self._s, where=self._where)

    @property
    def hosted(self) -> HostedRepo:
        """Hosted mode's finished sync rounds and vault ciphertext (same transaction)."""
        from keyfolio.storage.hosted import HostedRepo

        return HostedRepo(self._s)

    def close(self) -> None:
        """Detach from the transaction; later calls raise ``StorageError``."""
        self._session = None

    @property
    def _s(self) -> Session:
        assert self._session is not None
        return self._session

    def _insert(self, row: Base, *, message: str, hint: str) -> None:
        """Add ``row`` in a savepoint, so a taken name leaves the transaction usable."""
        try:
            with self._s.begin_nested():
                self._s.add(row)
        except sa_exc.IntegrityError as exc:
            raise ConflictError(message, hint=hint) from exc

    # -- portfolios ---------------------------------------------------------------------

    def _portfolio_row(self, name: str) -> PortfolioRow:
        row = self._s.scalar(select(PortfolioRow).where(PortfolioRow.name == name))
        if row is None:
            raise NotFoundError(
                f"No portfolio named {name!r}",
                hint="List portfolios with `keyfolio portfolio list`, or create it with "
                f"`keyfolio portfolio add {name}`.",
            )
        return row

    @_guarded
    def add_portfolio(self, *, name: str) -> Portfolio:
        """Create a portfolio. ``ConflictError`` if the name is taken."""
        _check_name(name, "portfolio")
        row = PortfolioRow(name=name, created_at=datetime.now(UTC))
        self._insert(
            row,
            message=f"A portfolio named {name!r} already exists",
            hint="Choose another name; `keyfolio portfolio list` shows the taken ones.",
        )
        return Portfolio(name=row.name, created_at=row.created_at)

    @_guarded
    def list_portfolios(self) -> list[Portfolio]:
        """Every portfolio, by name."""
        rows = self._s.scalars(select(PortfolioRow).order_by(PortfolioRow.name))
        return [Portfolio(name=row.name, created_at=row.created_at) for row in rows]

    @_guarded
    def get_portfolio(self, *, name: str) -> Portfolio:
        """One portfolio. ``NotFoundError`` (with a hint) if there is none of that name."""
        row = self._portfolio_row(name)
        return Portfolio(name=row.name, created_at=row.created_at)

    @_guarded
    def rename_portfolio(self, *, old: str, new: str) -> None:
        """Rename a portfolio. ``NotFoundError`` / ``ConflictError``; ``main`` keeps its name."""
        _check_name(new, "portfolio")
        row = self._portfolio_row(old)
        if old == new:
            return
        if old == DEFAULT_PORTFOLIO:
            raise ConflictError(
                f"The default portfolio {DEFAULT_PORTFOLIO!r} cannot be renamed",
                hint=f"Create another with `keyfolio portfolio add {new}` and move accounts "
                "there with `keyfolio account move`.",
            )
        taken = self._s.scalar(select(PortfolioRow.id).where(PortfolioRow.name == new))
        if taken is not None:
            raise ConflictError(
                f"A portfolio named {new!r} already exists",
                hint="Choose another name; `keyfolio portfolio list` shows the taken ones.",
            )
        row.name = new
        self._s.flush()

    @_guarded
    def remove_portfolio(self, *, name: str) -> None:
        """Remove an empty portfolio; refuses ``main`` and portfolios that hold accounts."""
        if name == DEFAULT_PORTFOLIO:
            raise ConflictError(
                f"The default portfolio {DEFAULT_PORTFOLIO!r} cannot be removed",
                hint="It always exists; new accounts go there unless told otherwise.",
            )
        row = self._portfolio_row(name)
        accounts = list(
            self._s.scalars(
                select(AccountRow.name)
                .where(AccountRow.portfolio_id == row.id)
                .order_by(AccountRow.name)
            )
        )
        if accounts:
            raise ConflictError(
                f"Portfolio {name!r} still holds {len(accounts)} account(s): "
                + ", ".join(accounts),
                hint="Move them to another portfolio first with "
                "`keyfolio account move ACCOUNT --portfolio OTHER`, then remove it.",
            )
        self._s.delete(row)
        self._s.flush()

    # -- accounts -----------------------------------------------------------------------

    def _account_row(self, name: str) -> AccountRow:
        row = self._s.scalar(select(AccountRow).where(AccountRow.name == name))
        if row is None:
            raise NotFoundError(
                f"No account named {name!r}",
                hint="List accounts with `keyfolio account list`, or add one with "
                "`keyfolio account add`.",
            )
        return row

    @staticmethod
    def _spec(row: AccountRow, portfolio: str) -> AccountSpec:
        return AccountSpec(
            exchange=row.exchange,
            name=row.name,
            region=Region(row.region),
            demo=row.demo,
            api_url=row.api_url,
            portfolio=portfolio,
            import_balance=row.import_balance,
            status=row.status,
            last_sync=row.last_sync,
            last_error_code=row.last_error_code,
            last_error=row.last_error,
            last_hint=row.last_hint,
            extra=dict(row.extra or {}),
        )

    @_guarded
    def add_account(self, *, spec: AccountSpec) -> AccountSpec:
        """Store a new account. ``ConflictError`` if the name is taken, ``NotFoundError``
        if its portfolio does not exist. Returns the account as stored."""
        _check_name(spec.name, "account")
        if not spec.exchange:
            raise UsageError("An account needs an exchange", hint="For example: okx.")
        if spec.status not in ACCOUNT_STATUSES:
            raise UsageError(
                f"Account status {spec.status!r} is not one of {sorted(ACCOUNT_STATUSES)}"
            )
        portfolio = self._portfolio_row(spec.portfolio)
        row = AccountRow(
            exchange=spec.exchange,
            name=spec.name,
            region=Region(spec.region).value,
            demo=bool(spec.demo),
            api_url=spec.api_url,
            portfolio_id=portfolio.id,
            import_balance=bool(spec.import_balance),
            status=spec.status,
            last_sync=None if spec.last_sync is None else as_utc(spec.last_sync),
            last_error_code=spec.last_error_code,
            last_error=spec.last_error,
            last_hint=spec.last_hint,
            extra={str(key): str(value) for key, value in spec.extra.items()},
            created_at=datetime.now(UTC),
        )
        self._insert(
            row,
            message=f"An account named {spec.name!r} already exists",
            hint="Choose another --name, or remove the old account with "
            f"`keyfolio account remove {spec.name}`.",
        )
        logger.info(
            "added account %s (%s) to portfolio %s", spec.name, spec.exchange, portfolio.name
        )
        return self._spec(row, portfolio.name)

    @_guarded
    def get_account(self, *, name: str) -> AccountSpec:
        """One account. ``NotFoundError`` (with a hint) if there is none of that name."""
        row = self._account_row(name)
        portfolio = self._s.get_one(PortfolioRow, row.portfolio_id)
        return self._spec(row, portfolio.name)

    @_guarded
    def list_accounts(self, *, portfolio: str | None = None) -> list[AccountSpec]:
        """Every account (or those of one portfolio), by name."""
        query = (
            select(AccountRow, PortfolioRow.name)
            .join(PortfolioRow, AccountRow.portfolio_id == PortfolioRow.id)
            .order_by(AccountRow.name)
        )
        if portfolio is not None:
            self._portfolio_row(portfolio)
            query = query.where(PortfolioRow.name == portfolio)
        return [self._spec(row, name) for row, name in self._s.execute(query)]

    @_guarded
    def remove_account(self, *, name: str) -> None:
        """Remove an account with its balances, source states and sync log."""
        row = self._account_row(name)
        for table in (BalanceRow, SourceStateRow, SyncRunRow):
            self._s.execute(delete(table).where(table.account_id == row.id))
        # Its sets go with it, and SQLite may give its id to the next account: its portfolio's
        # stored value series is dropped (rebuilt when next read), never taken as current.
        state = ValueSeriesStateRow.portfolio_id == row.portfolio_id
        self._s.execute(delete(ValueSeriesStateRow).where(state))
        self._s.delete(row)
        self._s.flush()

    @_guarded
    def move_account(self, *, name: str, portfolio: str) -> None:
        """Move an account to another portfolio (both must exist)."""
        row = self._account_row(name)
        row.portfolio_id = self._portfolio_row(portfolio).id
        self._s.flush()

    @_guarded
    def set_import_balance(self, *, name: str, enabled: bool) -> None:
        """Count the account's balances in totals (on) or keep them apart (off)."""
        self._account_row(name).import_balance = bool(enabled)
        self._s.flush()

    @_guarded
    def update_account_extra(self, *, name: str, values: dict[str, str]) -> None:
        """Merge ``values`` into the account's non-secret extra fields (e.g. the exchange uid)."""
        row = self._account_row(name)
        row.extra = {**(row.extra or {}), **values}
        self._s.flush()

    # -- syncs --------------------------------------------------------------------------

    @_guarded
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

    @_guarded
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

    @_guarded
    def balances(
        self,
        *,
        portfolio: str | None = None,
        account: str | None = None,
        include_excluded: bool = False,
    ) -> list[BalanceRecord]:
        """Stored balances, by account, source and asset. By default only accounts whose
        ``import_balance`` is on; ``include_excluded=True`` returns every account's."""
        query = (
            select(
                AccountRow.name,
                BalanceRow.source,
                BalanceRow.asset,
                BalanceRow.amount,
                BalanceRow.synced_at,
                BalanceRow.stale,
            )  # columns, not ORM entities: 1,000 balances load 3x faster
            .join(AccountRow, BalanceRow.account_id == AccountRow.id)
            .join(PortfolioRow, AccountRow.portfolio_id == PortfolioRow.id)
        )
        if portfolio is not None:
            self._portfolio_row(portfolio)
            query = query.where(PortfolioRow.name == portfolio)
        if account is not None:
            self._account_row(account)
            query = query.where(AccountRow.name == account)
        if not include_excluded:
            query = query.where(AccountRow.import_balance.is_(True))
        records = [
            BalanceRecord(
                account=account_name,
                source=Source(source),
                asset=asset,
                amount=amount,
                synced_at=synced_at,
                stale=stale,
            )
            for account_name, source, asset, amount, synced_at, stale in self._s.execute(query)
        ]
        records.sort(key=lambda r: (r.account, _source_key(r.source.value), r.asset))
        return records

    @_guarded
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

    @_guarded
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

    @_guarded
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

    @_guarded
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
