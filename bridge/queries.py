"""The bridge's queries: the live-events outbox (unpublished events, marking them published),
stuck pending comments for the sweeper, and what the retained views are built from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from infra.audience import audience_of
from infra.reads import reaction_totals
from livecomments.models import Comment, CommentStatus, LiveEvent, Video, VideoReaction
from livecomments.wire import Submission, comment_view, video_state


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


_EVENTS = cast(Table, LiveEvent.__table__)
_MARK_RANGE = (
    update(_EVENTS)
    .where(_EVENTS.c.video_id == bindparam("b_video"), _EVENTS.c.seq >= bindparam("b_first"),
           _EVENTS.c.seq <= bindparam("b_last"))
    .values(published=True)
)


def mark_published_ranges(session: Session, ranges: Sequence[tuple[str, int, int]]) -> None:
    """Mark the events the broker confirmed, one seq range per message, in one statement."""
    if ranges:
        session.connection().execute(
            _MARK_RANGE, [{"b_video": v, "b_first": first, "b_last": last} for v, first, last in ranges]
        )


def unpublished_heads(session: Session) -> dict[str, int]:
    """Each video with unpublished events, and the highest such seq."""
    rows = session.execute(
        select(LiveEvent.video_id, func.max(LiveEvent.seq)).where(LiveEvent.published.is_(False))
        .group_by(LiveEvent.video_id)
    )
    return {v: int(seq) for v, seq in rows}


def events_after(session: Session, video_id: str, after: int | None, limit: int = 10_000) -> list[tuple[int, bytes]]:
    """The video's events after seq `after` (None: its unpublished ones), in seq order, as stored."""
    query = select(LiveEvent.seq, LiveEvent.payload).where(LiveEvent.video_id == video_id)
    if after is None:
        query = query.where(LiveEvent.published.is_(False))
    else:
        query = query.where(LiveEvent.seq > after)
    rows = session.execute(query.order_by(LiveEvent.seq).limit(limit))
    return [(int(seq), payload.encode()) for seq, payload in rows]


def last_seq_of(session: Session, video_id: str) -> int:
    got = session.scalar(select(Video.last_seq).where(Video.id == video_id))
    return int(got or 0)


def stuck_pending(session: Session, older_than_ms: int, limit: int = 500) -> list[Submission]:
    """Pending comments whose ingest message never completed them: the sweeper re-drives these."""
    rows = session.scalars(
        select(Comment)
        .where(Comment.status == CommentStatus.PENDING, Comment.ts < older_than_ms)
        .order_by(Comment.ts, Comment.id)
        .limit(limit)
    )
    return [Submission.of(c) for c in rows]


def recent_comments(session: Session, video_id: str, size: int) -> list[dict[str, Any]]:
    """The last `size` approved comments, oldest first (seeds the recent window)."""
    rows = session.scalars(
        select(Comment)
        .where(Comment.video_id == video_id, Comment.status == CommentStatus.APPROVED)
        .order_by(Comment.seq.desc())
        .limit(size)
    )
    comments = list(reversed(list(rows)))
    totals = reaction_totals(session, [c.id for c in comments])
    return [comment_view(c, totals.get(c.id)) for c in comments]


def add_live_reactions(session: Session, video_id: str, counts: dict[str, int]) -> bool:
    """Add aggregated live-reaction clicks to the video's running totals; False if no such video."""
    if session.get(Video, video_id) is None:
        return False
    for kind, n in counts.items():
        row = session.get(VideoReaction, (video_id, kind), with_for_update=True)
        if row is None:
            session.add(VideoReaction(video_id=video_id, kind=kind, count=n))
        else:
            row.count += n
    return True


def video_reaction_totals(session: Session, video_id: str) -> dict[str, int]:
    rows = session.execute(select(VideoReaction.kind, VideoReaction.count).where(VideoReaction.video_id == video_id))
    return {kind: int(count) for kind, count in rows if count}


def video_state_of(session: Session, video_id: str) -> dict[str, Any] | None:
    video = session.get(Video, video_id)
    if video is None:
        return None
    pinned = session.get(Comment, video.pinned_comment_id) if video.pinned_comment_id else None
    pinned_view = comment_view(pinned) if pinned is not None and pinned.status == CommentStatus.APPROVED else None
    viewers, peak = audience_of(session, video_id)
    return video_state(video.status, video.chat, video.slow_mode_s, video.hold_for_review, viewers, pinned_view, peak)
