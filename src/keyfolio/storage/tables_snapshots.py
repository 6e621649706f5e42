"""The snapshot tables: one snapshot SET per (account, source, time), one row per asset in it.

A set is written only when a source was read successfully, so "no set" always means "no new
information", never "zero". ``total_value`` (the sum of the priced rows' values) lets the
value series be computed from the sets alone. ``maintenance`` remembers when a periodic job
(the snapshot compaction) last ran.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyfolio.storage._types import DecimalText, UTCDateTime
from keyfolio.storage.tables import ASSET_LENGTH, Base

__all__ = ["MaintenanceRow", "SnapshotRow", "SnapshotSetRow"]

_SOURCE_LENGTH = 32
_TASK_LENGTH = 64


class SnapshotSetRow(Base):
    """One successful read of one source of one account at one moment."""

    __tablename__ = "snapshot_sets"
    __table_args__ = (
        UniqueConstraint("account_id", "source", "at"),
        Index("ix_snapshot_sets_at", "at"),
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
