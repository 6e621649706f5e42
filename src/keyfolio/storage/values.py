"""``ValueRepo``: each portfolio's value series as stored at write time, and its state.

Reached as ``store.values`` inside one transaction; it never commits. The points are computed
by ``keyfolio.services.values`` (the one place that values the snapshot sets); this module
stores them and says whether they still match the sets (:meth:`ValueRepo.status`):

- nothing is stored, or the stored series counts a different set of accounts (one was
  added, moved to another portfolio, or its ``import_balance`` changed): rebuild it;
- newer sets were written by something that did not update the series (a set replaced at
  the same moment is a newer set too): update it from the oldest of them on (``since``);
- otherwise it is current.

"Newer" is "a larger set id", which holds because a set id is never handed out twice
(``AUTOINCREMENT`` on SQLite, a sequence on PostgreSQL): a replaced set always comes back
with a new id. What removes sets drops the states it may make wrong: a compaction drops
every portfolio's, removing an account drops its portfolio's (SQLite may give its id to the
next account), and a removed portfolio takes its own along.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import ColumnElement, Executable, String, delete, func, insert, select, type_coerce
from sqlalchemy.orm import Session

from keyfolio.errors import NotFoundError
from keyfolio.storage._errors import translated
from keyfolio.storage._lookup import account_ids
from keyfolio.storage._types import as_utc
from keyfolio.storage.retention import retained
from keyfolio.storage.tables import PortfolioRow
from keyfolio.storage.tables_snapshots import SnapshotSetRow, ValuePointRow, ValueSeriesStateRow

__all__ = ["StoredPoint", "ValueRepo", "ValueStatus"]

_CHUNK = 1000


class StoredPoint(NamedTuple):
    """A portfolio's value (USD) at a moment one of its sets was read."""

    at: datetime
    value: Decimal


