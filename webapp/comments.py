"""Comments: post (signed in; recorded, then handed to the bridge), history, one comment."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, request
from ulid import ULID

from livecomments.models import Comment
from livecomments.tokens import Identity
from livecomments.validation import FieldError, check_ulid, clean_text
from moderation.decision import Post, Reason, Verdict, decide
from moderation.ratelimit import Limits
from moderation.screen import screen_text
from webapp import auth, moderation_store, store
from webapp.apidoc import Header, operation
from webapp.errors import UNAVAILABLE_ERRORS, ApiError, bad_request, not_found, unavailable
from webapp.extensions import app_state, db
from webapp.group_commit import Overloaded
from webapp.jsonio import field_error, json_response, parse_body, path_id, query_args
from webapp.posting import PendingComment, PostingRules, read_facts
from webapp.render import comment_json, comment_with_status, may_see
from webapp.schemas import Accepted, CommentList, CommentWithStatus, HistoryQuery, NewComment, header_pattern

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


def _replay_if_retry(draft: Draft) -> Response | None:
    """The answer to a retry of a recorded post (its first id), or None; the read's transaction
    ends here (on SQLite it would hold the write lock until the request ends)."""
    try:
        earlier = _earlier(draft)
        return None if earlier is None else _replay(earlier, draft)
    except UNAVAILABLE_ERRORS as exc:
        raise _unrecorded(exc) from exc
    finally:
        db.session.rollback()


def _replay(row: Comment, draft: Draft) -> Response:
    """Answer a retry with the id first given; nothing new is recorded or published."""
    if (row.video_id, row.text, row.parent_id) != (draft.video_id, draft.text, draft.parent_id):
        log.info(
            "%s reused by %s for a different body; answering with comment %s", IDEMPOTENCY_HEADER, draft.user_id, row.id
        )
    app_state().metrics.comments_replayed.inc()
    return _accepted(row.id)


def _post(draft: Draft) -> Post:
    """The draft as moderation.decision sees it, before the rows it names are read."""
    return Post(video_id=draft.video_id, by_moderator=draft.by_moderator, parent_id=draft.parent_id)


def _refused(reason: Reason | None, draft: Draft, post: Post) -> ApiError:
    """The contract's answer to a comment moderation.decision.decide rejects for `reason`."""
    if reason in (Reason.VIDEO_ENDED, Reason.CHAT_CLOSED):
        return ApiError(403, "chat_closed", "the chat of this video is closed")
    if reason is Reason.BLOCKED_TERM:
        return ApiError(422, "rejected", "the comment was rejected by moderation: it contains a blocked term")
    if reason in (Reason.UNKNOWN_PARENT, Reason.PARENT_UNAVAILABLE):
        return not_found(f"no comment {draft.parent_id!r} to reply to in this video")
    if reason is Reason.REPLY_TO_REPLY:
        return bad_request("parent_id: replies cannot be replied to (threads are one level deep)")
    if reason is Reason.BANNED and post.ban is not None:
        until = "permanently" if post.ban.until_ms is None else f"until {post.ban.until_ms} (ms since the epoch)"
        return ApiError(403, "banned", f"you are banned from this chat {until}")
    raise ValueError(f"not a reason to refuse a post: {reason!r}")


def _rules(draft: Draft, fresh: bool = False) -> PostingRules:
    """The video's screening rules (cached per process unless ``fresh``); 404 for an unknown video."""
    if fresh:
        app_state().rules.forget(draft.video_id)
    try:
        rules = app_state().rules.get(db.engine, draft.video_id)
    except UNAVAILABLE_ERRORS as exc:
        raise _unrecorded(exc) from exc
    if rules is None:
        raise not_found(f"no video {draft.video_id!r}")
    return rules


def _screen(rules: PostingRules, draft: Draft) -> None:
    """Blocked terms at the door (422): the video's own and the library's."""
    found = screen_text(draft.text, rules.blocked_terms)
    if found is not None:
        raise _refused(found.reason, draft, _post(draft))


def _limit(who: Identity, rules: PostingRules, draft: Draft, now: int) -> None:
    """Rate limit and slow mode (429); moderators and admins are exempt."""
    if who.is_moderator:
        return
    settings = app_state().settings
    limits = Limits(settings.rate_limit_count, settings.rate_limit_window_s * 1000, rules.slow_mode_s * 1000)
    verdict = app_state().limiter.hit(f"{draft.video_id}:{who.user_id}", limits, now)
    if not verdict.allowed:
        slow = rules.slow_mode_s and verdict.retry_after_ms <= rules.slow_mode_s * 1000
        what = "slow mode" if slow else "rate limit"
        raise ApiError(
            429,
            "rate_limited",
            f"{what}: wait {verdict.retry_after_s} s before posting again",
            {"Retry-After": str(verdict.retry_after_s)},
        )


