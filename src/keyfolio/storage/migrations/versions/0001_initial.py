"""Initial schema: portfolios, accounts, balances, source states, prices, sync runs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = 200
_ASSET = 64
_CODE = 64
_STATUS = 32


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table and the default portfolio ``main``."""
    portfolios = op.create_table(
        "portfolios",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolios")),
        sa.UniqueConstraint("name", name=op.f("uq_portfolios_name")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(_CODE), nullable=False),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("region", sa.String(_STATUS), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("api_url", sa.Text(), nullable=True),
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.Column("import_balance", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(_STATUS), nullable=False),
        sa.Column("last_sync", _when(), nullable=True),
        sa.Column("last_error_code", sa.String(_CODE), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_hint", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("fk_accounts_portfolio_id_portfolios"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_accounts_name")),
    )
    op.create_index(op.f("ix_accounts_portfolio_id"), "accounts", ["portfolio_id"])
    op.create_table(
        "balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(_STATUS), nullable=False),
        sa.Column("asset", sa.String(_ASSET), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("synced_at", _when(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_balances_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balances")),
        sa.UniqueConstraint(
            "account_id", "source", "asset", name=op.f("uq_balances_account_id_source_asset")
        ),
    )
    op.create_table(
        "source_states",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(_STATUS), nullable=False),
        sa.Column("status", sa.String(_STATUS), nullable=False),
        sa.Column("error_code", sa.String(_CODE), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("updated_at", _when(), nullable=False),
        sa.Column("last_ok_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_source_states_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "source", name=op.f("pk_source_states")),
    )
    op.create_table(
        "prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(_ASSET), nullable=False),
        sa.Column("usd", sa.Text(), nullable=False),
        sa.Column("open24h_usd", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("as_of", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prices")),
        sa.UniqueConstraint("asset", name=op.f("uq_prices_asset")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("started_at", _when(), nullable=False),
        sa.Column("finished_at", _when(), nullable=True),
        sa.Column("status", sa.String(_STATUS), nullable=False),
        sa.Column("error_code", sa.String(_CODE), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_sync_runs_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(op.f("ix_sync_runs_account_id"), "sync_runs", ["account_id"])
    op.bulk_insert(portfolios, [{"name": "main", "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    """Drop every table (the data goes with them)."""
    op.drop_index(op.f("ix_sync_runs_account_id"), table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_table("prices")
    op.drop_table("source_states")
    op.drop_table("balances")
    op.drop_index(op.f("ix_accounts_portfolio_id"), table_name="accounts")
    op.drop_table("accounts")
    op.drop_table("portfolios")
