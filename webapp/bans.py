"""The bans in force on a video, for its moderators: who, until when, why."""

from __future__ import annotations

from flask import Blueprint, Response

from livecomments.models import Ban
from webapp import auth, store, video_store
from webapp.apidoc import operation
from webapp.errors import not_found
from webapp.extensions import app_state
from webapp.jsonio import json_response, path_id
from webapp.schemas import BanList

bp = Blueprint("bans", __name__)


def ban_json(ban: Ban) -> dict[str, object]:
    return {"user_id": ban.user_id, "until_ms": ban.until_ms, "reason": ban.reason, "by": ban.by_user_id,
            "ts": ban.created_ts}


@bp.get("/api/videos/<video_id>/bans")
@operation("The bans in force, newest first", responses={200: BanList, 400: None, 401: None, 403: None, 404: None},
           auth="required", tags=["moderation"])
def list_bans(video_id: str) -> Response:
    """Moderators only. Permanent bans and timeouts that have not ended yet (an ended timeout is
    no ban), newest first: the user, ``until_ms`` (null: permanent), the reason, who set it, when."""
    auth.require_moderator()
    video = store.get_video(path_id("video_id", video_id))
    if video is None:
        raise not_found(f"no video {video_id!r}")
    bans = video_store.bans_in_force(video.id, app_state().clock())
    return json_response({"video_id": video.id, "bans": [ban_json(b) for b in bans]})
