"""Reading and completing the outboxes: unpublished live events, stuck pending comments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from livecomments.models import Comment, CommentStatus, LiveEvent
from livecomments.wire import Submission, comment_view


def videos_with_unpublished(session: Session) -> list[str]:
    rows = session.scalars(select(LiveEvent.video_id).where(LiveEvent.published.is_(False)).distinct())
    return list(rows)


def unpublished_events(session: Session, video_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The video's events not yet confirmed by the broker, in seq order."""
    payloads = session.scalars(
        select(LiveEvent.payload)
        .where(LiveEvent.video_id == video_id, LiveEvent.published.is_(False))
        .order_by(LiveEvent.seq)
        .limit(limit)
    )
    return [orjson.loads(p) for p in payloads]


def mark_published(session: Session, video_id: str, seqs: Sequence[int]) -> None:
    session.execute(
        update(LiveEvent)
        .where(LiveEvent.video_id == video_id, LiveEvent.seq.in_(list(seqs)))
        .values(published=True)
    )


def stuck_pending(session: Session, older_than_ms: int, limit: int = 500) -> list[Submission]:
    """Pending comments whose ingest message never completed them: the sweeper re-drives these."""
    rows = session.scalars(
        select(Comment)
        .where(Comment.status == CommentStatus.PENDING, Comment.ts < older_than_ms)
        .order_by(Comment.ts, Comment.id)
        .limit(limit)
    )
    return [
        Submission(
            id=c.id,
            video_id=c.video_id,
            user_id=c.user_id,
            user_name=c.user_name,
            text=c.text,
            parent_id=c.parent_id,
            ts=c.ts,
        )
        for c in rows
    ]


def recent_comments(session: Session, video_id: str, size: int) -> list[dict[str, Any]]:
    """The last `size` approved comments, oldest first (seeds the recent window)."""
    rows = session.scalars(
        select(Comment)
        .where(Comment.video_id == video_id, Comment.status == CommentStatus.APPROVED)
        .order_by(Comment.seq.desc())
        .limit(size)
    )
    return [comment_view(c) for c in reversed(list(rows))]
