"""``Store``: every read and write of keyfolio's data, in domain objects only.

A ``Store`` lives inside one transaction (``Database.session()``); its methods take
keyword-only arguments and never commit. Nothing of SQLAlchemy leaves ``keyfolio.storage``: rows
are turned into ``keyfolio.domain`` records and database failures into keyfolio errors. Its
portfolios and accounts are here, its syncs, balances and prices in
:mod:`keyfolio.storage.balances`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from keyfolio.domain.accounts import AccountSpec, Region
from keyfolio.domain.records import Portfolio
from keyfolio.errors import ConflictError, UsageError
from keyfolio.storage._base import guarded
from keyfolio.storage._types import as_utc
from keyfolio.storage.balances import BalanceStore, SyncRun
from keyfolio.storage.tables import (
    NAME_LENGTH,
    AccountRow,
    BalanceRow,
    PortfolioRow,
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


def _check_name(name: object, kind: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"A {kind} name must not be empty", hint=f"Give the {kind} a name.")
    if len(name) > NAME_LENGTH:
        raise UsageError(
            f"The {kind} name {name[:20]!r}... is longer than {NAME_LENGTH} characters",
            hint=f"Choose a shorter {kind} name.",
        )
    return name


class Store(BalanceStore):
    """Reads and writes inside one transaction. Get one from ``Database.session()``.

    Portfolios and accounts are here; syncs, balances, source states, the sync log and prices
    are :class:`~keyfolio.storage.balances.BalanceStore`'s; the other repositories are reached
    as properties (``store.snapshots``, ``store.history``...), in the same transaction.
    """

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

    # -- portfolios ---------------------------------------------------------------------

    @guarded
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

    @guarded
    def list_portfolios(self) -> list[Portfolio]:
        """Every portfolio, by name."""
        rows = self._s.scalars(select(PortfolioRow).order_by(PortfolioRow.name))
        return [Portfolio(name=row.name, created_at=row.created_at) for row in rows]

    @guarded
    def get_portfolio(self, *, name: str) -> Portfolio:
        """One portfolio. ``NotFoundError`` (with a hint) if there is none of that name."""
        row = self._portfolio_row(name)
        return Portfolio(name=row.name, created_at=row.created_at)

    @guarded
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

    @guarded
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

    @guarded
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

    @guarded
    def get_account(self, *, name: str) -> AccountSpec:
        """One account. ``NotFoundError`` (with a hint) if there is none of that name."""
        row = self._account_row(name)
        portfolio = self._s.get_one(PortfolioRow, row.portfolio_id)
        return self._spec(row, portfolio.name)

    @guarded
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

    @guarded
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

    @guarded
    def move_account(self, *, name: str, portfolio: str) -> None:
        """Move an account to another portfolio (both must exist)."""
        row = self._account_row(name)
        row.portfolio_id = self._portfolio_row(portfolio).id
        self._s.flush()

    @guarded
    def set_import_balance(self, *, name: str, enabled: bool) -> None:
        """Count the account's balances in totals (on) or keep them apart (off)."""
        self._account_row(name).import_balance = bool(enabled)
        self._s.flush()

    @guarded
    def update_account_extra(self, *, name: str, values: dict[str, str]) -> None:
        """Merge ``values`` into the account's non-secret extra fields (e.g. the exchange uid)."""
        row = self._account_row(name)
        row.extra = {**(row.extra or {}), **values}
        self._s.flush()
