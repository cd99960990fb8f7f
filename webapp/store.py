"""The web app's reads and its video inserts. The post path's one insert lives in
webapp.posting, moderation's writes (with their events and audit) in webapp.moderation_store;
views call these three, nothing else touches the session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from livecomments.models import Comment, CommentStatus, Video
from webapp.extensions import db


class Conflict(Exception):
    """A row with that key exists already."""


@dataclass(frozen=True)
class HistoryPage:
    video_id: str
    limit: int
    before_seq: int | None = None
    after_seq: int | None = None
    parent_id: str | None = None


def ping() -> None:
    db.session.execute(text("SELECT 1")).scalar_one()
    db.session.rollback()


def get_video(video_id: str) -> Video | None:
    return db.session.get(Video, video_id)


def add_video(video: Video) -> Video:
    """Insert and commit; Conflict if the id is taken."""
    if db.session.get(Video, video.id) is not None:
        raise Conflict(video.id)
    db.session.add(video)
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(video.id) from exc
    return video


def get_comment(comment_id: str) -> Comment | None:
    return db.session.get(Comment, comment_id)


def find_by_idempotency_key(user_id: str, key: str) -> Comment | None:
    stmt = select(Comment).where(Comment.user_id == user_id, Comment.idempotency_key == key)
    return db.session.scalars(stmt).first()


def history(page: HistoryPage) -> list[Comment]:
    """Approved, numbered comments: newest first, or oldest first after a cursor."""
    stmt = select(Comment).where(
        Comment.video_id == page.video_id,
        Comment.status == CommentStatus.APPROVED.value,
        Comment.seq.is_not(None),
    )
    if page.parent_id is not None:
        stmt = stmt.where(Comment.parent_id == page.parent_id)
    if page.before_seq is not None:
        stmt = stmt.where(Comment.seq < page.before_seq)
    if page.after_seq is not None:
        stmt = stmt.where(Comment.seq > page.after_seq).order_by(Comment.seq.asc())
    else:
        stmt = stmt.order_by(Comment.seq.desc())
    return list(db.session.scalars(stmt.limit(page.limit)))
