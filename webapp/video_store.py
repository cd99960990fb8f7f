"""A video's life and time in the database: the list of videos, ending one (and renaming it), the
replay's page of comments, and the bans in force. Each read or write is one transaction on the
request's session (webapp.extensions.db), as webapp.store's are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnClause, Select, and_, literal_column, or_, select, update

from infra.reads import reaction_totals
from livecomments.models import (
    AuditEntry,
    Ban,
    ChatState,
    Comment,
    CommentStatus,
    Video,
    VideoAudience,
    VideoStatus,
)
from webapp.extensions import db


class UnknownCursor(Exception):
    """`before` names no video."""


@dataclass(frozen=True)
class VideoPage:
    limit: int
    status: str | None = None
    before: str | None = None  # a video id: the videos after it, newest first


def list_videos(page: VideoPage) -> list[Video]:
    """Newest first: by started_ts, then id, both descending (ix_videos_started); UnknownCursor if
    `before` names no video."""
    stmt = select(Video)
    if page.status is not None:
        stmt = stmt.where(Video.status == page.status)
    if page.before is not None:
        cursor = db.session.get(Video, page.before)
        if cursor is None:
            raise UnknownCursor(page.before)
        stmt = stmt.where(
            or_(Video.started_ts < cursor.started_ts, and_(Video.started_ts == cursor.started_ts, Video.id < cursor.id))
        )
    stmt = stmt.order_by(Video.started_ts.desc(), Video.id.desc()).limit(page.limit)
    return list(db.session.scalars(stmt))


def pinned_of(videos: Sequence[Video]) -> dict[str, Comment]:
    """Each video's pinned comment, if it has one still approved (one query for them all)."""
    ids = [v.pinned_comment_id for v in videos if v.pinned_comment_id is not None]
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Comment).where(Comment.id.in_(ids), Comment.status == CommentStatus.APPROVED.value)
    )
    return {c.video_id: c for c in rows}


def audiences_of(video_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(viewers, peak_viewers) of each video somebody announced themselves on (one query)."""
    if not video_ids:
        return {}
    rows = db.session.execute(
        select(VideoAudience.video_id, VideoAudience.viewers, VideoAudience.peak_viewers).where(
            VideoAudience.video_id.in_(list(video_ids))
        )
    )
    return {v: (int(n), int(peak)) for v, n, peak in rows}


class AlreadyEnded(Exception):
    """The video has ended already: ending is final."""


def change_video(video_id: str, title: str | None, end: bool, actor: str, now_ms: int) -> Video:
    """Rename and/or end the video in one transaction, committed; AlreadyEnded (nothing changed) if
    `end` and it has ended, as a concurrent request may just have done: the UPDATE that ends it
    holds `status = 'live'` in its WHERE, so only one of two ends it."""
    if end:
        ended = db.session.execute(
            update(Video)
            .where(Video.id == video_id, Video.status == VideoStatus.LIVE.value)
            .values(status=VideoStatus.ENDED.value, ended_ts=now_ms, chat=ChatState.CLOSED.value)
        )
        if getattr(ended, "rowcount", 0) != 1:
            db.session.rollback()
            raise AlreadyEnded(video_id)
        db.session.add(AuditEntry(video_id=video_id, actor_id=actor, action="end", detail={}, ts=now_ms))
    if title is not None:
        db.session.execute(update(Video).where(Video.id == video_id).values(title=title))
    db.session.commit()
    video = db.session.get(Video, video_id, populate_existing=True)
    assert video is not None, "a video is never deleted"
    return video


_APPROVED: ColumnClause[str] = literal_column(f"'{CommentStatus.APPROVED.value}'")


@dataclass(frozen=True)
class ReplayWindow:
    """`from_ms <= pos_ms < to_ms`; `after_seq` skips the comments at pos_ms = from_ms up to that seq."""

    video_id: str
    from_ms: int
    to_ms: int
    after_seq: int | None = None


def replay_query(window: ReplayWindow, limit: int) -> Select[Comment]:
    """Up to `limit` approved comments of the window, by pos_ms then seq (ix_comments_replay)."""
    stmt = select(Comment).where(
        Comment.video_id == window.video_id,
        # a literal, not a parameter: a generic plan (psycopg prepares a statement run 5 times) can use
        # the partial index only if the query itself says status = 'approved'
        Comment.status == _APPROVED,
        Comment.pos_ms >= window.from_ms,
        Comment.pos_ms < window.to_ms,
    )
    if window.after_seq is not None:
        stmt = stmt.where(or_(Comment.pos_ms > window.from_ms, Comment.seq > window.after_seq))
    return stmt.order_by(Comment.pos_ms, Comment.seq).limit(limit)


def replay_page(window: ReplayWindow, limit: int) -> list[Comment]:
    return list(db.session.scalars(replay_query(window, limit)))


def reactions_of(comment_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    return reaction_totals(db.session(), comment_ids)


def bans_in_force(video_id: str, now_ms: int) -> list[Ban]:
    """The video's bans that have not ended (moderation.decision.Ban.active's rule), newest first."""
    stmt = (
        select(Ban)
        .where(Ban.video_id == video_id, or_(Ban.until_ms.is_(None), Ban.until_ms > now_ms))
        .order_by(Ban.created_ts.desc(), Ban.user_id)
    )
    return list(db.session.scalars(stmt))
