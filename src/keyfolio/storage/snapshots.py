"""``SnapshotRepo``: balance snapshot sets and the readings behind value series.

Reached as ``store.snapshots`` inside one transaction; like ``Store`` it never commits and
hands out plain records only. A snapshot SET is one successful read of one (account, source)
at one moment; an empty set means "read OK, holds nothing". Removing an account removes its
snapshots (``ON DELETE CASCADE``). Retention (``store.snapshots.compact``) is defined in
:mod:`keyfolio.storage.retention`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Select, String, and_, delete, func, insert, select, type_coerce
from sqlalchemy.orm import Session

from keyfolio.domain import money
from keyfolio.domain.records import Snapshot
from keyfolio.storage._errors import translated
from keyfolio.storage._lookup import account_ids
from keyfolio.storage._types import as_utc, to_text
from keyfolio.storage.retention import Compaction
from keyfolio.storage.tables import ASSET_LENGTH, AccountRow
from keyfolio.storage.tables_snapshots import (
    SnapshotRow,
    SnapshotSetRow,
)

__all__ = ["SetReading", "SnapshotRepo", "SnapshotSet"]

logger = logging.getLogger(__name__)

_SOURCE_LENGTH = 32


def _utc(value: datetime | str) -> datetime:
    """A stored time as read untyped: SQLite's naive UTC text, or a driver's datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_ZERO = Decimal(0)


@dataclass(frozen=True)
class SnapshotSet:
    """One stored snapshot set (without its rows)."""

    account: str
    source: str
    at: datetime
    total_value: Decimal
    unpriced: bool


class SetReading(NamedTuple):  # a tuple: built 20,000 times per 1-year series
    """One set's value, as a series reading: the set's total, or one asset's value (and
    amount) in it — zero for an asset the set does not hold."""

    account: str
    source: str
    at: datetime
    value: Decimal
    amount: Decimal | None = None


def _set_total(rows: Sequence[Snapshot]) -> tuple[Decimal, bool]:
    """The exact sum of the priced values (in the one money context), and whether any held
    amount is unpriced."""
    priced = money.total(row.value for row in rows if row.value is not None)
    return priced, any(row.value is None and row.amount != _ZERO for row in rows)


