"""Comments: post (signed in; recorded, then handed to the bridge), history, one comment."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, request
from ulid import ULID

from livecomments.models import ChatState, Comment, CommentStatus, Video, VideoStatus
from livecomments.tokens import Identity
from livecomments.validation import FieldError, check_ulid, clean_text
from livecomments.wire import Submission
from moderation.policy import screen_text
from moderation.ratelimit import Limits
from webapp import auth, moderation_store, store
from webapp.apidoc import Header, operation
from webapp.errors import UNAVAILABLE_ERRORS, ApiError, bad_request, not_found, unavailable
from webapp.extensions import app_state
from webapp.jsonio import field_error, json_response, parse_body, path_id, query_args
from webapp.render import comment_json, comment_with_status, may_see
from webapp.schemas import Accepted, CommentList, CommentWithStatus, HistoryQuery, NewComment

log = logging.getLogger("livecomments.webapp.comments")

bp = Blueprint("comments", __name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class Draft:
    """A validated comment post, before it is recorded."""

    video_id: str
    user_id: str
    user_name: str
    text: str
    parent_id: str | None
    idempotency_key: str | None
    by_moderator: bool = False


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise bad_request(f"{IDEMPOTENCY_HEADER}: must be 1-{MAX_IDEMPOTENCY_KEY} printable characters")
    return key


def _draft(who: Identity, video_id: str, body: NewComment) -> Draft:
    try:
        text = clean_text("text", body.text)
        parent_id = None if body.parent_id is None else check_ulid("parent_id", body.parent_id)
    except FieldError as exc:
        raise field_error(exc) from exc
    return Draft(
        video_id, who.user_id, auth.display_name(who), text, parent_id, _idempotency_key(), who.is_moderator
    )


def _earlier(draft: Draft) -> Comment | None:
    """The comment an earlier try with the same Idempotency-Key recorded, if any."""
    if draft.idempotency_key is None:
        return None
    return store.find_by_idempotency_key(draft.user_id, draft.idempotency_key)


def _replay(row: Comment, draft: Draft) -> Response:
    """Answer a retry with the id first given; nothing new is recorded or published."""
    if (row.video_id, row.text, row.parent_id) != (draft.video_id, draft.text, draft.parent_id):
        log.info(
            "%s reused by %s for a different body; answering with comment %s", IDEMPOTENCY_HEADER, draft.user_id, row.id
        )
    app_state().metrics.comments_replayed.inc()
    return _accepted(row.id)


def _check_video(video: Video | None, video_id: str) -> Video:
    if video is None:
        raise not_found(f"no video {video_id!r}")
    if video.status == VideoStatus.ENDED.value or video.chat == ChatState.CLOSED.value:
        raise ApiError(403, "chat_closed", "the chat of this video is closed")
    return video


def _check_parent(draft: Draft) -> None:
    if draft.parent_id is None:
        return
    parent = store.get_comment(draft.parent_id)
    if parent is None or parent.video_id != draft.video_id or parent.status != CommentStatus.APPROVED.value:
        raise not_found(f"no comment {draft.parent_id!r} to reply to in this video")
    if parent.parent_id is not None:
        raise bad_request("parent_id: replies cannot be replied to (threads are one level deep)")


def _gate(who: Identity, video: Video, draft: Draft) -> None:
    """The door's moderation: bans (403), blocked terms (422), rate limit and slow mode (429).
    Moderators and admins are exempt from the limits."""
    now = app_state().clock()
    ban = moderation_store.active_ban(video.id, who.user_id, now)
    if ban is not None:
        until = "permanently" if ban.until_ms is None else f"until {ban.until_ms} (ms since the epoch)"
        raise ApiError(403, "banned", f"you are banned from this chat {until}")
    screened = screen_text(draft.text, video.blocked_terms or [])
    if screened is not None:
        raise ApiError(422, "rejected", "the comment was rejected by moderation: it contains a blocked term")
    if who.is_moderator:
        return
    settings = app_state().settings
    limits = Limits(settings.rate_limit_count, settings.rate_limit_window_s * 1000, video.slow_mode_s * 1000)
    verdict = app_state().limiter.hit(f"{video.id}:{who.user_id}", limits, now)
    if not verdict.allowed:
        what = "slow mode" if video.slow_mode_s and verdict.retry_after_ms <= video.slow_mode_s * 1000 else "rate limit"
        raise ApiError(
            429,
            "rate_limited",
            f"{what}: wait {verdict.retry_after_s} s before posting again",
            {"Retry-After": str(verdict.retry_after_s)},
        )


def _record(draft: Draft, now_ms: int) -> tuple[Comment, bool]:
    row = Comment(
        id=str(ULID()),
        video_id=draft.video_id,
        seq=None,
        parent_id=draft.parent_id,
        user_id=draft.user_id,
        user_name=draft.user_name,
        text=draft.text,
        ts=now_ms,
        status=CommentStatus.PENDING.value,
        reply_count=0,
        idempotency_key=draft.idempotency_key,
        by_moderator=draft.by_moderator,
    )
    try:
        return store.add_comment(row)
    except UNAVAILABLE_ERRORS as exc:
        log.warning("could not record a comment: %s", exc)
        raise unavailable(f"the comment could not be recorded; retry with the same {IDEMPOTENCY_HEADER}") from exc


def _hand_to_bridge(row: Comment) -> None:
    """Publish after COMMIT. On failure the row stays pending and the bridge's sweeper re-drives it."""
    state = app_state()
    sub = Submission.of(row)
    try:
        state.publisher.publish_submission(sub)
    except Exception as exc:  # noqa: BLE001 - the row is durable; never fail the request here
        state.metrics.publish_failures.inc()
        log.warning("comment %s recorded but not published now (%s); the sweeper will re-drive it", row.id, exc)


