"""bridge_leases and bridge_instances: the bridges share the partitions through leases

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_leases",
        sa.Column("partition_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("partition_count", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("partition_index"),
        sa.UniqueConstraint("partition_index", "epoch", name="uq_bridge_leases_epoch"),
    )
    op.create_table(
        "bridge_instances",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("partition_count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("bridge_instances")
    op.drop_table("bridge_leases")
