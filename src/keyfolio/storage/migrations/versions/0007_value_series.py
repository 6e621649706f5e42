"""Value series kept at write time: ``value_points`` and ``value_series_states``.

Both start empty: a portfolio's series is built from its snapshot sets the first time it is
read (or by `keyfolio db compact`), then kept current by every snapshot write.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _portfolio_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["portfolio_id"],
        ["portfolios.id"],
        name=op.f(f"fk_{table}_portfolio_id_portfolios"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "value_points",
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _portfolio_fk("value_points"),
        sa.PrimaryKeyConstraint("portfolio_id", "at", name=op.f("pk_value_points")),
    )
    op.create_table(
        "value_series_states",
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("last_set_id", sa.Integer(), nullable=False),
        sa.Column("exact", sa.Boolean(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        _portfolio_fk("value_series_states"),
        sa.PrimaryKeyConstraint("portfolio_id", name=op.f("pk_value_series_states")),
    )


def downgrade() -> None:
    op.drop_table("value_series_states")
    op.drop_table("value_points")
