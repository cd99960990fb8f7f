"""Videos: create (admin) and read with the chat state."""

from __future__ import annotations

from flask import Blueprint, Response
from ulid import ULID

from infra.audience import audience_of
from livecomments.models import ChatState, Comment, CommentStatus, Video, VideoStatus
from livecomments.validation import FieldError, check_id, clean_text
from webapp import auth, store
from webapp.apidoc import operation
from webapp.errors import ApiError, not_found
from webapp.extensions import app_state, db
from webapp.jsonio import field_error, json_response, parse_body, path_id
from webapp.render import video_json
from webapp.schemas import MAX_TITLE_CODE_POINTS, NewVideo, VideoOut

bp = Blueprint("videos", __name__)


def _new_video(body: NewVideo, now_ms: int) -> Video:
    try:
        video_id = check_id("id", body.id) if body.id is not None else str(ULID())
        title = clean_text("title", body.title, MAX_TITLE_CODE_POINTS)
    except FieldError as exc:
        raise field_error(exc) from exc
    return Video(
        id=video_id,
        title=title,
        status=VideoStatus.LIVE.value,
        chat=ChatState.OPEN.value,
        slow_mode_s=0,
        hold_for_review=False,
        blocked_terms=[],
        reports_to_hold=3,
        pinned_comment_id=None,
        last_seq=0,
        created_ts=now_ms,
    )


def _pinned(video: Video) -> Comment | None:
    if video.pinned_comment_id is None:
        return None
    pinned = store.get_comment(video.pinned_comment_id)
    if pinned is None or pinned.status != CommentStatus.APPROVED.value:
        return None
    return pinned


@bp.post("/api/videos")
@operation(
    "Create a live video",
    request=NewVideo,
    responses={201: VideoOut, 400: None, 401: None, 403: None, 409: None, 413: None},
    auth="required",
    tags=["videos"],
)
def create_video() -> Response:
    """Admins only. The id is generated (a ULID) unless given; an existing id is a 409."""
    auth.require_admin()
    video = _new_video(parse_body(NewVideo), app_state().clock())
    try:
        store.add_video(video)
    except store.Conflict as exc:
        raise ApiError(409, "conflict", f"video {video.id!r} exists already") from exc
    app_state().publisher.nudge(video.id, "state", "events")  # retained state and an empty recent from the start
    return json_response(video_json(video, None), 201, {"Location": f"/api/videos/{video.id}"})


@bp.get("/api/videos/<video_id>")
@operation("A video with its chat state", responses={200: VideoOut, 400: None, 404: None}, tags=["videos"])
def get_video(video_id: str) -> Response:
    video = store.get_video(path_id("video_id", video_id))
    if video is None:
        raise not_found(f"no video {video_id!r}")
    return json_response(video_json(video, _pinned(video), audience_of(db.session, video.id)))
