"""Moderation over HTTP: delete, reports, the review queue, bans, settings, pins, audit.

Every change is one transaction (webapp.moderation_store) that also appends the viewers'
event to the outbox; after the commit the bridge is nudged to publish it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from livecomments.models import AuditEntry, Comment, CommentStatus, Video
from livecomments.validation import FieldError, check_ulid, clean_text
from webapp import auth, moderation_store, store
from webapp.apidoc import operation
from webapp.errors import bad_request, not_found
from webapp.extensions import app_state
from webapp.jsonio import field_error, json_response, parse_body, path_id, read_json_object, validate
from webapp.render import comment_with_status, may_see, video_json
from webapp.schemas import (
    MAX_REASON,
    MAX_TERM_CODE_POINTS,
    AuditLog,
    BanBody,
    CommentList,
    CommentWithStatus,
    PinBody,
    ReasonBody,
    Reported,
    SettingsPatch,
    VideoOut,
    VideoSettings,
)

bp = Blueprint("moderation", __name__)


def _no_content() -> Response:
    return Response(status=204)


def _nudge(video_id: str, *changed: str) -> None:
    state = app_state()
    if "events" in changed and state.recent_cache is not None:
        state.recent_cache.drop(video_id)  # the bridge writes it again with the change
    state.publisher.nudge(video_id, *changed)


def _reason(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return clean_text("reason", raw, MAX_REASON)
    except FieldError as exc:
        raise field_error(exc) from exc


def _optional_reason_body(model: type[ReasonBody] = ReasonBody) -> Any:
    """Bodies are optional for these actions: no body means no reason."""
    from flask import request

    if not request.get_data(cache=True):
        return model.model_validate({})
    return validate(model, read_json_object())


def _comment(comment_id: str) -> Comment:
    try:
        check_ulid("comment_id", comment_id)
    except FieldError as exc:
        raise field_error(exc) from exc
    c = store.get_comment(comment_id)
    if c is None:
        raise not_found(f"no comment {comment_id!r}")
    return c


def _video(video_id: str) -> Video:
    video = store.get_video(path_id("video_id", video_id))
    if video is None:
        raise not_found(f"no video {video_id!r}")
    return video


@bp.delete("/api/comments/<comment_id>")
@operation("Delete a comment (its author or a moderator)", request=ReasonBody, request_optional=True,
           responses={204: None, 400: None, 401: None, 403: None, 404: None}, auth="required", tags=["moderation"])
def delete_comment(comment_id: str) -> Response:
    who = auth.require_user()
    c = _comment(comment_id)
    if not may_see(c, who):
        raise not_found(f"no comment {comment_id!r}")
    if c.user_id != who.user_id and not who.is_moderator:
        raise auth.forbidden("only the author or a moderator may delete a comment")
    body = _optional_reason_body()
    actor = moderation_store.Actor(who.user_id, who.is_moderator)
    moderation_store.delete_comment(c, actor, _reason(body.reason), app_state().clock())
    _nudge(c.video_id, "events")
    return _no_content()


@bp.post("/api/comments/<comment_id>/reports")
@operation("Report a comment", request=ReasonBody, request_optional=True,
           responses={202: Reported, 400: None, 401: None, 404: None}, auth="required", tags=["moderation"])
def report_comment(comment_id: str) -> Response:
    """One report per user; after the video's `reports_to_hold` reports the comment is held
    (viewers get a `delete` event) until a moderator approves or rejects it."""
    who = auth.require_user()
    c = _comment(comment_id)
    if c.status != CommentStatus.APPROVED.value and not (c.status == CommentStatus.HELD.value and c.seq):
        raise not_found(f"no comment {comment_id!r}")
    body = _optional_reason_body()
    if moderation_store.report(c, who.user_id, _reason(body.reason), app_state().clock()):
        _nudge(c.video_id, "events")
    return json_response({"id": c.id, "status": "reported"}, 202)


@bp.get("/api/videos/<video_id>/review")
@operation("Held comments, oldest first", responses={200: CommentList, 400: None, 401: None, 403: None, 404: None},
           auth="required", tags=["moderation"])
def review_queue(video_id: str) -> Response:
    auth.require_moderator()
    video = _video(video_id)
    held = moderation_store.review_queue(video.id)
    counts = moderation_store.reaction_counts([c.id for c in held])
    return json_response({"video_id": video.id, "comments": [comment_with_status(c, counts.get(c.id)) for c in held]})


@bp.post("/api/comments/<comment_id>/approve")
@operation("Approve a held comment: it is published as a normal comment",
           responses={200: CommentWithStatus, 400: None, 401: None, 403: None, 404: None}, auth="required",
           tags=["moderation"])
def approve(comment_id: str) -> Response:
    who = auth.require_moderator()
    c = _comment(comment_id)
    if c.status == CommentStatus.DELETED.value:
        raise not_found(f"comment {comment_id!r} was deleted")
    moderation_store.approve(c, who.user_id, app_state().clock())
    _nudge(c.video_id, "events")
    return json_response(comment_with_status(c, moderation_store.reaction_counts([c.id]).get(c.id)))


@bp.post("/api/comments/<comment_id>/reject")
@operation("Reject a comment", request=ReasonBody, request_optional=True,
           responses={200: CommentWithStatus, 400: None, 401: None, 403: None, 404: None}, auth="required",
           tags=["moderation"])
def reject(comment_id: str) -> Response:
    who = auth.require_moderator()
    c = _comment(comment_id)
    if c.status == CommentStatus.DELETED.value:
        raise not_found(f"comment {comment_id!r} was deleted")
    body = _optional_reason_body()
    moderation_store.reject(c, who.user_id, _reason(body.reason), app_state().clock())
    _nudge(c.video_id, "events")
    return json_response(comment_with_status(c))


@bp.put("/api/videos/<video_id>/bans/<user_id>")
@operation("Ban or time out a user from this video's chat", request=BanBody, request_optional=True,
           responses={204: None, 400: None, 401: None, 403: None, 404: None}, auth="required", tags=["moderation"])
def ban(video_id: str, user_id: str) -> Response:
    who = auth.require_moderator()
    video = _video(video_id)
    user_id = path_id("user_id", user_id)
    body = _optional_reason_body(BanBody)
    now = app_state().clock()
    until = None if body.duration_s is None else now + body.duration_s * 1000
    moderation_store.set_ban(video.id, user_id, until, _reason(body.reason), who.user_id, now)
    return _no_content()


@bp.delete("/api/videos/<video_id>/bans/<user_id>")
@operation("Lift a ban", responses={204: None, 400: None, 401: None, 403: None, 404: None}, auth="required",
           tags=["moderation"])
def unban(video_id: str, user_id: str) -> Response:
    who = auth.require_moderator()
    video = _video(video_id)
    moderation_store.lift_ban(video.id, path_id("user_id", user_id), who.user_id, app_state().clock())
    return _no_content()


def _setting_changes(patch: SettingsPatch) -> dict[str, Any]:
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if "blocked_terms" in changes:
        try:
            terms = [clean_text("blocked_terms", t, MAX_TERM_CODE_POINTS) for t in changes["blocked_terms"]]
        except FieldError as exc:
            raise field_error(exc) from exc
        changes["blocked_terms"] = sorted(set(terms), key=terms.index)
    if not changes:
        raise bad_request(
            "nothing to change: give chat, slow_mode_s, hold_for_review, blocked_terms or reports_to_hold"
        )
    return changes


def _settings_json(video: Video) -> dict[str, Any]:
    return {
        "video_id": video.id,
        "chat": video.chat,
        "slow_mode_s": video.slow_mode_s,
        "hold_for_review": video.hold_for_review,
        "blocked_terms": list(video.blocked_terms or []),
        "reports_to_hold": video.reports_to_hold,
    }


@bp.get("/api/videos/<video_id>/settings")
@operation("The chat settings, for moderators (blocked terms included)",
           responses={200: VideoSettings, 400: None, 401: None, 403: None, 404: None}, auth="required",
           tags=["moderation"])
def read_settings(video_id: str) -> Response:
    auth.require_moderator()
    return json_response(_settings_json(_video(video_id)))


@bp.patch("/api/videos/<video_id>/settings")
@operation("Change the chat settings", request=SettingsPatch,
           responses={200: VideoOut, 400: None, 401: None, 403: None, 404: None}, auth="required", tags=["moderation"])
def settings(video_id: str) -> Response:
    who = auth.require_moderator()
    video = _video(video_id)
    changes = _setting_changes(parse_body(SettingsPatch))
    video = moderation_store.update_settings(video.id, changes, who.user_id, app_state().clock())
    app_state().rules.forget(video.id)
    _nudge(video.id, "state")
    pinned = store.get_comment(video.pinned_comment_id) if video.pinned_comment_id else None
    return json_response(video_json(video, pinned))


@bp.put("/api/videos/<video_id>/pin")
@operation("Pin a comment above the stream", request=PinBody,
           responses={204: None, 400: None, 401: None, 403: None, 404: None}, auth="required", tags=["moderation"])
def pin(video_id: str) -> Response:
    who = auth.require_moderator()
    video = _video(video_id)
    body = parse_body(PinBody)
    c = store.get_comment(body.comment_id)
    if c is None or c.video_id != video.id or c.status != CommentStatus.APPROVED.value:
        raise not_found(f"no approved comment {body.comment_id!r} in this video")
    moderation_store.pin(video, c, who.user_id, app_state().clock())
    _nudge(video.id, "events", "state")
    return _no_content()


@bp.delete("/api/videos/<video_id>/pin")
@operation("Unpin", responses={204: None, 400: None, 401: None, 403: None, 404: None}, auth="required",
           tags=["moderation"])
def unpin(video_id: str) -> Response:
    who = auth.require_moderator()
    video = _video(video_id)
    moderation_store.unpin(video.id, who.user_id, app_state().clock())
    _nudge(video.id, "events", "state")
    return _no_content()


def _entry(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "video_id": e.video_id, "actor": e.actor_id, "action": e.action, "target": e.target,
            "reason": e.reason, "detail": e.detail, "ts": e.ts}


@bp.get("/api/videos/<video_id>/audit")
@operation("Every moderation action: who, what, when, why (oldest first)",
           responses={200: AuditLog, 400: None, 401: None, 403: None, 404: None}, auth="required",
           tags=["moderation"])
def audit(video_id: str) -> Response:
    auth.require_moderator()
    video = _video(video_id)
    return json_response({"video_id": video.id, "entries": [_entry(e) for e in moderation_store.audit_log(video.id)]})
