"""The replay: a window of a video's time, its comments by pos_ms (docs/contract.md, "Video time,
and replay").

A window holds at most MAX_REPLAY_COMMENTS comments; beyond, the response is `truncated` and ends
exactly at that count, possibly among comments that share a pos_ms. The next window starts at the
last pos_ms received: with `after_seq` = the last seq received it continues exactly (nothing
lost, nothing twice); without it (the contract's bare rule) the comments at that pos_ms come
again, and a client drops them by id, as it drops a duplicate on the live stream.

The ETag is a digest of the body: it changes exactly when the answer does (a comment of the
window deleted, held, approved again, its reactions), and for nothing else. An ended video's
answer may be kept a minute by anyone (`public, max-age=60`); a live video's may be stored but
is revalidated every time (`public, no-cache`), since comments still arrive in it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from flask import Blueprint, Response, request

from livecomments.models import VideoStatus
from webapp import store, video_store
from webapp.apidoc import operation
from webapp.errors import bad_request, not_found
from webapp.jsonio import path_id, query_args
from webapp.render import comment_json
from webapp.schemas import MAX_REPLAY_WINDOW_MS, Replay, ReplayQuery

bp = Blueprint("replay", __name__)

MAX_REPLAY_COMMENTS = 5000
ENDED_CACHE_CONTROL = "public, max-age=60"
LIVE_CACHE_CONTROL = "public, no-cache"


def window_error(from_ms: int, to_ms: int) -> str | None:
    """Why a window breaks the contract's rule (0 <= from_ms < to_ms, at most 600,000 ms long), or None."""
    if not 0 <= from_ms < to_ms:
        return "from_ms must be at least 0 and less than to_ms"
    if to_ms - from_ms > MAX_REPLAY_WINDOW_MS:
        return f"a window is at most {MAX_REPLAY_WINDOW_MS} ms long (to_ms - from_ms)"
    return None


def cut(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The first `limit` rows of `limit + 1` asked for, and whether there were more."""
    return rows[:limit], len(rows) > limit


def etag_of(body: bytes) -> str:
    """A strong ETag: a digest of exactly these bytes."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def cache_control(status: str) -> str:
    return ENDED_CACHE_CONTROL if status == VideoStatus.ENDED.value else LIVE_CACHE_CONTROL


@bp.get("/api/videos/<video_id>/replay")
@operation(
    "A window of the video's time: its comments by pos_ms, then seq",
    query=ReplayQuery,
    responses={200: Replay, 304: None, 400: None, 404: None},
    tags=["comments"],
)
def replay(video_id: str) -> Response:
    """Approved, not deleted comments (top-level and replies) with from_ms <= pos_ms < to_ms,
    ordered by pos_ms then seq; 0 <= from_ms < to_ms <= from_ms + 600000, else 400. At most 5,000:
    beyond, ``truncated`` is true and the rest comes with from_ms = the last pos_ms (and
    after_seq = the last seq, to get neither a comment twice nor one lost). Every answer has an
    ETag; a request whose If-None-Match names it gets a 304. An ended video's answer may be cached
    for 60 s (Cache-Control: public, max-age=60), a live video's is revalidated (public, no-cache)."""
    video_id = path_id("video_id", video_id)
    q = query_args(ReplayQuery, frozenset({"from_ms", "to_ms", "after_seq"}))
    refused = window_error(q.from_ms, q.to_ms)
    if refused is not None:
        raise bad_request(refused)
    video = store.get_video(video_id)
    if video is None:
        raise not_found(f"no video {video_id!r}")
    window = video_store.ReplayWindow(video.id, q.from_ms, q.to_ms, q.after_seq)
    rows, truncated = cut(video_store.replay_page(window, MAX_REPLAY_COMMENTS + 1), MAX_REPLAY_COMMENTS)
    counts = video_store.reactions_of([c.id for c in rows])
    doc: dict[str, Any] = {
        "video_id": video.id,
        "from_ms": q.from_ms,
        "to_ms": q.to_ms,
        "comments": [comment_json(c, counts.get(c.id)) for c in rows],
        "truncated": truncated,
    }
    body = orjson.dumps(doc)
    tag = etag_of(body)
    headers = {"ETag": tag, "Cache-Control": cache_control(video.status)}
    if request.if_none_match.contains_weak(tag.strip('"')):  # If-None-Match compares weakly (RFC 9110)
        return Response(status=304, headers=headers)
    return Response(body, status=200, headers=headers, mimetype="application/json")
