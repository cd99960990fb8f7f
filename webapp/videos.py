"""Videos: create (admin), list, read with the chat state, rename and end (admin)."""

from __future__ import annotations

from flask import Blueprint, Response
from ulid import ULID

from infra.audience import audience_of
from livecomments.models import ChatState, Comment, CommentStatus, Video, VideoStatus
from livecomments.validation import FieldError, check_id, clean_text
from webapp import auth, store, video_store
from webapp.apidoc import operation
from webapp.errors import ApiError, bad_request, not_found
from webapp.extensions import app_state, db
from webapp.jsonio import field_error, json_response, parse_body, path_id, query_args
from webapp.render import video_json
from webapp.schemas import MAX_TITLE_CODE_POINTS, NewVideo, VideoList, VideoOut, VideoPatch, VideosQuery

bp = Blueprint("videos", __name__)


def _title(raw: str) -> str:
    try:
        return clean_text("title", raw, MAX_TITLE_CODE_POINTS)
    except FieldError as exc:
        raise field_error(exc) from exc


def _new_video(body: NewVideo, now_ms: int) -> Video:
    try:
        video_id = check_id("id", body.id) if body.id is not None else str(ULID())
    except FieldError as exc:
        raise field_error(exc) from exc
    title = _title(body.title)
    if body.started_ts is not None and body.started_ts > now_ms:
        raise bad_request("started_ts: must not be in the future")
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
        started_ts=now_ms if body.started_ts is None else body.started_ts,
        ended_ts=None,
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
    """Admins only. The id is generated (a ULID) unless given; an existing id is a 409.
    `started_ts` (not in the future) is when the video's time starts; absent, it is now."""
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


@bp.get("/api/videos")
@operation("The videos, newest first", query=VideosQuery, responses={200: VideoList, 400: None}, tags=["videos"])
def list_videos() -> Response:
    """Newest first (by started_ts, then id); ``status`` keeps the live or the ended ones;
    ``before`` (a video id, the last of the previous page) gives the next page."""
    q = query_args(VideosQuery, frozenset({"limit"}))
    try:
        videos = video_store.list_videos(video_store.VideoPage(q.limit, q.status, q.before))
    except video_store.UnknownCursor as exc:
        raise bad_request(f"before: no video {q.before!r}") from exc
    pinned = video_store.pinned_of(videos)
    audiences = video_store.audiences_of([v.id for v in videos])
    return json_response(
        {"videos": [video_json(v, pinned.get(v.id), audiences.get(v.id, (0, 0))) for v in videos]}
    )


@bp.patch("/api/videos/<video_id>")
@operation(
    "Rename or end a video",
    request=VideoPatch,
    responses={200: VideoOut, 400: None, 401: None, 403: None, 404: None, 409: None, 413: None},
    auth="required",
    tags=["videos"],
)
def patch_video(video_id: str) -> Response:
    """Admins only. ``"status": "ended"`` ends the video for good: nobody may post any more
    (moderators included), the retained ``state`` says ``ended`` and ``closed``, every comment
    stays readable. Ending it again, or ``"live"`` once it has ended, is a 409 (nothing changes)."""
    who = auth.require_admin()
    video = store.get_video(path_id("video_id", video_id))
    if video is None:
        raise not_found(f"no video {video_id!r}")
    patch = parse_body(VideoPatch)
    title = None if patch.title is None else _title(patch.title)
    if title is None and patch.status is None:
        raise bad_request("nothing to change: give title or status")
    if patch.status == VideoStatus.LIVE.value and video.status == VideoStatus.ENDED.value:
        raise _final()
    end = patch.status == VideoStatus.ENDED.value
    try:
        video = video_store.change_video(video.id, title, end, who.user_id, app_state().clock())
    except video_store.AlreadyEnded as exc:
        raise _final() from exc
    if end:
        app_state().rules.forget(video.id)  # this process's posts see it at once; the insert checks it anyway
        app_state().publisher.nudge(video.id, "state")  # the bridge republishes the retained state
    return json_response(video_json(video, _pinned(video), audience_of(db.session(), video.id)))


def _final() -> ApiError:
    return ApiError(409, "conflict", "the video has ended: ending is final")
