"""The typed tables (SQLAlchemy 2 ``Mapped[...]``). Private to ``keyfolio.storage``.

The schema is portable: plain types only, amounts as exact decimal text (``DecimalText``),
datetimes as UTC (``UTCDateTime``). Alembic owns the schema (``migrations/versions``); a test
checks these classes and the migrations agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keyfolio.storage._types import DecimalText, UTCDateTime

__all__ = [
    "ASSET_LENGTH",
    "NAME_LENGTH",
    "AccountRow",
    "AssetAliasRow",
    "BalanceRow",
    "Base",
    "PortfolioRow",
    "PriceRow",
    "SourceStateRow",
    "SyncRunRow",
    "all_tables",
]

NAME_LENGTH = 200
ASSET_LENGTH = 64
_CODE_LENGTH = 64
_STATUS_LENGTH = 32

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so every constraint has a stable name."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PortfolioRow(Base):
    """A named group of accounts. ``main`` always exists."""

    __tablename__ = "portfolios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class AccountRow(Base):
    """One exchange account (its secrets live in the vault, never here)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(_CODE_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    region: Mapped[str] = mapped_column(String(_STATUS_LENGTH))
    demo: Mapped[bool] = mapped_column(Boolean)
    api_url: Mapped[str | None] = mapped_column(Text)
    portfolio_id: Mapped[int] = mapped_column(
        ForeignKey("portfolios.id", ondelete="RESTRICT"), index=True
    )
    import_balance: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(_STATUS_LENGTH))
    last_sync: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error_code: Mapped[str | None] = mapped_column(String(_CODE_LENGTH))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_hint: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class BalanceRow(Base):
    """The last good amount of one asset in one source of one account."""

    __tablename__ = "balances"
    __table_args__ = (UniqueConstraint("account_id", "source", "asset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(_STATUS_LENGTH))
    asset: Mapped[str] = mapped_column(String(ASSET_LENGTH))
    amount: Mapped[Decimal] = mapped_column(DecimalText())
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stale: Mapped[bool] = mapped_column(Boolean, default=False)


class SourceStateRow(Base):
    """How the last read of one source of one account went."""

    __tablename__ = "source_states"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(_STATUS_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(_STATUS_LENGTH))
    error_code: Mapped[str | None] = mapped_column(String(_CODE_LENGTH))
    error: Mapped[str | None] = mapped_column(Text)
    hint: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PriceRow(Base):
    """The last known USD price of one asset."""

    __tablename__ = "prices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset: Mapped[str] = mapped_column(String(ASSET_LENGTH), unique=True)
    usd: Mapped[Decimal] = mapped_column(DecimalText())
    open24h_usd: Mapped[Decimal | None] = mapped_column(DecimalText())
    open_basis: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())


class AssetAliasRow(Base):
    """A user's override of a venue's asset code (``keyfolio asset alias VENUE CODE ASSET``)."""

    __tablename__ = "asset_aliases"
    __table_args__ = (UniqueConstraint("exchange", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(_CODE_LENGTH))
    code: Mapped[str] = mapped_column(String(ASSET_LENGTH))
    asset: Mapped[str] = mapped_column(String(ASSET_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class SyncRunRow(Base):
    """One sync attempt of one account: the log behind ``account list`` and analytics."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(_STATUS_LENGTH))
    error_code: Mapped[str | None] = mapped_column(String(_CODE_LENGTH))


def all_tables() -> MetaData:
    """``Base.metadata`` with every table of the schema (what Alembic compares and migrates).

    The history, snapshot and hosted-mode tables live in their own modules on the same Base,
    imported by the repositories that use them: mapping a class is most of its cost, and a
    command that reads balances (`keyfolio show`) never maps them. No class here refers to
    them (their foreign keys point at ``accounts``, never the other way).
    """
    from keyfolio.storage import hosted, tables_history, tables_snapshots  # noqa: F401

    return Base.metadata
