"""One batch of submissions, decided and recorded in one transaction.

The database is the arbiter: a submission whose comment is no longer `pending` was
already handled (a redelivery, or the sweeper got there first) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from livecomments.models import Ban, Comment, CommentStatus, Video
from livecomments.outbox import append_event, lock_video
from livecomments.wire import Submission, comment_event, comment_view
from moderation.policy import Decision, Verdict, VideoRules, decide


class Outcome(StrEnum):
    APPROVED = "approved"
    HELD = "held"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    approved: list[Comment] = field(default_factory=list)  # in seq order per video
    reply_counts: dict[str, int] = field(default_factory=dict)  # parent id -> its reply count now

    @property
    def videos(self) -> set[str]:
        return {c.video_id for c in self.approved}


@dataclass
class Known:
    """The rows a batch touches, loaded with two queries instead of several per submission."""

    comments: dict[str, Comment]
    bans: dict[tuple[str, str], Ban]

    @classmethod
    def load(cls, session: Session, submissions: Sequence[Submission]) -> Known:
        ids = {s.id for s in submissions} | {s.parent_id for s in submissions if s.parent_id}
        comments = {c.id: c for c in session.scalars(select(Comment).where(Comment.id.in_(ids)))}
        videos = {s.video_id for s in submissions}
        users = {s.user_id for s in submissions}
        bans = session.scalars(select(Ban).where(Ban.video_id.in_(videos), Ban.user_id.in_(users)))
        return cls(comments, {(b.video_id, b.user_id): b for b in bans})


def _parent_problem(known: Known, row: Comment) -> str | None:
    if row.parent_id is None:
        return None
    parent = known.comments.get(row.parent_id)
    if parent is None or parent.video_id != row.video_id:
        return "unknown_parent"
    if parent.parent_id is not None:
        return "reply_to_reply"
    if parent.status not in (CommentStatus.APPROVED, CommentStatus.PENDING):
        return "parent_unavailable"
    return None


def _row_for(session: Session, known: Known, sub: Submission) -> Comment | None:
    """The pending row to complete: the web app's, or a new one for other producers.

    None when the comment was already handled (exactly-once effect).
    """
    row = known.comments.get(sub.id)
    if row is None:
        row = Comment(
            id=sub.id,
            video_id=sub.video_id,
            parent_id=sub.parent_id,
            user_id=sub.user_id,
            user_name=sub.user_name,
            text=sub.text,
            ts=sub.ts,
            status=CommentStatus.PENDING,
            reply_count=0,
            by_moderator=False,
        )
        session.add(row)
        known.comments[row.id] = row  # a second copy in this batch is a duplicate
        return row
    if row.status != CommentStatus.PENDING or row.video_id != sub.video_id:
        return None
    return row


def _decide(known: Known, video: Video, row: Comment, now_ms: int) -> Decision:
    problem = _parent_problem(known, row)
    if problem is not None:
        return Decision(Verdict.REJECT, problem)
    ban = known.bans.get((row.video_id, row.user_id))
    if ban is not None and ban.active(now_ms):
        return Decision(Verdict.REJECT, "banned")
    rules = VideoRules(video.status, video.chat, video.hold_for_review)
    return decide(rules, author_is_moderator=row.by_moderator, text=row.text, video_terms=video.blocked_terms or ())


def _approve(session: Session, known: Known, video: Video, row: Comment, result: BatchResult) -> None:
    row.status = CommentStatus.APPROVED
    if row.parent_id is not None:
        parent = known.comments.get(row.parent_id)
        if parent is not None:
            parent.reply_count += 1
            result.reply_counts[parent.id] = parent.reply_count

    def build(seq: int) -> dict[str, Any]:
        row.seq = seq
        return comment_event(seq, comment_view(row))

    append_event(session, video, build)


def apply_batch(session: Session, submissions: Sequence[Submission], now_ms: int) -> BatchResult:
    """Decide and record each submission in order; the caller commits."""
    result = BatchResult()
    known = Known.load(session, submissions)
    videos: dict[str, Video | None] = {}
    for sub in submissions:
        if sub.video_id not in videos:
            videos[sub.video_id] = lock_video(session, sub.video_id)
        video = videos[sub.video_id]
        if video is None:
            result.outcomes.append(Outcome.REJECTED)  # no such video: nothing to attach it to
            continue
        row = _row_for(session, known, sub)
        if row is None:
            result.outcomes.append(Outcome.DUPLICATE)
            continue
        decision = _decide(known, video, row, now_ms)
        row.reason = decision.reason
        if decision.verdict is Verdict.APPROVE:
            _approve(session, known, video, row, result)
            result.approved.append(row)
            result.outcomes.append(Outcome.APPROVED)
        elif decision.verdict is Verdict.HOLD:
            row.status = CommentStatus.HELD
            result.outcomes.append(Outcome.HELD)
        else:
            row.status = CommentStatus.REJECTED
            result.outcomes.append(Outcome.REJECTED)
    session.flush()
    return result
