"""History tables: trades, transfers, ledger entries, import cursors.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ASSET = 64
_ID = 128
_SHORT = 32
_KIND = 64


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["accounts.id"],
        name=op.f(f"fk_{table}_account_id_accounts"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    """Create the history tables."""
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.String(_ID), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("base", sa.String(_ASSET), nullable=False),
        sa.Column("quote", sa.String(_ASSET), nullable=False),
        sa.Column("side", sa.String(_SHORT), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("price", sa.Text(), nullable=False),
        sa.Column("fee", sa.Text(), nullable=False),
        sa.Column("fee_asset", sa.String(_ASSET), nullable=True),
        sa.Column("inst_type", sa.String(_SHORT), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=True),
        sa.Column("origin", sa.String(_SHORT), nullable=False),
        _account_fk("trades"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint("account_id", "trade_id", name=op.f("uq_trades_account_id_trade_id")),
    )
    op.create_index("ix_trades_account_id_at", "trades", ["account_id", "at"])
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(_SHORT), nullable=False),
        sa.Column("transfer_id", sa.String(_ID), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("asset", sa.String(_ASSET), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("fee", sa.Text(), nullable=False),
        sa.Column("txid", sa.Text(), nullable=True),
        sa.Column("status", sa.String(_SHORT), nullable=False),
        sa.Column("origin", sa.String(_SHORT), nullable=False),
        _account_fk("transfers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint(
            "account_id",
            "kind",
            "transfer_id",
            name=op.f("uq_transfers_account_id_kind_transfer_id"),
        ),
    )
    op.create_index("ix_transfers_account_id_at", "transfers", ["account_id", "at"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(_SHORT), nullable=False),
        sa.Column("entry_id", sa.String(_ID), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("asset", sa.String(_ASSET), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("balance_after", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(_KIND), nullable=False),
        sa.Column("reference", sa.String(_ID), nullable=True),
        _account_fk("ledger_entries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint(
            "account_id",
            "source",
            "entry_id",
            name=op.f("uq_ledger_entries_account_id_source_entry_id"),
        ),
    )
    op.create_index("ix_ledger_entries_account_id_at", "ledger_entries", ["account_id", "at"])
    op.create_table(
        "import_cursors",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(_KIND), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        _account_fk("import_cursors"),
        sa.PrimaryKeyConstraint("account_id", "kind", name=op.f("pk_import_cursors")),
    )


def downgrade() -> None:
    """Drop the history tables (the imported history goes with them)."""
    op.drop_table("import_cursors")
    op.drop_index("ix_ledger_entries_account_id_at", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_transfers_account_id_at", table_name="transfers")
    op.drop_table("transfers")
    op.drop_index("ix_trades_account_id_at", table_name="trades")
    op.drop_table("trades")
