"""Moderation and reaction writes: each one transaction that changes the rows, appends
the viewers' event to the outbox (with the video's next seq) and writes the audit entry.
The bridge publishes the events; the caller nudges it after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from infra.event_log import append_event, lock_video
from infra.reads import reaction_totals
from livecomments.models import AuditEntry, Ban, Comment, CommentStatus, Reaction, Report, Video
from livecomments.wire import comment_event, comment_view, delete_event, pin_event, unpin_event
from webapp.extensions import db

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Actor:
    user_id: str
    is_moderator: bool


def _audit(video_id: str, actor: str, action: str, now: int, target: str | None = None,
           reason: str | None = None, **detail: Any) -> None:
    db.session.add(
        AuditEntry(video_id=video_id, actor_id=actor, action=action, target=target, reason=reason,
                   detail=detail, ts=now)
    )


def _locked(video_id: str) -> Video:
    video = lock_video(db.session(), video_id)
    assert video is not None, "comments always belong to an existing video"
    return video


def _hide(video: Video, c: Comment) -> None:
    """Take an approved comment off viewers' screens: a delete event, counts and pin updated."""
    append_event(db.session(), video, lambda seq: delete_event(seq, c.id))
    if c.parent_id is not None:
        parent = db.session.get(Comment, c.parent_id)
        if parent is not None and parent.reply_count > 0:
            parent.reply_count -= 1
    if video.pinned_comment_id == c.id:
        video.pinned_comment_id = None
        append_event(db.session(), video, unpin_event)


def _show(video: Video, c: Comment) -> None:
    """Publish a comment as a normal comment event (first approval or a restore)."""
    c.status = CommentStatus.APPROVED.value
    if c.parent_id is not None:
        parent = db.session.get(Comment, c.parent_id)
        if parent is not None:
            parent.reply_count += 1

    def build(seq: int) -> dict[str, Any]:
        c.seq = seq
        return comment_event(seq, comment_view(c, reaction_counts([c.id]).get(c.id)))

    append_event(db.session(), video, build)


def commit() -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def delete_comment(c: Comment, actor: Actor, reason: str | None, now: int) -> None:
    video = _locked(c.video_id)
    db.session.refresh(c)
    if c.status == CommentStatus.DELETED.value:
        db.session.rollback()
        return
    was_public = c.status == CommentStatus.APPROVED.value
    c.status = CommentStatus.DELETED.value
    if was_public:
        _hide(video, c)
    action = "delete" if actor.user_id == c.user_id and not actor.is_moderator else "moderator_delete"
    _audit(c.video_id, actor.user_id, action, now, target=c.id, reason=reason, author=c.user_id)
    commit()


def report(c: Comment, reporter: str, reason: str | None, now: int) -> bool:
    """Record one report per user; hold the comment once it has enough. True if it was held now."""
    video = _locked(c.video_id)
    db.session.refresh(c)
    if db.session.get(Report, (c.id, reporter)) is not None:
        db.session.rollback()
        return False
    db.session.add(Report(comment_id=c.id, user_id=reporter, reason=reason, ts=now))
    db.session.flush()
    count = db.session.scalar(select(func.count()).select_from(Report).where(Report.comment_id == c.id)) or 0
    held = c.status == CommentStatus.APPROVED.value and count >= video.reports_to_hold
    if held:
        c.status = CommentStatus.HELD.value
        c.reason = "reported"
        _hide(video, c)
        _audit(c.video_id, SYSTEM_ACTOR, "hold", now, target=c.id, reason="reports", reports=count)
    _audit(c.video_id, reporter, "report", now, target=c.id, reason=reason)
    commit()
    return held


def review_queue(video_id: str, limit: int = 200) -> list[Comment]:
    stmt = (
        select(Comment)
        .where(Comment.video_id == video_id, Comment.status == CommentStatus.HELD.value)
        .order_by(Comment.ts, Comment.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def approve(c: Comment, moderator: str, now: int) -> None:
    video = _locked(c.video_id)
    db.session.refresh(c)
    if c.status == CommentStatus.APPROVED.value:
        db.session.rollback()
        return
    _show(video, c)
    c.reason = None
    _audit(c.video_id, moderator, "approve", now, target=c.id)
    commit()


def reject(c: Comment, moderator: str, reason: str | None, now: int) -> None:
    video = _locked(c.video_id)
    db.session.refresh(c)
    if c.status == CommentStatus.APPROVED.value:
        _hide(video, c)
    c.status = CommentStatus.REJECTED.value
    c.reason = reason or "moderator"
    _audit(c.video_id, moderator, "reject", now, target=c.id, reason=reason)
    commit()


def set_ban(video_id: str, user_id: str, until_ms: int | None, reason: str | None, moderator: str, now: int) -> None:
    _locked(video_id)
    ban = db.session.get(Ban, (video_id, user_id))
    if ban is None:
        db.session.add(Ban(video_id=video_id, user_id=user_id, until_ms=until_ms, reason=reason,
                           by_user_id=moderator, created_ts=now))
    else:
        ban.until_ms, ban.reason, ban.by_user_id, ban.created_ts = until_ms, reason, moderator, now
    action = "ban" if until_ms is None else "timeout"
    _audit(video_id, moderator, action, now, target=user_id, reason=reason, until_ms=until_ms)
    commit()


def lift_ban(video_id: str, user_id: str, moderator: str, now: int) -> None:
    _locked(video_id)
    db.session.execute(delete(Ban).where(Ban.video_id == video_id, Ban.user_id == user_id))
    _audit(video_id, moderator, "unban", now, target=user_id)
    commit()


def update_settings(video_id: str, changes: dict[str, Any], moderator: str, now: int) -> Video:
    video = _locked(video_id)
    for name, value in changes.items():
        setattr(video, name, value)
    video.rules_version += 1
    _audit(video_id, moderator, "settings", now, **changes)
    commit()
    return video


def pin(video: Video, c: Comment, moderator: str, now: int) -> None:
    video = _locked(video.id)
    video.pinned_comment_id = c.id
    append_event(db.session(), video, lambda seq: pin_event(seq, comment_view(c, reaction_counts([c.id]).get(c.id))))
    _audit(video.id, moderator, "pin", now, target=c.id)
    commit()


def unpin(video_id: str, moderator: str, now: int) -> None:
    video = _locked(video_id)
    if video.pinned_comment_id is None:
        db.session.rollback()
        return
    target = video.pinned_comment_id
    video.pinned_comment_id = None
    append_event(db.session(), video, unpin_event)
    _audit(video_id, moderator, "unpin", now, target=target)
    commit()


def audit_log(video_id: str, limit: int = 1000) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.video_id == video_id).order_by(AuditEntry.id).limit(limit)
    return list(db.session.scalars(stmt))


def reaction_counts(comment_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    return reaction_totals(db.session(), comment_ids)


def add_reaction(comment_id: str, user_id: str, kind: str, now: int) -> bool:
    """Idempotent: True if it was new."""
    if db.session.get(Reaction, (comment_id, user_id, kind)) is not None:
        db.session.rollback()
        return False
    db.session.add(Reaction(comment_id=comment_id, user_id=user_id, kind=kind, ts=now))
    try:
        commit()
    except IntegrityError:  # a concurrent PUT of the same reaction won
        return False
    return True


def remove_reaction(comment_id: str, user_id: str, kind: str) -> bool:
    result = db.session.execute(
        delete(Reaction).where(Reaction.comment_id == comment_id, Reaction.user_id == user_id, Reaction.kind == kind)
    )
    commit()
    return bool(getattr(result, "rowcount", 0))
