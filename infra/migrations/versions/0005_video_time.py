"""A video's life and time: videos.started_ts and ended_ts, comments.pos_ms, the replay index

Existing videos start at their creation (started_ts = created_ts); existing comments get their
pos_ms from it (ts - started_ts, 0 if negative), as a new comment does when it is recorded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPROVED_ONLY = sa.text("status = 'approved'")


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("started_ts", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("ended_ts", sa.BigInteger(), nullable=True))
    op.execute("UPDATE videos SET started_ts = created_ts")
    op.execute("UPDATE videos SET ended_ts = created_ts WHERE status = 'ended'")  # ended by hand, before the API could
    op.create_index("ix_videos_started", "videos", ["started_ts", "id"])
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("pos_ms", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE comments SET pos_ms = COALESCE((SELECT CASE WHEN comments.ts > v.started_ts"
        " THEN comments.ts - v.started_ts ELSE 0 END FROM videos v WHERE v.id = comments.video_id), 0)"
    )
    op.create_index(
        "ix_comments_replay", "comments", ["video_id", "pos_ms", "seq"],
        sqlite_where=APPROVED_ONLY, postgresql_where=APPROVED_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ix_comments_replay", table_name="comments")
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("pos_ms")
    op.drop_index("ix_videos_started", table_name="videos")
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("ended_ts")
        batch.drop_column("started_ts")