@dataclass(frozen=True)
class ValueStatus:
    """Whether a portfolio's stored series matches its sets.

    ``is_current``: it does. Otherwise ``since`` is where an update starts (``None``: rebuild
    all of it). ``last_set_id`` is the newest set of the counted accounts (0 without any), to
    pass to :meth:`ValueRepo.replace`; ``is_exact`` is the stored series' flag (false when a
    set outside the money bounds was left out, or when nothing is stored).
    """

    is_current: bool
    since: datetime | None
    last_set_id: int
    is_exact: bool


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ValueRepo:
    """Stored value series inside one transaction. Get one from ``store.values``."""

    def __init__(self, session: Session, *, where: str) -> None:
        self._session = session
        self._where = where
        self._portfolio_ids: dict[str, int] = {}

    def _portfolio_id(self, portfolio: str) -> int:
        found = self._portfolio_ids.get(portfolio)
        if found is None:
            found = self._session.scalar(
                select(PortfolioRow.id).where(PortfolioRow.name == portfolio)
            )
            if found is None:
                raise NotFoundError(
                    f"No portfolio named {portfolio!r}",
                    hint="List portfolios with `keyfolio portfolio list`.",
                )
            self._portfolio_ids[portfolio] = found
        return found

    @translated
    def lock(self, *, portfolios: Iterable[str]) -> None:
        """Hold the series of ``portfolios`` until the transaction ends.

        Whoever writes sets of a portfolio or updates its series takes this first, before
        writing a set: on PostgreSQL two writers of one portfolio then commit one after the
        other, so set ids grow in the order their sets become visible (a writer never takes
        the other's uncommitted set for one its series already has). It locks the portfolios'
        rows (``FOR UPDATE``, by id: never a deadlock between two writers); on SQLite a write
        transaction already holds the whole database and this is a plain read.
        """
        names = sorted(set(portfolios))
        if names:
            self._session.execute(
                select(PortfolioRow.id)
                .where(PortfolioRow.name.in_(names))
                .order_by(PortfolioRow.id)
                .with_for_update()
            ).all()

    @translated
    def status(self, *, portfolio: str, accounts: Sequence[str]) -> ValueStatus:
        """Does the stored series of ``portfolio``, counting ``accounts``, match the sets?"""
        portfolio_id = self._portfolio_id(portfolio)
        ids = sorted(account_ids(self._session, accounts).values())
        key = ",".join(map(str, ids))
        last = 0
        if ids:
            last = (
                self._session.scalar(
                    select(func.max(SnapshotSetRow.id)).where(SnapshotSetRow.account_id.in_(ids))
                )
                or 0
            )
        state = self._session.get(ValueSeriesStateRow, portfolio_id)
        if state is None or state.accounts != key or last < state.last_set_id:
            return ValueStatus(False, None, last, False)
        if last == state.last_set_id:
            return ValueStatus(True, None, last, state.exact)
        since = self._session.scalar(
            select(func.min(SnapshotSetRow.at)).where(
                SnapshotSetRow.account_id.in_(ids), SnapshotSetRow.id > state.last_set_id
            )
        )
        return ValueStatus(False, since, last, state.exact)

    @translated
    def replace(
        self,
        *,
        portfolio: str,
        accounts: Sequence[str],
        since: datetime | None,
        points: Sequence[tuple[datetime, Decimal]],
        last_set_id: int,
        exact: bool,
        now: datetime,
    ) -> None:
        """Replace the stored points at or after ``since`` (all of them when ``None``) with
        ``points`` and record what the series now covers."""
        portfolio_id = self._portfolio_id(portfolio)
        ids = sorted(account_ids(self._session, accounts).values())
        condition = [ValuePointRow.portfolio_id == portfolio_id]
        if since is not None:
            condition.append(ValuePointRow.at >= as_utc(since, field="since"))
        self._session.execute(delete(ValuePointRow).where(*condition))
        rows = [
            {"portfolio_id": portfolio_id, "at": as_utc(at, field="at"), "value": value}
            for at, value in points
        ]
        for start in range(0, len(rows), _CHUNK):
            self._session.execute(insert(ValuePointRow), rows[start : start + _CHUNK])
        state = self._session.get(ValueSeriesStateRow, portfolio_id)
        if state is None:
            state = ValueSeriesStateRow(portfolio_id=portfolio_id)
            self._session.add(state)
        state.accounts = ",".join(map(str, ids))
        state.last_set_id = last_set_id
        state.exact = exact
        state.built_at = as_utc(now, field="now")
        self._session.flush()

    @translated
    def points(
        self, *, portfolio: str, until: datetime, since: datetime | None = None
    ) -> list[StoredPoint]:
        """The stored points with ``since <= at <= until``, by time."""
        columns, where = self._scope(portfolio, until, since)
        query = select(*columns).where(*where).order_by(ValuePointRow.at)
        return self._read(query)

    @translated
    def retained_points(
        self, *, portfolio: str, now: datetime, since: datetime | None = None
    ) -> list[StoredPoint]:
        """The stored points with ``since <= at <= now`` that retention keeps at ``now``: the
        last of each UTC day before 90 days, of each UTC hour before 7 days, every one after;
        by time (``downsample`` of :meth:`points` with ``retention_bucketer(now)``).

        A value series' request reads these: the database drops the other points, which are
        never read (in ``bench/history_p95.py`` it keeps 177 of a year's 5,500).
        """
        columns, where = self._scope(portfolio, now, since)
        return self._read(retained(columns, ValuePointRow.at, where, now=now))

    def _scope(
        self, portfolio: str, until: datetime, since: datetime | None
    ) -> tuple[list[ColumnElement[str]], list[ColumnElement[bool]]]:
        """The stored points' columns as the database returns them (Core rows parsed by
        :meth:`_read`: the typed columns' processors cost more than the query) and the
        conditions ``since <= at <= until`` of ``portfolio``."""
        columns: list[ColumnElement[str]] = [
            type_coerce(ValuePointRow.at, String),
            type_coerce(ValuePointRow.value, String),
        ]
        where = [
            ValuePointRow.portfolio_id == self._portfolio_id(portfolio),
            ValuePointRow.at <= as_utc(until, field="until"),
        ]
        if since is not None:
            where.append(ValuePointRow.at >= as_utc(since, field="since"))
        return columns, where

    def _read(self, query: Executable) -> list[StoredPoint]:
        rows = self._session.connection().execute(query).all()
        return [StoredPoint(_utc(at), Decimal(value)) for at, value in rows]

    @translated
    def last_before(self, *, portfolio: str, before: datetime) -> StoredPoint | None:
        """The last stored point strictly before ``before``; ``None`` without one."""
        portfolio_id = self._portfolio_id(portfolio)
        row = self._session.execute(
            select(ValuePointRow.at, ValuePointRow.value)
            .where(
                ValuePointRow.portfolio_id == portfolio_id,
                ValuePointRow.at < as_utc(before, field="before"),
            )
            .order_by(ValuePointRow.at.desc())
            .limit(1)
        ).first()
        return None if row is None else StoredPoint(row[0], row[1])

    @translated
    def first_at(self, *, portfolio: str) -> datetime | None:
        """The time of the first stored point; ``None`` without any."""
        portfolio_id = self._portfolio_id(portfolio)
        return self._session.scalar(
            select(func.min(ValuePointRow.at)).where(ValuePointRow.portfolio_id == portfolio_id)
        )
