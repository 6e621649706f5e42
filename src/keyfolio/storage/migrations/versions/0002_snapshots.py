"""Snapshots: snapshot sets, their per-asset rows, and the maintenance log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ASSET = 64
_SOURCE = 32
_TASK = 64


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the snapshots tables."""
    op.create_table(
        "snapshot_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(_SOURCE), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("total_value", sa.Text(), nullable=False),
        sa.Column("unpriced", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_snapshot_sets_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_sets")),
        sa.UniqueConstraint(
            "account_id", "source", "at", name=op.f("uq_snapshot_sets_account_id_source_at")
        ),
    )
    op.create_index("ix_snapshot_sets_at", "snapshot_sets", ["at"])
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(_ASSET), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("price", sa.Text(), nullable=True),
        sa.Column("price_source", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["snapshot_sets.id"],
            name=op.f("fk_snapshots_set_id_snapshot_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
        sa.UniqueConstraint("set_id", "asset", name=op.f("uq_snapshots_set_id_asset")),
    )
    op.create_index("ix_snapshots_asset_at", "snapshots", ["asset", "at"])
    op.create_table(
        "maintenance",
        sa.Column("task", sa.String(_TASK), nullable=False),
        sa.Column("last_run_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("task", name=op.f("pk_maintenance")),
    )


def downgrade() -> None:
    """Drop the snapshots tables (the snapshots go with them)."""
    op.drop_table("maintenance")
    op.drop_index("ix_snapshots_asset_at", table_name="snapshots")
    op.drop_table("snapshots")
    op.drop_index("ix_snapshot_sets_at", table_name="snapshot_sets")
    op.drop_table("snapshot_sets")
