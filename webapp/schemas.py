"""Request and response shapes. Request models validate (strictly: 123 is not "123");
all of them feed the OpenAPI document. Texts and ids in request bodies are checked afterwards by
the core's rules (livecomments.validation); their documented schemas say exactly what those rules
accept, so a client (or a fuzzer) reading the document knows which bodies are accepted."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic.config import JsonDict

from livecomments.validation import MAX_NAME_CODE_POINTS, MAX_TEXT_CODE_POINTS

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
MAX_TITLE_CODE_POINTS = 200
MAX_SEQ = 2**63 - 1
MAX_HISTORY = 200
MAX_TERM_CODE_POINTS = 100

Ulid = Annotated[str, StringConstraints(pattern=ULID_PATTERN)]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# Documented as an id, checked by livecomments.validation.check_id in the view (its message).
IdField = Annotated[str, WithJsonSchema({"type": "string", "pattern": ID_PATTERN})]


def _integral_number(value: object) -> object:
    """JSON has one number type: 86400.0 and 8.64e4 are the integer 86400 (as JSON Schema's
    "integer" says); other fractions, strings and booleans stay refused by the strict int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# After an integer's bounds in its Annotated: any JSON number without a fractional part.
INTEGRAL = BeforeValidator(_integral_number)


# What str.strip() takes off the ends (all of it is in the BMP), and the control characters
# clean_text refuses (newline aside; all of them are below U+0100).
_WHITESPACE = [c for c in range(0x10000) if chr(c).isspace()]
_CONTROL = [c for c in range(0x100) if unicodedata.category(chr(c)) == "Cc"]


