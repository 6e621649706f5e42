"""The snapshot tables: one snapshot SET per (account, source, time), one row per asset in it.

A set is written only when a source was read successfully, so "no set" always means "no new
information", never "zero". ``total_value`` (the sum of the priced rows' values) lets the
value series be computed from the sets alone. ``maintenance`` remembers when a periodic job
(the snapshot compaction) last ran.

``value_points`` is each portfolio's value series, kept at write time: one point per moment
at which any of its counted accounts has a set, valued like a series recomputed from the sets
(carry-forward). ``value_series_states`` says what it was built from (the counted accounts and
the newest set id), so a series that no longer matches its sets is rebuilt before it is read.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from keyfolio.storage._types import DecimalText, UTCDateTime
from keyfolio.storage.tables import ASSET_LENGTH, Base

__all__ = [
    "MaintenanceRow",
    "SnapshotRow",
    "SnapshotSetRow",
    "ValuePointRow",
    "ValueSeriesStateRow",
]

_SOURCE_LENGTH = 32
_TASK_LENGTH = 64


class SnapshotSetRow(Base):
    """One successful read of one source of one account at one moment."""

    __tablename__ = "snapshot_sets"
    __table_args__ = (
        UniqueConstraint("account_id", "source", "at"),
        Index("ix_snapshot_sets_at", "at"),
        # Ids are never handed out twice (SQLite reuses the largest one after a delete
        # otherwise): a stored value series takes every set with a larger id as new.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(_SOURCE_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    total_value: Mapped[Decimal] = mapped_column(DecimalText())
    unpriced: Mapped[bool] = mapped_column(Boolean)


class SnapshotRow(Base):
    """The amount (and price and value, where priced) of one asset in one snapshot set."""

    __tablename__ = "snapshots"
    __table_args__ = (
        UniqueConstraint("set_id", "asset"),
        Index("ix_snapshots_asset_at", "asset", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("snapshot_sets.id", ondelete="CASCADE"))
    asset: Mapped[str] = mapped_column(String(ASSET_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # the set's time: (asset, at) lookups
    amount: Mapped[Decimal] = mapped_column(DecimalText())
    price: Mapped[Decimal | None] = mapped_column(DecimalText())
    price_source: Mapped[str | None] = mapped_column(Text)
    value: Mapped[Decimal | None] = mapped_column(DecimalText())


class MaintenanceRow(Base):
    """When a periodic maintenance task (e.g. ``compact_snapshots``) last ran."""

    __tablename__ = "maintenance"

    task: Mapped[str] = mapped_column(String(_TASK_LENGTH), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ValuePointRow(Base):
    """The value (USD) of one portfolio at one moment at which one of its sets was read."""

    __tablename__ = "value_points"
    __table_args__ = (PrimaryKeyConstraint("portfolio_id", "at"),)

    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    value: Mapped[Decimal] = mapped_column(DecimalText())


class ValueSeriesStateRow(Base):
    """What a portfolio's stored value series was built from.

    ``accounts`` lists the ids of the accounts it counts (``"3,7,12"``), ``last_set_id`` the
    newest snapshot set of theirs it includes, and ``exact`` is false when a set outside the
    money bounds was left out (the series is then recomputed from the sets, which also
    lists what was refused).
    """

    __tablename__ = "value_series_states"

    portfolio_id: Mapped[int] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True
    )
    accounts: Mapped[str] = mapped_column(Text)
    last_set_id: Mapped[int] = mapped_column(Integer)
    exact: Mapped[bool] = mapped_column(Boolean)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
