"""Request and response shapes. Request models validate (strictly: 123 is not "123");
all of them feed the OpenAPI document. Texts are cleaned afterwards by the core's rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from livecomments.validation import MAX_NAME_CODE_POINTS, MAX_TEXT_CODE_POINTS

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
MAX_TITLE_CODE_POINTS = 200
MAX_SEQ = 2**63 - 1
MAX_HISTORY = 200

Ulid = Annotated[str, StringConstraints(pattern=ULID_PATTERN)]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def _text_doc(limit: int, what: str) -> JsonDict:
    return {
        "minLength": 1,
        "maxLength": limit,
        "description": f"{what}: NFC-normalised and trimmed, then 1-{limit} code points; "
        "no control characters except newline",
    }


class StrictBody(BaseModel):
    """A JSON request body: exact types, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class NewComment(StrictBody):
    text: str = Field(json_schema_extra=_text_doc(MAX_TEXT_CODE_POINTS, "comment text"))
    parent_id: Ulid | None = Field(None, description="reply to this top-level comment (threads are one level deep)")


class NewVideo(StrictBody):
    id: str | None = Field(None, description="1-64 characters of A-Z, a-z, 0-9, '_' or '-'; generated if absent")
    title: str = Field(json_schema_extra=_text_doc(MAX_TITLE_CODE_POINTS, "title"))


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
    last_seq: int
    status: Literal["live", "ended"]
    chat: Literal["open", "closed"]
    slow_mode_s: int
    hold_for_review: bool
    viewers: int
    pinned: CommentOut | None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]


REACTION_KINDS = ("like", "love", "haha", "wow", "sad", "angry")
ReactionKindName = Literal["like", "love", "haha", "wow", "sad", "angry"]
MAX_REASON = 500
MAX_BLOCKED_TERMS = 500


class ReasonBody(StrictBody):
    reason: str | None = Field(None, max_length=MAX_REASON * 4, description="why (shown in the audit log)")


class BanBody(ReasonBody):
    duration_s: int | None = Field(None, ge=1, le=10 * 365 * 86400, description="a timeout; absent = permanent")


class SettingsPatch(StrictBody):
    chat: Literal["open", "closed"] | None = None
    slow_mode_s: int | None = Field(None, ge=0, le=86400)
    hold_for_review: bool | None = None
    blocked_terms: list[str] | None = Field(None, max_length=MAX_BLOCKED_TERMS)
    reports_to_hold: int | None = Field(None, ge=1, le=10000)


class PinBody(StrictBody):
    comment_id: Ulid


class LiveReactionBody(StrictBody):
    kind: ReactionKindName


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
