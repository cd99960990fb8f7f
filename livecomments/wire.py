"""Payload codecs for the MQTT topics: pure functions over plain data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from livecomments.models import ChatState, Comment, EventType, VideoStatus
from livecomments.validation import (
    FieldError,
    check_id,
    check_ulid,
    clean_name,
    clean_text,
)

MAX_INGEST_BYTES = 8 * 1024
MAX_INGEST_ARRAY = 100  # submissions in one ingest message at most (the array form)
TICKER_MAX_BYTES = 160
ELLIPSIS = "…"


@dataclass(frozen=True)
class Submission:
    """A comment submission as it travels on `ingest/videos/{v}/comments`."""

    id: str
    video_id: str
    user_id: str
    user_name: str
    text: str
    parent_id: str | None
    ts: int

    @classmethod
    def of(cls, c: Comment) -> Submission:
        """The submission a stored comment stands for (the web app hands it over; the sweeper re-drives it)."""
        return cls(c.id, c.video_id, c.user_id, c.user_name, c.text, c.parent_id, c.ts)

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "video_id": self.video_id,
            "user": {"id": self.user_id, "name": self.user_name},
            "text": self.text,
            "parent_id": self.parent_id,
            "ts": self.ts,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_doc())


def submissions_to_json(subs: Sequence[Submission]) -> bytes:
    """Several submissions of one video as one ingest message (the array form)."""
    return orjson.dumps([s.to_doc() for s in subs])


def _decode_ingest_json(payload: bytes) -> Any:
    """An ingest payload as JSON: at most 8 KiB of strict UTF-8 JSON, else FieldError."""
    if len(payload) > MAX_INGEST_BYTES:
        raise FieldError("payload", f"larger than {MAX_INGEST_BYTES} bytes")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise FieldError("payload", "not valid UTF-8 JSON") from exc


def decode_ingest_object(payload: bytes) -> dict[str, Any]:
    """An ingest payload as a JSON object: at most 8 KiB of strict UTF-8 JSON, else FieldError."""
    doc = _decode_ingest_json(payload)
    if not isinstance(doc, dict):
        raise FieldError("payload", "must be a JSON object")
    return doc


def decode_submission(payload: bytes, topic_video_id: str | None = None) -> Submission:
    """Decode and validate every field of an ingest message; raise FieldError if anything is off."""
    return submission_of(decode_ingest_object(payload), topic_video_id)


def submission_of(doc: Any, topic_video_id: str | None = None) -> Submission:
    """Validate one decoded submission object; raise FieldError if anything is off."""
    if not isinstance(doc, dict):
        raise FieldError("payload", "must be a JSON object")
    user = doc.get("user")
    if not isinstance(user, dict):
        raise FieldError("user", "must be an object with id and name")
    video_id = check_id("video_id", doc.get("video_id"))
    if topic_video_id is not None and video_id != topic_video_id:
        raise FieldError("video_id", "does not match the topic")
    parent = doc.get("parent_id")
    ts = doc.get("ts")
    if not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts < 2**53:
        raise FieldError("ts", "must be integer milliseconds since the epoch")
    return Submission(
        id=check_ulid("id", doc.get("id")),
        video_id=video_id,
        user_id=check_id("user.id", user.get("id")),
        user_name=clean_name(user.get("name")),
        text=clean_text("text", doc.get("text")),
        parent_id=None if parent is None else check_ulid("parent_id", parent),
        ts=ts,
    )


def decode_submissions(payload: bytes, topic_video_id: str) -> tuple[list[Submission], list[FieldError]]:
    """An ingest message on `ingest/videos/{v}/comments`: one submission object, or a JSON array
    of 1-100 of them for the topic's video (at most 8 KiB in all).

    FieldError if the message as a whole is unusable (size, JSON, shape, or the single object
    is invalid). In the array form each element is validated on its own: the valid ones come
    back in order, with one FieldError for each invalid one.
    """
    doc = _decode_ingest_json(payload)
    if isinstance(doc, dict):
        return [submission_of(doc, topic_video_id)], []
    if not isinstance(doc, list):
        raise FieldError("payload", "must be a JSON object or an array of them")
    if not 1 <= len(doc) <= MAX_INGEST_ARRAY:
        raise FieldError("payload", f"an array must hold 1-{MAX_INGEST_ARRAY} submissions")
    subs: list[Submission] = []
    errors: list[FieldError] = []
    for element in doc:
        try:
            subs.append(submission_of(element, topic_video_id))
        except FieldError as exc:
            errors.append(exc)
    return subs, errors


class CommentFields(Protocol):
    """What a comment view is made of: a stored Comment, or the bridge's row of a batch."""

    @property
    def id(self) -> str: ...
    @property
    def video_id(self) -> str: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def parent_id(self) -> str | None: ...
    @property
    def user_id(self) -> str: ...
    @property
    def user_name(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def ts(self) -> int: ...
    @property
    def reply_count(self) -> int: ...
    @property
    def pos_ms(self) -> int: ...


def pos_ms_of(ts: int, started_ts: int) -> int:
    """Where in the video a comment made at `ts` was made: ms since the video's start, 0 before it."""
    return max(0, ts - started_ts)


def comment_view(c: CommentFields, reactions: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A comment as viewers see it, in events, `recent`, the history API and the replay."""
    return {
        "id": c.id,
        "video_id": c.video_id,
        "seq": c.seq,
        "parent_id": c.parent_id,
        "user": {"id": c.user_id, "name": c.user_name},
        "text": c.text,
        "ts": c.ts,
        "pos_ms": c.pos_ms,
        "reply_count": c.reply_count,
        "reactions": dict(reactions or {}),
    }


def comment_event(seq: int, comment: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": EventType.COMMENT.value, "seq": seq, "comment": dict(comment)}


def delete_event(seq: int, comment_id: str) -> dict[str, Any]:
    return {"type": EventType.DELETE.value, "seq": seq, "id": comment_id}


def pin_event(seq: int, comment: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": EventType.PIN.value, "seq": seq, "comment": dict(comment)}


def unpin_event(seq: int) -> dict[str, Any]:
    return {"type": EventType.UNPIN.value, "seq": seq}


def encode_batch(video_id: str, events: Sequence[Mapping[str, Any]]) -> bytes:
    """One message on `live/videos/{v}/comments`: events in `seq` order."""
    ordered = sorted(events, key=lambda e: int(e["seq"]))
    return orjson.dumps({"video_id": video_id, "events": ordered})


def encode_recent(video_id: str, seq: int, comments: Iterable[Mapping[str, Any]]) -> bytes:
    """The retained `recent` snapshot: last N comments, oldest first, current to `seq`."""
    return orjson.dumps({"video_id": video_id, "seq": seq, "comments": list(comments)})


def ticker_text(name: str, text: str, max_bytes: int = TICKER_MAX_BYTES) -> bytes:
    """`Name: text` on one line for display boards, at most max_bytes of UTF-8.

    Cut on a character boundary and marked with an ellipsis when it does not fit.
    """
    line = " ".join(f"{name}: {text}".split())
    raw = line.encode()
    if len(raw) <= max_bytes:
        return raw
    budget = max_bytes - len(ELLIPSIS.encode())
    cut = raw[:budget].decode("utf-8", errors="ignore").rstrip()
    return (cut + ELLIPSIS).encode()


def video_state(
    status: str,
    chat: str,
    slow_mode_s: int,
    hold_for_review: bool,
    viewers: int = 0,
    pinned: Mapping[str, Any] | None = None,
    peak_viewers: int = 0,
) -> dict[str, Any]:
    """The chat state: the retained `state` topic's payload and part of GET /api/videos/{v}.
    `viewers`, `peak_viewers`: who is watching (livecomments.presence), as last counted."""
    return {
        "status": status,
        "chat": ChatState.CLOSED.value if status == VideoStatus.ENDED else chat,  # an ended video's chat is closed
        "slow_mode_s": slow_mode_s,
        "hold_for_review": hold_for_review,
        "viewers": viewers,
        "peak_viewers": peak_viewers,
        "pinned": dict(pinned) if pinned is not None else None,
    }


def decode_reaction_counts(payload: bytes, topic_video_id: str, kinds: Iterable[str]) -> dict[str, int]:
    """An aggregated live-reaction message on `ingest/videos/{v}/reactions`: `{"video_id", "counts": {kind: n}}`."""
    doc = decode_ingest_object(payload)
    if doc.get("video_id") != topic_video_id:
        raise FieldError("video_id", "must name the topic's video")
    counts = doc.get("counts")
    allowed = set(kinds)
    if not isinstance(counts, dict) or not counts:
        raise FieldError("counts", "must be a non-empty object of kind -> count")
    out: dict[str, int] = {}
    for kind, n in counts.items():
        if kind not in allowed:
            raise FieldError("counts", f"unknown reaction kind {str(kind)[:20]!r}")
        if not isinstance(n, int) or isinstance(n, bool) or not 0 < n <= 1_000_000:
            raise FieldError("counts", "each count must be a positive integer")
        out[kind] = n
    return out


def encode_reactions(
    video_id: str, video_totals: Mapping[str, int], comment_totals: Mapping[str, Mapping[str, int]]
) -> bytes:
    """The retained `reactions` snapshot: the video's live totals and the recent window's comments'."""
    return orjson.dumps(
        {
            "video_id": video_id,
            "video": dict(video_totals),
            "comments": {cid: dict(t) for cid, t in comment_totals.items()},
        }
    )