def _pending(draft: Draft, rules: PostingRules, now_ms: int) -> PendingComment:
    return PendingComment(
        id=str(ULID()),
        video_id=draft.video_id,
        parent_id=draft.parent_id,
        user_id=draft.user_id,
        user_name=draft.user_name,
        text=draft.text,
        ts=now_ms,
        idempotency_key=draft.idempotency_key,
        by_moderator=draft.by_moderator,
        rules_version=rules.version,
    )


def _unrecorded(exc: Exception) -> ApiError:
    log.warning("could not record a comment: %s", exc)
    return unavailable(f"the comment could not be recorded; retry with the same {IDEMPOTENCY_HEADER}")


_NOT_RECORDED: tuple[type[Exception], ...] = (*UNAVAILABLE_ERRORS, Overloaded)


def _record(row: PendingComment) -> bool:
    """Recorded and committed (in a transaction shared with concurrent posts) or not, and why."""
    try:
        return app_state().posts.run(row)
    except _NOT_RECORDED as exc:
        raise _unrecorded(exc) from exc


def _refusal(draft: Draft, now: int) -> Response | None:
    """Why the insert recorded nothing: a retry (answered with the first id), or the rule it broke,
    as moderation.decision.decide says over the committed rows (raised). None when every rule
    passes now: the rules the door used were out of date. Only refused posts read these rows;
    an accepted post never does."""
    replayed = _replay_if_retry(draft)
    if replayed is not None:
        return replayed
    try:
        facts = read_facts(db.engine, _post(draft), draft.user_id)
    except UNAVAILABLE_ERRORS as exc:
        raise _unrecorded(exc) from exc
    if facts is None:
        raise not_found(f"no video {draft.video_id!r}")
    video, post = facts
    decision = decide(video, post, now_ms=now)
    if decision.verdict is Verdict.REJECT:
        raise _refused(decision.reason, draft, post)
    return None


def _hand_to_bridge(row: PendingComment) -> None:
    """Publish after COMMIT. On failure the row stays pending and the bridge's sweeper re-drives it."""
    state = app_state()
    try:
        state.publisher.publish_submission(row.submission())
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
    headers=[
        Header(
            IDEMPOTENCY_HEADER,
            "makes retries safe: the same key returns the same id",
            MAX_IDEMPOTENCY_KEY,
            header_pattern(MAX_IDEMPOTENCY_KEY),
        )
    ],
    tags=["comments"],
)
def post_comment(video_id: str) -> Response:
    """Recorded as pending before the 202; the bridge moderates, numbers and delivers it.

    The accepted path: the video's cached rules (an ended video refuses everyone, a closed chat
    all but moderators: moderation.decision.chat_refusal), the blocked terms, the rate limit,
    then one INSERT that checks the video again with the parent, the ban and the
    Idempotency-Key (webapp.posting). A refusal is explained by moderation.decision.decide."""
    who = auth.require_user()
    draft = _draft(who, path_id("video_id", video_id), parse_body(NewComment))
    now = app_state().clock()
    rules = _rules(draft)
    if rules.refusal(draft.by_moderator) is not None:
        rules = _rules(draft, fresh=True)
    if rules.refusal(draft.by_moderator) is not None:
        refused = _refusal(draft, now)
        if refused is None:
            raise _rules_changing()
        return refused
    _screen(rules, draft)
    try:
        _limit(who, rules, draft, now)
    except ApiError:
        replayed = _replay_if_retry(draft)  # a retry of a recorded post is answered, not limited
        if replayed is not None:
            return replayed
        raise
    for _attempt in range(2):
        row = _pending(draft, rules, now)
        if _record(row):
            app_state().metrics.comments_accepted.inc()
            _hand_to_bridge(row)
            return _accepted(row.id)
        refused = _refusal(draft, now)
        if refused is not None:
            return refused
        rules = _rules(draft, fresh=True)  # the settings changed since the door read them: screen anew
        if rules.refusal(draft.by_moderator) is not None:
            break
        _screen(rules, draft)
    raise _rules_changing()


def _rules_changing() -> ApiError:
    """The video's rules changed under this post, twice or back and forth: nothing was recorded."""
    return unavailable(f"the chat's settings are changing; retry with the same {IDEMPOTENCY_HEADER}")


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
