"""The history tables: trades, transfers, ledger entries and import cursors.

Private to ``keyfolio.storage``. Every amount is ``DecimalText`` (exact decimal text), every
time ``UTCDateTime``. Each record has a unique key per account, so importing the same page
twice adds nothing. Rows go with their account (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyfolio.storage._types import DecimalText, UTCDateTime
from keyfolio.storage.tables import ASSET_LENGTH, Base

__all__ = ["ID_LENGTH", "ImportCursorRow", "LedgerEntryRow", "TradeRow", "TransferRow"]

ID_LENGTH = 128
_SHORT = 32
_KIND_LENGTH = 64


class TradeRow(Base):
    """One fill of one account (exchange, CSV or manual). Unique per (account, trade_id)."""

    __tablename__ = "trades"
    __table_args__ = (
        UniqueConstraint("account_id", "trade_id"),
        Index("ix_trades_account_id_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    trade_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    base: Mapped[str] = mapped_column(String(ASSET_LENGTH))
    quote: Mapped[str] = mapped_column(String(ASSET_LENGTH))
    side: Mapped[str] = mapped_column(String(_SHORT))
    amount: Mapped[Decimal] = mapped_column(DecimalText())
    price: Mapped[Decimal] = mapped_column(DecimalText())
    fee: Mapped[Decimal] = mapped_column(DecimalText())
    fee_asset: Mapped[str | None] = mapped_column(String(ASSET_LENGTH))
    inst_type: Mapped[str] = mapped_column(String(_SHORT))
    order_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    origin: Mapped[str] = mapped_column(String(_SHORT))


class TransferRow(Base):
    """One deposit or withdrawal. Unique per (account, kind, transfer_id)."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "transfer_id"),
        Index("ix_transfers_account_id_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(_SHORT))
    transfer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    asset: Mapped[str] = mapped_column(String(ASSET_LENGTH))
    amount: Mapped[Decimal] = mapped_column(DecimalText())
    fee: Mapped[Decimal] = mapped_column(DecimalText())
    txid: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(_SHORT))
    origin: Mapped[str] = mapped_column(String(_SHORT))


class LedgerEntryRow(Base):
    """One bill (signed balance change). Unique per (account, source, entry_id)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("account_id", "source", "entry_id"),
        Index("ix_ledger_entries_account_id_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(_SHORT))
    entry_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    asset: Mapped[str] = mapped_column(String(ASSET_LENGTH))
    change: Mapped[Decimal] = mapped_column(DecimalText())
    balance_after: Mapped[Decimal | None] = mapped_column(DecimalText())
    kind: Mapped[str] = mapped_column(String(_KIND_LENGTH))
    reference: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class ImportCursorRow(Base):
    """How far one kind of history of one account has been imported (opaque text)."""

    __tablename__ = "import_cursors"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(_KIND_LENGTH), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
