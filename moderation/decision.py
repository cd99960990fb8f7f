"""The one moderation decision: what happens to a submitted comment. Pure: no IO, no clock.

The web app (at the door, and to explain a refusal) and the bridge (for every comment it
numbers) ask `decide` with the facts they read; neither decides on its own. The facts are
plain frozen data: the video's switches (`VideoRules`) and the comment (`Post`: its author's
role, the parent it names, the author's ban, the blocked term found in its text by
`moderation.screen.screen_text`).

In order, the first that applies:

1. the video has ended: REJECT `video_ended`, whoever posts (moderators included);
2. the chat is closed: REJECT `chat_closed`, except for moderators and admins;
3. the text holds a blocked term: REJECT `blocked_term`, whoever wrote it;
4. a reply whose parent is not an approved top-level comment of the same video: REJECT
   `unknown_parent` (no such comment in this video), `parent_unavailable` (not approved),
   `reply_to_reply` (the parent is itself a reply);
5. the author is banned from the video (no end, or an end after `now_ms`): REJECT `banned`;
6. the video holds comments for review: HOLD `hold_for_review`, except moderators' comments;
7. APPROVE.

The web app's one-statement insert (webapp/posting.py) checks rules 1, 2, 4 and 5 in SQL;
that SQL is this rule written for the database, and tests/app/test_moderation_decision_sql.py
runs one table of cases through both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from livecomments.models import ChatState, CommentStatus, VideoStatus
from moderation.terms import Match


class Verdict(StrEnum):
    APPROVE = "approve"
    HOLD = "hold"
    REJECT = "reject"


class Reason(StrEnum):
    """Why a comment was not approved: the value stored in `comments.reason`.

    At the door a refusal is answered with the contract's status and error code
    (webapp/comments.py): `video_ended` and `chat_closed` are 403 `chat_closed`, `banned` is
    403 `banned`, `blocked_term` is 422 `rejected`, `unknown_parent` and `parent_unavailable`
    are 404 `not_found`, `reply_to_reply` is 400 `invalid`."""

    VIDEO_ENDED = "video_ended"
    CHAT_CLOSED = "chat_closed"
    BLOCKED_TERM = "blocked_term"
    UNKNOWN_PARENT = "unknown_parent"
    PARENT_UNAVAILABLE = "parent_unavailable"
    REPLY_TO_REPLY = "reply_to_reply"
    BANNED = "banned"
    HOLD_FOR_REVIEW = "hold_for_review"


@dataclass(frozen=True, slots=True)
class VideoRules:
    """The video's switches."""

    video_status: str  # live / ended
    chat: str  # open / closed
    hold_for_review: bool = False


@dataclass(frozen=True, slots=True)
class Parent:
    """The comment a reply names, as stored."""

    video_id: str
    parent_id: str | None  # not None: it is itself a reply
    status: str  # a CommentStatus value


@dataclass(frozen=True, slots=True)
class Ban:
    """The author's ban on the video."""

    until_ms: int | None  # None: permanent

    def active(self, now_ms: int) -> bool:
        return self.until_ms is None or self.until_ms > now_ms


@dataclass(frozen=True, slots=True)
class Post:
    """What is known of the comment being decided."""

    video_id: str = ""
    by_moderator: bool = False  # the author is a moderator or an admin
    parent_id: str | None = None  # None: a top-level comment
    parent: Parent | None = None  # the comment parent_id names, None if there is none
    ban: Ban | None = None  # the author's ban on this video, if any
    blocked: Match | None = None  # the blocked term screen_text found in the text, if any


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: Reason | None = None
    # For a blocked term: which term, and where in the text. Not part of equality, so
    # Decision(Verdict.REJECT, Reason.BLOCKED_TERM) compares equal whatever the term was.
    match: Match | None = field(default=None, compare=False)


APPROVED = Decision(Verdict.APPROVE)
_REJECTED = {reason: Decision(Verdict.REJECT, reason) for reason in Reason}
_HELD = Decision(Verdict.HOLD, Reason.HOLD_FOR_REVIEW)
_TOP_LEVEL = Post()


def chat_refusal(video: VideoRules, by_moderator: bool) -> Reason | None:
    """Rules 1 and 2: whether the video takes comments from this author at all."""
    if video.video_status != VideoStatus.LIVE:
        return Reason.VIDEO_ENDED
    if video.chat != ChatState.OPEN and not by_moderator:
        return Reason.CHAT_CLOSED
    return None


def parent_refusal(post: Post) -> Reason | None:
    """Rule 4: a reply's parent must be an approved top-level comment of the same video."""
    if post.parent_id is None:
        return None
    parent = post.parent
    if parent is None or parent.video_id != post.video_id:
        return Reason.UNKNOWN_PARENT
    if parent.status != CommentStatus.APPROVED:
        return Reason.PARENT_UNAVAILABLE
    if parent.parent_id is not None:
        return Reason.REPLY_TO_REPLY
    return None


def decide(video: VideoRules, post: Post = _TOP_LEVEL, *, now_ms: int = 0) -> Decision:
    """The verdict on one comment (the order is the module's docstring's)."""
    refused = chat_refusal(video, post.by_moderator)
    if refused is not None:
        return _REJECTED[refused]
    if post.blocked is not None:
        return Decision(Verdict.REJECT, Reason.BLOCKED_TERM, match=post.blocked)
    refused = parent_refusal(post)
    if refused is not None:
        return _REJECTED[refused]
    if post.ban is not None and post.ban.active(now_ms):
        return _REJECTED[Reason.BANNED]
    if video.hold_for_review and not post.by_moderator:
        return _HELD
    return APPROVED
