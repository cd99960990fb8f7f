"""The data model, declared once and shared by the bridge and Flask-SQLAlchemy.

The comments table is also the outbox: the web app writes a `pending` row before it
answers 202, and the bridge completes it (approve/hold/reject, `seq`). `live_events`
is the outbox of what goes out on `live/videos/{v}/comments`: a row is written in the
same transaction that assigns its `seq`, and marked published once the broker has it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import JSON


class Base(DeclarativeBase):
    pass


class CommentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    HELD = "held"
    REJECTED = "rejected"
    DELETED = "deleted"


class VideoStatus(StrEnum):
    LIVE = "live"
    ENDED = "ended"


class ChatState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class EventType(StrEnum):
    COMMENT = "comment"
    DELETE = "delete"
    PIN = "pin"
    UNPIN = "unpin"


def _creation_time(context: Any) -> int:
    """A video's started_ts when none is given: its created_ts."""
    return int(context.get_current_parameters()["created_ts"])


class Video(Base):
    __tablename__ = "videos"
    __table_args__ = (Index("ix_videos_started", "started_ts", "id"),)  # GET /api/videos, newest first

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=VideoStatus.LIVE)
    chat: Mapped[str] = mapped_column(String(16), default=ChatState.OPEN)
    slow_mode_s: Mapped[int] = mapped_column(Integer, default=0)
    hold_for_review: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    reports_to_hold: Mapped[int] = mapped_column(Integer, default=3)
    pinned_comment_id: Mapped[str | None] = mapped_column(String(26), nullable=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bumped by every settings change: the web app's post insert checks it against the rules it
    # screened with (webapp.posting), so a cached copy of the settings is never used stale.
    rules_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_ts: Mapped[int] = mapped_column(BigInteger)
    # The video's time starts here (ms): given at creation, else the creation time. A comment's
    # pos_ms is its ts minus this (0 if negative), computed once when it is recorded.
    started_ts: Mapped[int] = mapped_column(BigInteger, default=_creation_time, server_default="0")
    ended_ts: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # set once, when it ends


_APPROVED_ONLY = text(f"status = '{CommentStatus.APPROVED.value}'")


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("video_id", "seq", name="uq_comments_video_seq"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_comments_user_idem"),
        Index("ix_comments_status_ts", "status", "ts"),
        Index("ix_comments_parent", "parent_id", "seq"),
        # The replay query (webapp.replay): a video's approved comments by their place in its time.
        Index(
            "ix_comments_replay", "video_id", "pos_ms", "seq",
            sqlite_where=_APPROVED_ONLY, postgresql_where=_APPROVED_ONLY,
        ),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id"), index=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    parent_id: Mapped[str | None] = mapped_column(String(26), nullable=True)
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    ts: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=CommentStatus.PENDING)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    by_moderator: Mapped[bool] = mapped_column(Boolean, default=False)  # exempt from hold-for-review
    # ts - the video's started_ts, 0 if negative: where in the video it was made (livecomments.wire.pos_ms_of)
    pos_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class LiveEvent(Base):
    __tablename__ = "live_events"
    __table_args__ = (Index("ix_live_events_unpublished", "published", "video_id", "seq"),)

    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)  # the event as JSON, exactly as sent
    published: Mapped[bool] = mapped_column(Boolean, default=False)


class ReactionKind(StrEnum):
    LIKE = "like"
    LOVE = "love"
    HAHA = "haha"
    WOW = "wow"
    SAD = "sad"
    ANGRY = "angry"


class Ban(Base):
    """A user banned from a video's chat; `until_ms` None means permanent."""

    __tablename__ = "bans"

    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    until_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    by_user_id: Mapped[str] = mapped_column(String(64))
    created_ts: Mapped[int] = mapped_column(BigInteger)  # whether a ban is in force: moderation.decision.Ban


class Reaction(Base):
    """One reaction of a kind by a user on a comment."""

    __tablename__ = "reactions"
    __table_args__ = (Index("ix_reactions_comment", "comment_id", "kind"),)

    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger)


class VideoReaction(Base):
    """Running totals of a video's live (ephemeral) reactions, per kind."""

    __tablename__ = "video_reactions"

    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class Report(Base):
    """A user's report of a comment (one per user per comment)."""

    __tablename__ = "reports"

    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    ts: Mapped[int] = mapped_column(BigInteger)


class AuditEntry(Base):
    """Every moderation action: who, what, when, why."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_video_ts", "video_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    ts: Mapped[int] = mapped_column(BigInteger)


class BridgeLease(Base):
    """Which bridge instance holds one partition of the videos, and until when (infra.leases).

    `epoch` grows by one at every takeover; a bridge commits a batch only while the row still
    names it and its epoch. The unique constraint makes `epoch` a key column for PostgreSQL, so
    a takeover (which changes it) waits for the batch holding the row FOR KEY SHARE, while a
    renewal (which does not) never does."""

    __tablename__ = "bridge_leases"
    __table_args__ = (UniqueConstraint("partition_index", "epoch", name="uq_bridge_leases_epoch"),)

    partition_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    partition_count: Mapped[int] = mapped_column(Integer)  # the N the holder splits the videos into
    holder: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: released
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[int] = mapped_column(BigInteger, default=0)  # ms, on the database's clock
    connected: Mapped[bool] = mapped_column(Boolean, default=False)  # the holder's broker connection, when renewed


class BridgeInstance(Base):
    """A running bridge instance that shares the partitions (its heartbeat): how many there are
    decides each one's fair share."""

    __tablename__ = "bridge_instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partition_count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(BigInteger)  # ms, on the database's clock


class VideoAudience(Base):
    """Who is watching a video (docs/contract.md, "Who is watching"): `viewers` as the bridge's
    presence counter last found it, the highest so far, and when it was written (ms). One row per
    video that ever had an announcement, written at most every 5 s and only when it changed
    (bridge.presence), read for `state` and GET /api/videos/{v} (infra.audience). A table of its
    own, so that these writes never wait for, nor hold, a lock on the video's row."""

    __tablename__ = "video_audience"

    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id"), primary_key=True)
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0)
    updated_ts: Mapped[int] = mapped_column(BigInteger)