class SnapshotRepo(Compaction):
    """Snapshot sets inside one transaction. Get one from ``store.snapshots``."""

    def __init__(self, session: Session, *, where: str) -> None:
        self._session = session
        self._where = where
        self._ids: dict[str, int] = {}  # account ids already looked up by record()

    def _account_ids(self, names: Iterable[str]) -> dict[int, str]:
        return {id_: name for name, id_ in account_ids(self._session, names).items()}

    # -- writing ------------------------------------------------------------------------

    @translated
    def record(self, *, account: str, source: str, at: datetime, rows: Sequence[Snapshot]) -> None:
        """Write one snapshot set of ``account``/``source`` at ``at`` (replacing one stored
        for that same moment). Empty ``rows``: the source was read and holds nothing."""
        when = as_utc(at, field="at")
        if not source or len(source) > _SOURCE_LENGTH:
            raise ValueError(f"source: {source!r} is not a balance source")
        seen: set[str] = set()
        for row in rows:
            if row.account != account or row.source != source:
                raise ValueError(f"snapshot of {row.account}/{row.source} in a set of {account}")
            if not row.asset or len(row.asset) > ASSET_LENGTH or row.asset in seen:
                raise ValueError(f"asset: {row.asset!r} is empty, too long or repeated")
            seen.add(row.asset)
            to_text(row.amount, field=f"{row.asset} amount")
            for name in ("price", "value"):
                number = getattr(row, name)
                if number is not None:
                    to_text(number, field=f"{row.asset} {name}")
        account_id = self._ids.get(account)
        if account_id is None:
            (account_id,) = self._account_ids([account])
            self._ids[account] = account_id
        total, unpriced = _set_total(rows)
        self._session.execute(
            delete(SnapshotSetRow).where(
                SnapshotSetRow.account_id == account_id,
                SnapshotSetRow.source == source,
                SnapshotSetRow.at == when,
            )
        )
        set_id = self._session.execute(
            insert(SnapshotSetRow)
            .values(
                account_id=account_id,
                source=source,
                at=when,
                total_value=total,
                unpriced=unpriced,
            )
            .returning(SnapshotSetRow.id)
        ).scalar_one()
        if rows:
            self._session.execute(
                insert(SnapshotRow),
                [
                    {
                        "set_id": set_id,
                        "asset": row.asset,
                        "at": when,
                        "amount": row.amount,
                        "price": row.price,
                        "price_source": row.price_source,
                        "value": row.value,
                    }
                    for row in rows
                ],
            )

    # -- reading ------------------------------------------------------------------------

    @translated
    def sets(self, *, account: str | None = None) -> list[SnapshotSet]:
        """Stored sets (of one account, or of all), by time, account and source."""
        query = select(SnapshotSetRow, AccountRow.name).join(
            AccountRow, SnapshotSetRow.account_id == AccountRow.id
        )
        if account is not None:
            self._account_ids([account])
            query = query.where(AccountRow.name == account)
        query = query.order_by(SnapshotSetRow.at, AccountRow.name, SnapshotSetRow.source)
        return [
            SnapshotSet(name, row.source, row.at, row.total_value, row.unpriced)
            for row, name in self._session.execute(query)
        ]

    @translated
    def snapshots(self, *, account: str | None = None, asset: str | None = None) -> list[Snapshot]:
        """Stored per-asset snapshots, by time, account, source and asset."""
        query = (
            select(SnapshotRow, SnapshotSetRow.source, SnapshotSetRow.at, AccountRow.name)
            .join(SnapshotSetRow, SnapshotRow.set_id == SnapshotSetRow.id)
            .join(AccountRow, SnapshotSetRow.account_id == AccountRow.id)
        )
        if account is not None:
            self._account_ids([account])
            query = query.where(AccountRow.name == account)
        if asset is not None:
            query = query.where(SnapshotRow.asset == asset)
        query = query.order_by(
            SnapshotSetRow.at, AccountRow.name, SnapshotSetRow.source, SnapshotRow.asset
        )
        return [
            Snapshot(
                at, name, source, row.asset, row.amount, row.price, row.price_source, row.value
            )
            for row, source, at, name in self._session.execute(query)
        ]

    @translated
    def first_at(self, *, accounts: Sequence[str]) -> datetime | None:
        """The time of the oldest set of any of ``accounts``; ``None`` without any."""
        ids = self._account_ids(accounts)
        if not ids:
            return None
        return self._session.scalar(
            select(func.min(SnapshotSetRow.at)).where(SnapshotSetRow.account_id.in_(ids))
        )

    @translated
    def assets(self, *, account: str) -> set[str]:
        """Every asset any snapshot of the account ever had."""
        ids = self._account_ids([account])
        if not ids:
            return set()
        return set(
            self._session.scalars(
                select(SnapshotRow.asset)
                .join(SnapshotSetRow, SnapshotRow.set_id == SnapshotSetRow.id)
                .where(SnapshotSetRow.account_id.in_(ids))
                .distinct()
            )
        )

    @translated
    def held(self, *, accounts: Sequence[str], asset: str) -> bool:
        """Whether any snapshot of ``accounts`` ever had ``asset`` (an index seek)."""
        ids = self._account_ids(accounts)
        if not ids:
            return False
        found = self._session.execute(
            select(SnapshotRow.id)
            .join(SnapshotSetRow, SnapshotRow.set_id == SnapshotSetRow.id)
            .where(SnapshotRow.asset == asset, SnapshotSetRow.account_id.in_(ids))
            .limit(1)
        ).first()
        return found is not None

    @translated
    def totals_at(
        self, *, accounts: Sequence[str], bounds: Sequence[tuple[datetime, bool]]
    ) -> list[list[SetReading]]:
        """The carried sets of ``accounts`` at each ``(moment, inclusive)`` bound, in one query.

        For every (account, source) pair its last set at (``inclusive``) or before the moment
        counts, as a reading of its total (``at`` is the bound's moment); an empty list where
        no pair has a set by then. One index seek per pair and bound.
        """
        ids = self._account_ids(accounts)
        if not ids or not bounds:
            return [[] for _ in bounds]
        pairs = (
            select(SnapshotSetRow.account_id, SnapshotSetRow.source)
            .where(SnapshotSetRow.account_id.in_(ids))
            .distinct()
            .subquery()
        )
        columns = []
        for index, (moment, inclusive) in enumerate(bounds):
            when = as_utc(moment, field="moment")
            inner = SnapshotSetRow.__table__.alias(f"s{index}")
            bound = inner.c.at <= when if inclusive else inner.c.at < when
            columns.append(
                select(inner.c.total_value)
                .where(
                    inner.c.account_id == pairs.c.account_id,
                    inner.c.source == pairs.c.source,
                    bound,
                )
                .order_by(inner.c.at.desc())
                .limit(1)
                .scalar_subquery()
                .label(f"t{index}")
            )
        carried: list[list[SetReading]] = [[] for _ in bounds]
        query = select(pairs.c.account_id, pairs.c.source, *columns).select_from(pairs)
        for account_id, source, *values in self._session.execute(query):
            for index, value in enumerate(values):
                if value is not None:
                    moment = as_utc(bounds[index][0], field="moment")
                    carried[index].append(SetReading(ids[account_id], source, moment, value))
        return carried

    @translated
    def readings(
        self,
        *,
        accounts: Sequence[str],
        until: datetime,
        since: datetime | None = None,
        asset: str | None = None,
    ) -> list[SetReading]:
        """Every set of ``accounts`` with ``since <= at <= until``, by time: its total value,
        or, with ``asset``, that asset's value and amount in it (zero where not held)."""
        ids = self._account_ids(accounts)
        if not ids:
            return []
        conditions = [
            SnapshotSetRow.account_id.in_(ids),
            SnapshotSetRow.at <= as_utc(until, field="until"),
        ]
        if since is not None:
            conditions.append(SnapshotSetRow.at >= as_utc(since, field="since"))
        return self._readings(ids, and_(*conditions), asset)

    @translated
    def carried(
        self,
        *,
        accounts: Sequence[str],
        before: datetime,
        inclusive: bool = True,
        asset: str | None = None,
    ) -> list[SetReading]:
        """Per (account, source) of ``accounts``, its last set at or before ``before``
        (strictly before unless ``inclusive``), as readings like :meth:`readings`."""
        ids = self._account_ids(accounts)
        if not ids:
            return []
        when = as_utc(before, field="before")
        bound = SnapshotSetRow.at <= when if inclusive else SnapshotSetRow.at < when
        latest = (
            select(
                SnapshotSetRow.account_id,
                SnapshotSetRow.source,
                func.max(SnapshotSetRow.at).label("at"),
            )
            .where(SnapshotSetRow.account_id.in_(ids), bound)
            .group_by(SnapshotSetRow.account_id, SnapshotSetRow.source)
            .subquery()
        )
        condition = and_(
            SnapshotSetRow.account_id == latest.c.account_id,
            SnapshotSetRow.source == latest.c.source,
            SnapshotSetRow.at == latest.c.at,
        )
        return self._readings(ids, condition, asset, join=latest)

    def _readings(
        self, ids: dict[int, str], condition: Any, asset: str | None, join: Any = None
    ) -> list[SetReading]:
        query: Select[*tuple[Any, ...]]
        if asset is None:
            # The whole-portfolio series reads every set of its window (20,000 for a year of
            # 50 accounts): the time and total come back untyped and are parsed here, with
            # fromisoformat and Decimal, which is twice as fast as the typed columns' processors.
            query = select(
                SnapshotSetRow.account_id,
                SnapshotSetRow.source,
                type_coerce(SnapshotSetRow.at, String),
                type_coerce(SnapshotSetRow.total_value, String),
            )
        else:
            query = select(
                SnapshotSetRow.account_id,
                SnapshotSetRow.source,
                SnapshotSetRow.at,
                SnapshotRow.value,
                SnapshotRow.amount,
            ).outerjoin(
                SnapshotRow,
                and_(SnapshotRow.set_id == SnapshotSetRow.id, SnapshotRow.asset == asset),
            )
        if join is not None:
            query = query.join(join, condition)
        else:
            query = query.where(condition)
        query = query.order_by(SnapshotSetRow.at, SnapshotSetRow.account_id, SnapshotSetRow.source)
        # Core execution on the session's connection (same transaction): plain rows, without
        # the ORM's per-row loading machinery, which costs more than the query itself here.
        rows = self._session.connection().execute(query)
        if asset is None:
            return [
                SetReading(ids[account_id], source, _utc(at), Decimal(total))
                for account_id, source, at, total in rows
            ]
        return [
            SetReading(ids[account_id], source, at, value or _ZERO, amount or _ZERO)
            for account_id, source, at, value, amount in rows
        ]

    @translated
    def prices_at(self, *, assets: Iterable[str], at: datetime) -> dict[str, Decimal]:
        """Each asset's last snapshot price at or before ``at``; assets never priced by
        then are absent."""
        when = as_utc(at, field="at")
        prices: dict[str, Decimal] = {}
        for asset in sorted(set(assets)):
            # One index seek on (asset, at) per asset, newest first.
            price = self._session.execute(
                select(SnapshotRow.price)
                .where(
                    SnapshotRow.asset == asset,
                    SnapshotRow.at <= when,
                    SnapshotRow.price.is_not(None),
                )
                .order_by(SnapshotRow.at.desc(), SnapshotRow.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if price is not None:
                prices[asset] = price
        return prices
