"""Reactions: one of each kind per user per comment (persisted), and live video
reactions (ephemeral, aggregated before they reach the broker)."""

from __future__ import annotations

from flask import Blueprint, Response

from livecomments.models import CommentStatus
from livecomments.validation import FieldError, check_ulid
from webapp import auth, moderation_store, store
from webapp.apidoc import operation
from webapp.errors import bad_request, not_found
from webapp.extensions import app_state
from webapp.jsonio import field_error, json_response, parse_body, path_id
from webapp.schemas import REACTION_KINDS, LiveReactionAccepted, LiveReactionBody

bp = Blueprint("reactions", __name__)


def _target(comment_id: str, kind: str) -> str:
    try:
        check_ulid("comment_id", comment_id)
    except FieldError as exc:
        raise field_error(exc) from exc
    if kind not in REACTION_KINDS:
        raise bad_request(f"kind: must be one of {', '.join(REACTION_KINDS)}")
    c = store.get_comment(comment_id)
    if c is None or c.status != CommentStatus.APPROVED.value:
        raise not_found(f"no comment {comment_id!r}")
    return c.video_id


@bp.put("/api/comments/<comment_id>/reactions/<kind>")
@operation("React to a comment (idempotent)", responses={204: None, 400: None, 401: None, 404: None},
           auth="required", tags=["reactions"])
def add(comment_id: str, kind: str) -> Response:
    who = auth.require_user()
    video_id = _target(comment_id, kind)
    if moderation_store.add_reaction(comment_id, who.user_id, kind, app_state().clock()):
        app_state().publisher.nudge(video_id, "reactions")
    return Response(status=204)


@bp.delete("/api/comments/<comment_id>/reactions/<kind>")
@operation("Take a reaction back (idempotent)", responses={204: None, 400: None, 401: None, 404: None},
           auth="required", tags=["reactions"])
def remove(comment_id: str, kind: str) -> Response:
    who = auth.require_user()
    video_id = _target(comment_id, kind)
    if moderation_store.remove_reaction(comment_id, who.user_id, kind):
        app_state().publisher.nudge(video_id, "reactions")
    return Response(status=204)


@bp.post("/api/videos/<video_id>/reactions")
@operation("A live reaction to the video (floating hearts): counted, not per-user unique",
           request=LiveReactionBody, responses={202: LiveReactionAccepted, 400: None, 401: None, 404: None},
           auth="required",
           tags=["reactions"])
def live(video_id: str) -> Response:
    auth.require_user()
    video_id = path_id("video_id", video_id)
    body = parse_body(LiveReactionBody)
    if store.get_video(video_id) is None:
        raise not_found(f"no video {video_id!r}")
    buffer = app_state().live_reactions
    assert buffer is not None
    buffer.add(video_id, body.kind)
    return json_response({"kind": body.kind, "status": "accepted"}, 202)
