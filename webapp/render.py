"""Rows as clients see them (the shapes come from the core's wire module)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from livecomments.models import Comment, CommentStatus, Video
from livecomments.tokens import Identity
from livecomments.wire import comment_view, video_state

VISIBLE_TO_ALL = frozenset({CommentStatus.APPROVED.value, CommentStatus.DELETED.value})


def comment_json(c: Comment, reactions: Mapping[str, int] | None = None) -> dict[str, Any]:
    return comment_view(c, reactions)


def comment_with_status(c: Comment, reactions: Mapping[str, int] | None = None) -> dict[str, Any]:
    view = comment_view(c, reactions)
    if c.status == CommentStatus.DELETED.value:
        view["text"] = ""
    view["status"] = c.status
    return view


def may_see(c: Comment, who: Identity | None) -> bool:
    """Approved and deleted comments are public; the rest only to the author and moderators."""
    if c.status in VISIBLE_TO_ALL:
        return True
    return who is not None and (who.user_id == c.user_id or who.is_moderator)


def video_json(v: Video, pinned: Comment | None, audience: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """`audience`: (viewers, peak_viewers), as infra.audience.audience_of reads them."""
    return {
        "id": v.id,
        "title": v.title,
        "created_ts": v.created_ts,
        "started_ts": v.started_ts,
        "ended_ts": v.ended_ts,
        "last_seq": v.last_seq,
        **video_state(
            v.status,
            v.chat,
            v.slow_mode_s,
            v.hold_for_review,
            viewers=audience[0],
            pinned=comment_view(pinned) if pinned is not None else None,
            peak_viewers=audience[1],
        ),
    }
