"""video_audience: each video's `viewers` and `peak_viewers` (the bridge's presence counter)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "video_audience",
        sa.Column("video_id", sa.String(length=64), sa.ForeignKey("videos.id"), primary_key=True),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("peak_viewers", sa.Integer(), nullable=False),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("video_audience")
