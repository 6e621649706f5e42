"""Hosted mode: finished sync rounds (a job delivered twice syncs once) and the vault's
ciphertext in the database.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_rounds",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("round", sa.BigInteger(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "round", name=op.f("pk_sync_rounds")),
    )
    op.create_table(
        "vault_blobs",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vault_blobs")),
    )


def downgrade() -> None:
    op.drop_table("vault_blobs")
    op.drop_table("sync_rounds")