def _accepted(comment_id: str) -> Response:
    return json_response({"id": comment_id, "status": "accepted"}, 202)


@bp.post("/api/videos/<video_id>/comments")
@operation(
    "Post a comment or a reply",
    request=NewComment,
    responses={202: Accepted, 400: None, 401: None, 403: None, 404: None, 413: None, 422: None, 429: None, 503: None},
    auth="required",
    headers=[Header(IDEMPOTENCY_HEADER, "makes retries safe: the same key returns the same id", MAX_IDEMPOTENCY_KEY)],
    tags=["comments"],
)
def post_comment(video_id: str) -> Response:
    """Recorded as pending before the 202; the bridge moderates, numbers and delivers it."""
    who = auth.require_user()
    draft = _draft(who, path_id("video_id", video_id), parse_body(NewComment))
    earlier = _earlier(draft)
    if earlier is not None:
        return _replay(earlier, draft)
    video = _check_video(store.get_video(draft.video_id), draft.video_id)
    _check_parent(draft)
    _gate(who, video, draft)
    row, created = _record(draft, app_state().clock())
    if not created:  # a concurrent try with the same key committed first
        return _replay(row, draft)
    app_state().metrics.comments_accepted.inc()
    _hand_to_bridge(row)
    return _accepted(row.id)


@bp.get("/api/videos/<video_id>/comments")
@operation(
    "Comment history",
    query=HistoryQuery,
    responses={200: CommentList, 400: None, 404: None},
    tags=["comments"],
)
def list_comments(video_id: str) -> Response:
    """Approved, not deleted comments (top-level and replies): newest first, or oldest first
    after ``after_seq`` (to repair a gap in the live stream)."""
    video_id = path_id("video_id", video_id)
    q = query_args(HistoryQuery, frozenset({"limit", "before_seq", "after_seq"}))
    if store.get_video(video_id) is None:
        raise not_found(f"no video {video_id!r}")
    cached = _from_cache(video_id, q) if (q.before_seq, q.after_seq, q.parent_id) == (None, None, None) else None
    if cached is not None:
        return json_response({"video_id": video_id, "comments": cached})
    page = store.HistoryPage(video_id, q.limit, q.before_seq, q.after_seq, q.parent_id)
    rows = store.history(page)
    counts = moderation_store.reaction_counts([c.id for c in rows])
    comments = [comment_json(c, counts.get(c.id)) for c in rows]
    return json_response({"video_id": video_id, "comments": comments})


def _from_cache(video_id: str, q: HistoryQuery) -> list[dict[str, Any]] | None:
    """The newest comments from the Redis copy of `recent`, when it holds enough of them.
    Reaction counts are always read fresh."""
    state = app_state()
    doc = state.recent_cache.get(video_id) if state.recent_cache is not None else None
    if doc is None or (len(doc["comments"]) < q.limit and not doc["complete"]):
        state.metrics.history_cache.labels("miss").inc()
        return None
    state.metrics.history_cache.labels("hit").inc()
    newest = list(reversed(doc["comments"]))[: q.limit]
    counts = moderation_store.reaction_counts([c["id"] for c in newest])
    return [{**c, "reactions": counts.get(c["id"], {})} for c in newest]


@bp.get("/api/comments/<comment_id>")
@operation(
    "One comment with its status",
    responses={200: CommentWithStatus, 400: None, 401: None, 404: None},
    auth="optional",
    tags=["comments"],
)
def get_comment(comment_id: str) -> Response:
    """Approved and deleted comments (text blanked) to anyone; pending, held and rejected
    ones only to their author and to moderators."""
    try:
        comment_id = check_ulid("comment_id", comment_id)
    except FieldError as exc:
        raise field_error(exc) from exc
    who = auth.optional_user()
    row = store.get_comment(comment_id)
    if row is None or not may_see(row, who):
        raise not_found(f"no comment {comment_id!r}")
    return json_response(comment_with_status(row, moderation_store.reaction_counts([row.id]).get(row.id)))
