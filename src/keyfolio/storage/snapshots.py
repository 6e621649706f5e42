"""``SnapshotRepo``: balance snapshot sets, the readings behind value series, and retention.

Reached as ``store.snapshots`` inside one transaction; like ``Store`` it never commits and
hands out plain records only. A snapshot SET is one successful read of one (account, source)
at one moment; an empty set means "read OK, holds nothing". Removing an account removes its
snapshots (``ON DELETE CASCADE``).

Retention is defined here, once: sets younger than 7 days are all kept; from 7 to 90 days the
last set per (account, source) and UTC hour; older, the last per (account, source) and UTC day.
The hour and day grids are absolute and the region boundaries are floored to them, so a later
compaction only ever merges whole buckets. :func:`retention_bucket` is also what the value
series use to downsample, which keeps a series identical before and after compaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, String, and_, delete, func, insert, select, type_coerce
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from keyfolio.domain import money
from keyfolio.domain.records import Snapshot
from keyfolio.storage._errors import translated
from keyfolio.storage._lookup import account_ids
from keyfolio.storage._types import as_utc, to_text
from keyfolio.storage.tables import ASSET_LENGTH, AccountRow
from keyfolio.storage.tables_snapshots import (
    MaintenanceRow,
    SnapshotRow,
    SnapshotSetRow,
    ValueSeriesStateRow,
)

__all__ = [
    "COMPACT_TASK",
    "DAILY_AFTER",
    "HOURLY_AFTER",
    "CompactReport",
    "SetReading",
    "SnapshotRepo",
    "SnapshotSet",
    "compaction_victims",
    "retention_bucket",
    "retention_bucketer",
    "retention_cutoffs",
]

logger = logging.getLogger(__name__)

COMPACT_TASK = "compact_snapshots"
HOURLY_AFTER = timedelta(days=7)
"""Sets older than this (floored to the hour) keep one per (account, source) and hour."""
DAILY_AFTER = timedelta(days=90)
"""Sets older than this (floored to the day) keep one per (account, source) and UTC day."""
_SOURCE_LENGTH = 32
_CHUNK = 500


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


@dataclass(frozen=True)
class CompactReport:
    """What one compaction did, at ``now``, with the retention boundaries it used."""

    now: datetime
    daily_before: datetime
    hourly_before: datetime
    sets_removed: int
    snapshots_removed: int
    sets_kept: int


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def retention_cutoffs(now: datetime) -> tuple[datetime, datetime]:
    """``(daily_before, hourly_before)``: sets before the first keep one per day, those
    between the two one per hour, and those at or after ``hourly_before`` every one."""
    return _floor_hour(now - DAILY_AFTER).replace(hour=0), _floor_hour(now - HOURLY_AFTER)


def retention_bucketer(now: datetime) -> Callable[[datetime], datetime | None]:
    """:func:`retention_bucket` at a fixed ``now``, with the cutoffs computed once."""
    daily_before, hourly_before = retention_cutoffs(now)

    def bucket(at: datetime) -> datetime | None:
        if at >= hourly_before:
            return None
        if at >= daily_before:
            return _floor_hour(at)
        return _floor_hour(at).replace(hour=0)

    return bucket


def retention_bucket(at: datetime, now: datetime) -> datetime | None:
    """The start of the retention bucket (UTC hour or day) holding ``at`` at ``now``;
    ``None`` when ``at`` is recent enough to be kept as it is."""
    return retention_bucketer(now)(at)


def compaction_victims(
    sets: Iterable[tuple[int, Hashable, datetime]], *, now: datetime
) -> list[int]:
    """The ids of the sets ``(id, key, at)`` that retention removes at ``now``.

    Per key and retention bucket the latest set survives (the higher id on a tie). Applying
    it again at the same or a later ``now`` never brings anything back; at the same ``now``
    it removes nothing more (idempotent).
    """
    bucket_of = retention_bucketer(now)
    latest: dict[tuple[Hashable, datetime], tuple[datetime, int]] = {}
    victims: list[int] = []
    for set_id, key, at in sets:
        bucket = bucket_of(at)
        if bucket is None:
            continue
        slot = (key, bucket)
        kept = latest.get(slot)
        if kept is None:
            latest[slot] = (at, set_id)
        elif (at, set_id) > kept:
            victims.append(kept[1])
            latest[slot] = (at, set_id)
        else:
            victims.append(set_id)
    return sorted(victims)


def _set_total(rows: Sequence[Snapshot]) -> tuple[Decimal, bool]:
    """The exact sum of the priced values (in the one money context), and whether any held
    amount is unpriced."""
    priced = money.total(row.value for row in rows if row.value is not None)
    return priced, any(row.value is None and row.amount != _ZERO for row in rows)


class SnapshotRepo:
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

    # -- retention ----------------------------------------------------------------------

    @translated
    def compact(self, *, now: datetime) -> CompactReport:
        """Apply retention at ``now`` (all sets of the last 7 days, then the last set per
        account, source and hour up to 90 days, then per UTC day). Idempotent. Records the
        run (see :meth:`last_compaction`)."""
        when = as_utc(now, field="now")
        daily_before, hourly_before = retention_cutoffs(when)
        candidates = self._session.execute(
            select(
                SnapshotSetRow.id,
                SnapshotSetRow.account_id,
                SnapshotSetRow.source,
                SnapshotSetRow.at,
            ).where(SnapshotSetRow.at < hourly_before)
        )
        victims = compaction_victims(
            ((set_id, (account_id, source), at) for set_id, account_id, source, at in candidates),
            now=when,
        )
        snapshots_removed = 0
        for start in range(0, len(victims), _CHUNK):
            chunk = victims[start : start + _CHUNK]
            result = self._session.execute(delete(SnapshotRow).where(SnapshotRow.set_id.in_(chunk)))
            snapshots_removed += cast(CursorResult[Any], result).rowcount
            self._session.execute(delete(SnapshotSetRow).where(SnapshotSetRow.id.in_(chunk)))
        if victims:  # a stored value series may count a removed set: each is rebuilt
            self._session.execute(delete(ValueSeriesStateRow))
        kept = self._session.scalar(select(func.count()).select_from(SnapshotSetRow)) or 0
        self._mark_run(COMPACT_TASK, when)
        logger.info(
            "compacted snapshots: removed %d sets (%d rows), %d sets kept",
            len(victims),
            snapshots_removed,
            kept,
        )
        return CompactReport(
            now=when,
            daily_before=daily_before,
            hourly_before=hourly_before,
            sets_removed=len(victims),
            snapshots_removed=snapshots_removed,
            sets_kept=kept,
        )

    @translated
    def last_compaction(self) -> datetime | None:
        """When :meth:`compact` last ran; ``None`` if never."""
        return self._session.scalar(
            select(MaintenanceRow.last_run_at).where(MaintenanceRow.task == COMPACT_TASK)
        )

    def _mark_run(self, task: str, at: datetime) -> None:
        row = self._session.get(MaintenanceRow, task)
        if row is None:
            self._session.add(MaintenanceRow(task=task, last_run_at=at))
        else:
            row.last_run_at = at
        self._session.flush()