def _char_class(code_points: Iterable[int], negate: bool) -> str:
    points = sorted(set(code_points))
    ranges: list[tuple[int, int]] = []
    for c in points:
        if ranges and c == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    body = "".join(f"\\u{a:04X}" if a == b else f"\\u{a:04X}-\\u{b:04X}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def text_pattern(max_code_points: int) -> str:
    """The strings livecomments.validation.clean_text accepts, as a regular expression: any
    whitespace at either end (trimmed), then 1 to ``max_code_points`` code points that start and
    end with a visible character and hold no control character but newline. (The server counts
    after NFC normalisation; the pattern counts the code points sent.)"""
    assert max_code_points >= 2
    space = _char_class(_WHITESPACE, negate=False)
    edge = _char_class(_WHITESPACE + _CONTROL, negate=True)
    inner = _char_class([c for c in _CONTROL if c != ord("\n")], negate=True)
    return f"^{space}*{edge}(?:{inner}{{0,{max_code_points - 2}}}{edge})?{space}*$"


def header_pattern(max_chars: int) -> str:
    """A header value of 1 to ``max_chars`` printable characters (str.isprintable, as HTTP
    hands them over: Latin-1); HTTP itself drops spaces at either end."""
    assert max_chars >= 2
    printable = [c for c in range(0x100) if chr(c).isprintable()]
    edge = _char_class([c for c in printable if c != ord(" ")], negate=False)
    inner = _char_class(printable, negate=False)
    return f"^{edge}(?:{inner}{{0,{max_chars - 2}}}{edge})?$"


def _text_doc(limit: int, what: str) -> JsonDict:
    """A string checked by livecomments.validation.clean_text in the view, documented exactly."""
    return {
        "type": "string",
        "pattern": text_pattern(limit),
        "description": f"{what}: NFC-normalised and trimmed, then 1-{limit} code points; "
        "no control characters except newline",
    }


CommentText = Annotated[str, WithJsonSchema(_text_doc(MAX_TEXT_CODE_POINTS, "comment text"))]
Title = Annotated[str, WithJsonSchema(_text_doc(MAX_TITLE_CODE_POINTS, "title"))]
DisplayName = Annotated[str, WithJsonSchema(_text_doc(MAX_NAME_CODE_POINTS, "display name"))]
BlockedTerm = Annotated[str, WithJsonSchema(_text_doc(MAX_TERM_CODE_POINTS, "blocked term"))]


class StrictBody(BaseModel):
    """A JSON request body: exact types, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class NewComment(StrictBody):
    text: CommentText
    parent_id: Ulid | None = Field(None, description="reply to this top-level comment (threads are one level deep)")


MAX_TS = 2**53 - 1  # ms since the epoch: what a JSON number holds exactly
VideoStatusName = Literal["live", "ended"]


class NewVideo(StrictBody):
    id: IdField | None = Field(None, description="1-64 characters of A-Z, a-z, 0-9, '_' or '-'; generated if absent")
    title: Title
    started_ts: Annotated[int, Field(ge=0, le=MAX_TS), INTEGRAL] | None = Field(
        None, description="when the video started (ms since the epoch), not in the future; absent = now"
    )


class HistoryQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_HISTORY, description="how many comments at most")
    before_seq: int | None = Field(None, ge=0, le=MAX_SEQ, description="only comments with a smaller seq")
    after_seq: int | None = Field(
        None, ge=0, le=MAX_SEQ, description="only comments with a larger seq, oldest first (gap repair)"
    )
    parent_id: Ulid | None = Field(None, description="only the replies to this comment")


class Accepted(BaseModel):
    id: Ulid
    status: Literal["accepted"]


class User(BaseModel):
    id: Id
    name: str = Field(max_length=MAX_NAME_CODE_POINTS)


class CommentOut(BaseModel):
    id: Ulid
    video_id: Id
    seq: int | None = Field(description="null until the bridge has numbered it")
    parent_id: Ulid | None
    user: User
    text: str
    ts: int = Field(description="milliseconds since the Unix epoch, UTC")
    pos_ms: int = Field(description="where in the video it was made: ts minus the video's started_ts, 0 if negative")
    reply_count: int
    reactions: dict[str, int]


class CommentWithStatus(CommentOut):
    status: Literal["pending", "approved", "held", "rejected", "deleted"]


class CommentList(BaseModel):
    video_id: Id
    comments: list[CommentOut]


class VideoOut(BaseModel):
    id: Id
    title: str
    created_ts: int
    started_ts: int = Field(description="when the video's time starts (ms since the epoch); pos_ms counts from it")
    ended_ts: int | None = Field(description="when it ended (ms since the epoch); null while it is live")
    last_seq: int
    status: Literal["live", "ended"]
    chat: Literal["open", "closed"]
    slow_mode_s: int
    hold_for_review: bool
    viewers: int  # distinct client ids announced in the last 75 s (docs/contract.md, "Who is watching")
    peak_viewers: int  # the highest `viewers` so far
    pinned: CommentOut | None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]


Checks = Annotated[
    dict[str, bool],
    Field(description='each part a post needs, true when it answers: {"database": bool, "broker": bool, ...}'),
]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: Checks


class NotReady(ErrorBody):
    """The error body of a failed readiness check, with what was checked."""

    checks: Checks


REACTION_KINDS = ("like", "love", "haha", "wow", "sad", "angry")
ReactionKindName = Literal["like", "love", "haha", "wow", "sad", "angry"]
MAX_REASON = 500
MAX_BLOCKED_TERMS = 500


Reason = Annotated[
    str,
    StringConstraints(max_length=MAX_REASON * 4),
    # (Not also "maxLength": a string that long, of whitespace sent as JSON escapes, overflows the body limit.)
    WithJsonSchema(_text_doc(MAX_REASON, f"why (in the audit log; at most {MAX_REASON * 4} code points as sent)")),
]


class ReasonBody(StrictBody):
    reason: Reason | None = None


class BanBody(ReasonBody):
    duration_s: Annotated[int, Field(ge=1, le=10 * 365 * 86400), INTEGRAL] | None = Field(
        None, description="a timeout; absent = permanent"
    )


SETTINGS_FIELDS = ("chat", "slow_mode_s", "hold_for_review", "blocked_terms", "reports_to_hold")


def _at_least_one_of(fields: Iterable[str]) -> JsonDict:
    """A patch must change something: one of ``fields`` present and not null (null means unchanged)."""
    return {"anyOf": [{"required": [f], "properties": {f: {"not": {"type": "null"}}}} for f in fields]}


class SettingsPatch(StrictBody):
    model_config = ConfigDict(json_schema_extra=_at_least_one_of(SETTINGS_FIELDS))

    chat: Literal["open", "closed"] | None = None
    slow_mode_s: Annotated[int, Field(ge=0, le=86400), INTEGRAL] | None = None
    hold_for_review: bool | None = None
    blocked_terms: list[BlockedTerm] | None = Field(
        None, max_length=MAX_BLOCKED_TERMS, description="replaces the list; duplicates are dropped"
    )
    reports_to_hold: Annotated[int, Field(ge=1, le=10000), INTEGRAL] | None = None


class Reported(BaseModel):
    id: Ulid
    status: Literal["reported"]


class VideoSettings(BaseModel):
    video_id: Id
    chat: Literal["open", "closed"]
    slow_mode_s: int
    hold_for_review: bool
    blocked_terms: list[str]
    reports_to_hold: int


class PinBody(StrictBody):
    comment_id: Ulid


class LiveReactionBody(StrictBody):
    kind: ReactionKindName


class LiveReactionAccepted(BaseModel):
    kind: ReactionKindName
    status: Literal["accepted"]


class AuditEntryOut(BaseModel):
    id: int
    video_id: str
    actor: str
    action: str
    target: str | None
    reason: str | None
    detail: dict[str, object]
    ts: int


class AuditLog(BaseModel):
    video_id: str
    entries: list[AuditEntryOut]


VIDEO_PATCH_FIELDS = ("title", "status")


class VideoPatch(StrictBody):
    model_config = ConfigDict(json_schema_extra=_at_least_one_of(VIDEO_PATCH_FIELDS))

    title: Title | None = None
    status: VideoStatusName | None = Field(
        None, description='"ended" ends the video for good (409 if it has ended already); "live" only while it is live'
    )


class VideosQuery(BaseModel):
    status: VideoStatusName | None = Field(None, description="only the videos in this state")
    limit: int = Field(50, ge=1, le=MAX_HISTORY, description="how many videos at most")
    before: Id | None = Field(None, description="the next page: the videos after this one (its id), newest first")


MAX_REPLAY_WINDOW_MS = 600_000
MAX_POS_MS = 2**53 - 1


class ReplayQuery(BaseModel):
    from_ms: int = Field(ge=0, le=MAX_POS_MS, description="from this position in the video (ms), included")
    to_ms: int = Field(
        ge=1, le=MAX_POS_MS,
        description=f"to this position (ms), excluded; from_ms < to_ms <= from_ms + {MAX_REPLAY_WINDOW_MS}",
    )
    after_seq: int | None = Field(
        None, ge=0, le=MAX_SEQ,
        description="continuing a truncated window: skip the comments at pos_ms = from_ms whose seq is at most this",
    )


class VideoList(BaseModel):
    videos: list[VideoOut]


class Replay(BaseModel):
    video_id: Id
    from_ms: int
    to_ms: int
    comments: list[CommentOut] = Field(
        description="approved, not deleted, with from_ms <= pos_ms < to_ms; by pos_ms, then seq"
    )
    truncated: bool = Field(
        description="more comments in the window than one response holds: ask again with from_ms = the last pos_ms "
        "and after_seq = the last seq"
    )


class BanOut(BaseModel):
    user_id: Id
    until_ms: int | None = Field(description="when it ends (ms since the epoch); null: permanent")
    reason: str | None
    by: str = Field(description="the moderator who set it")
    ts: int = Field(description="when it was set (ms since the epoch)")


class BanList(BaseModel):
    video_id: Id
    bans: list[BanOut]
