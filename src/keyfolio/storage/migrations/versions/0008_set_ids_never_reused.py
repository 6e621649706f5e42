"""Snapshot set ids are never reused (SQLite ``AUTOINCREMENT``).

A stored value series (0007) records the newest set id it includes and takes every set with
a larger id as written after it. A plain SQLite ``INTEGER PRIMARY KEY`` hands the largest id
out again once its row is deleted: a set replaced at the same moment (delete, then insert)
came back with the id it had, and the series took the new set for one it already had.
``AUTOINCREMENT`` never hands an id out twice. PostgreSQL's sequences never do either, so
this revision changes nothing there.

SQLite cannot add ``AUTOINCREMENT`` to a table: both snapshot tables are rebuilt with their
rows (ids kept). The old tables are renamed first and dropped child first, so dropping them
never cascades into the rows that were copied. The value series stored before are dropped
(each is built again when next read): one may count an id that was handed out twice.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ASSET = 64
_SOURCE = 32


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _rebuild(*, autoincrement: bool) -> None:
    """Rebuild ``snapshot_sets`` and ``snapshots`` on SQLite, with their rows and ids."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_snapshots_asset_at", table_name="snapshots")
    op.drop_index("ix_snapshot_sets_at", table_name="snapshot_sets")
    # The child first: renaming the parent then points the child's key at the old parent.
    op.rename_table("snapshots", "_old_snapshots")
    op.rename_table("snapshot_sets", "_old_snapshot_sets")
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
        sqlite_autoincrement=autoincrement,
    )
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
    op.execute(
        "INSERT INTO snapshot_sets (id, account_id, source, at, total_value, unpriced) "
        "SELECT id, account_id, source, at, total_value, unpriced FROM _old_snapshot_sets"
    )
    op.execute(
        "INSERT INTO snapshots (id, set_id, asset, at, amount, price, price_source, value) "
        "SELECT id, set_id, asset, at, amount, price, price_source, value FROM _old_snapshots"
    )
    op.drop_table("_old_snapshots")
    op.drop_table("_old_snapshot_sets")
    op.create_index("ix_snapshot_sets_at", "snapshot_sets", ["at"])
    op.create_index("ix_snapshots_asset_at", "snapshots", ["asset", "at"])


def upgrade() -> None:
    _rebuild(autoincrement=True)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DELETE FROM value_points")
        op.execute("DELETE FROM value_series_states")


def downgrade() -> None:
    _rebuild(autoincrement=False)
