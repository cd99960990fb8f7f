"""One batch of submissions, decided and recorded in one transaction, with set-based SQL.

The database is the arbiter: a submission whose comment is no longer `pending` was
already handled (a redelivery, or the sweeper got there first) and changes nothing.

The batch costs a fixed number of statements, whatever its size: the touched videos
locked at once (SELECT … FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already
serialises writers), one SELECT for the comments and their parents, one for the bans,
then the decisions in Python (moderation.decision.decide, the rule the web app asks
too), then bulk writes (executemany): new rows for other producers' submissions, the
decided rows (guarded by `status = 'pending'`), the parents' reply counts, the
`live_events` outbox rows and each video's `last_seq`. On PostgreSQL each of these is one
statement whose rows come as one JSON parameter (`json_to_recordset`): one round trip,
and no per-row work in the driver; SQLite, in process, takes executemany.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Table, bindparam, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from livecomments.models import Ban, Comment, CommentStatus, EventType, LiveEvent, Video
from livecomments.wire import Submission, comment_view, pos_ms_of
from moderation.decision import Ban as BanFact
from moderation.decision import Decision, Parent, Post, Verdict, VideoRules, decide
from moderation.screen import matcher_for, screen_text
from moderation.terms import TermMatcher

COMMENTS = cast(Table, Comment.__table__)
VIDEOS = cast(Table, Video.__table__)
EVENTS = cast(Table, LiveEvent.__table__)
BANS = cast(Table, Ban.__table__)

PENDING = CommentStatus.PENDING.value


class Outcome(StrEnum):
    APPROVED = "approved"
    HELD = "held"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


class RaceLost(SQLAlchemyError):
    """A row this batch decided was no longer pending when written: roll back, decide one by one."""


Event = tuple[int, bytes]  # (seq, the event as JSON, exactly as stored and sent)


@dataclass(frozen=True)
class Screened:
    """A comment's text screened for blocked terms before its transaction (moderation.screen.screen_text),
    with the video's matcher of the time: used only if the transaction finds the same text and the same
    matcher, else the text is screened again there."""

    text: str
    terms: TermMatcher
    found: Decision | None  # screen_text's answer


def prescreen(submissions: Sequence[Submission], terms: Mapping[str, TermMatcher]) -> dict[str, Screened]:
    """Screen the texts of the submissions whose video's matcher is known (pure, no IO: run it outside
    the transaction, while the previous one commits)."""
    out = {}
    for sub in submissions:
        matcher = terms.get(sub.video_id)
        if matcher is not None:
            out[sub.id] = Screened(sub.text, matcher, screen_text(sub.text, matcher))
    return out


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    approved: list[dict[str, Any]] = field(default_factory=list)  # comment views, in seq order per video
    reply_counts: dict[str, int] = field(default_factory=dict)  # parent id -> its reply count now
    # Per video, the events to publish, in seq order and without gaps: those this batch appended
    # and, before them, those the caller did not know of (see apply_batch's `known`).
    events: dict[str, list[Event]] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)  # per locked video, its last seq at commit
    terms: dict[str, TermMatcher] = field(default_factory=dict)  # per locked video, its blocked terms' matcher

    @property
    def videos(self) -> set[str]:
        return {c["video_id"] for c in self.approved}

    def merge(self, other: BatchResult) -> None:
        self.outcomes += other.outcomes
        self.approved += other.approved
        self.reply_counts.update(other.reply_counts)
        for video_id, events in other.events.items():
            self.events.setdefault(video_id, []).extend(events)
        self.last_seq.update(other.last_seq)
        self.terms.update(other.terms)


class _Row:
    """A comment as this batch sees it: loaded, or new from another producer."""

    __slots__ = ("id", "video_id", "parent_id", "user_id", "user_name", "text", "ts", "status", "reply_count",
                 "by_moderator", "pos_ms", "seq", "reason", "new", "decided", "replies")

    def __init__(self, m: Mapping[Any, Any], new: bool) -> None:
        self.id: str = m["id"]
        self.video_id: str = m["video_id"]
        self.parent_id: str | None = m["parent_id"]
        self.user_id: str = m["user_id"]
        self.user_name: str = m["user_name"]
        self.text: str = m["text"]
        self.ts: int = m["ts"]
        self.status: str = m["status"]
        self.reply_count: int = m["reply_count"] or 0
        self.by_moderator: bool = bool(m["by_moderator"])
        self.pos_ms: int = int(m["pos_ms"] or 0)  # stored when recorded; a new row's from its video's started_ts
        self.seq: int | None = None
        self.reason: str | None = None
        self.new = new
        self.decided = False
        self.replies = 0  # added by this batch

    def view(self) -> dict[str, Any]:
        """As viewers see it (livecomments.wire.comment_view, as for a stored comment)."""
        return comment_view(self)


@dataclass
class _Video:
    id: str
    rules: VideoRules
    terms: TermMatcher
    last_seq: int
    base_seq: int  # last_seq when locked
    started_ts: int  # the video's time starts here (a new row's pos_ms)


_COMMENT_COLUMNS = [COMMENTS.c[n] for n in (
    "id", "video_id", "parent_id", "user_id", "user_name", "text", "ts", "status", "reply_count", "by_moderator",
    "pos_ms")]

_LOCK_VIDEOS = (
    select(VIDEOS.c.id, VIDEOS.c.status, VIDEOS.c.chat, VIDEOS.c.hold_for_review, VIDEOS.c.blocked_terms,
           VIDEOS.c.last_seq, VIDEOS.c.started_ts)
    .where(VIDEOS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(VIDEOS.c.id)
    .with_for_update()
)
_LOAD_COMMENTS = select(*_COMMENT_COLUMNS).where(COMMENTS.c.id.in_(bindparam("ids", expanding=True)))
_LOAD_BANS = select(BANS.c.video_id, BANS.c.user_id, BANS.c.until_ms).where(
    BANS.c.video_id.in_(bindparam("videos", expanding=True)), BANS.c.user_id.in_(bindparam("users", expanding=True))
)
_INSERT_COMMENTS = insert(COMMENTS)
_UPDATE_DECIDED = (
    update(COMMENTS)
    .where(COMMENTS.c.id == bindparam("b_id"), COMMENTS.c.status == PENDING)
    .values(status=bindparam("b_status"), seq=bindparam("b_seq"), reason=bindparam("b_reason"))
)
_ADD_REPLIES = (
    update(COMMENTS)
    .where(COMMENTS.c.id == bindparam("b_id"))
    .values(reply_count=COMMENTS.c.reply_count + bindparam("b_n"))
)
_INSERT_EVENTS = insert(EVENTS)
_SET_LAST_SEQ = update(VIDEOS).where(VIDEOS.c.id == bindparam("b_id")).values(last_seq=bindparam("b_last"))
_GAP_AFTER = (
    select(EVENTS.c.seq, EVENTS.c.payload)
    .where(EVENTS.c.video_id == bindparam("v"), EVENTS.c.seq > bindparam("after"), EVENTS.c.seq <= bindparam("upto"))
    .order_by(EVENTS.c.seq)
)
_GAP_UNPUBLISHED = (
    select(EVENTS.c.seq, EVENTS.c.payload)
    .where(EVENTS.c.video_id == bindparam("v"), EVENTS.c.published.is_(False), EVENTS.c.seq <= bindparam("upto"))
    .order_by(EVENTS.c.seq)
)


# PostgreSQL: each bulk statement takes its rows as one JSON parameter (encoded by orjson, parsed
# by the server): one round trip, and nothing per row or per value in the driver.
_PG_LOCK_VIDEOS = text(
    "SELECT id, status, chat, hold_for_review, blocked_terms, last_seq, started_ts FROM videos"
    " WHERE id IN (SELECT value FROM json_array_elements_text(CAST(:ids AS json))) ORDER BY id FOR UPDATE"
).columns(blocked_terms=VIDEOS.c.blocked_terms.type)
_PG_LOAD_COMMENTS = text(
    "SELECT id, video_id, parent_id, user_id, user_name, text, ts, status, reply_count, by_moderator, pos_ms"
    " FROM comments WHERE id IN (SELECT value FROM json_array_elements_text(CAST(:ids AS json)))"
)
_PG_LOAD_BANS = text(
    "SELECT video_id, user_id, until_ms FROM bans"
    " WHERE video_id IN (SELECT value FROM json_array_elements_text(CAST(:videos AS json)))"
    " AND user_id IN (SELECT value FROM json_array_elements_text(CAST(:users AS json)))"
)
_PG_INSERT_COMMENTS = text(
    "INSERT INTO comments (id, video_id, seq, parent_id, user_id, user_name, text, ts, status, reply_count,"
    " idempotency_key, reason, by_moderator, pos_ms)"
    " SELECT d.id, d.video_id, d.seq, d.parent_id, d.user_id, d.user_name, d.text, d.ts, d.status, d.reply_count,"
    " NULL, d.reason, false, d.pos_ms"
    " FROM json_to_recordset(CAST(:rows AS json)) AS d(id varchar, video_id varchar, seq bigint, parent_id varchar,"
    " user_id varchar, user_name varchar, text text, ts bigint, status varchar, reply_count integer, reason varchar,"
    " pos_ms bigint)"
)
_PG_UPDATE_DECIDED = text(
    "UPDATE comments AS c SET status = d.status, seq = d.seq, reason = d.reason"
    " FROM json_to_recordset(CAST(:rows AS json)) AS d(id varchar, status varchar, seq bigint, reason varchar)"
    " WHERE c.id = d.id AND c.status = 'pending'"
)
_PG_ADD_REPLIES = text(
    "UPDATE comments AS c SET reply_count = c.reply_count + d.n"
    " FROM json_to_recordset(CAST(:rows AS json)) AS d(id varchar, n integer) WHERE c.id = d.id"
)
_PG_INSERT_EVENTS = text(
    "INSERT INTO live_events (video_id, seq, type, payload, published)"
    " SELECT d.video_id, d.seq, d.type, d.payload, false"
    " FROM json_to_recordset(CAST(:rows AS json)) AS d(video_id varchar, seq bigint, type varchar, payload text)"
)
_PG_SET_LAST_SEQ = text(
    "UPDATE videos AS v SET last_seq = d.last_seq"
    " FROM json_to_recordset(CAST(:rows AS json)) AS d(id varchar, last_seq bigint) WHERE v.id = d.id"
)


def _pg_rows(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {"rows": orjson.dumps(rows).decode()}


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _lock_videos(conn: Connection, ids: set[str]) -> dict[str, _Video]:
    out = {}
    query = _PG_LOCK_VIDEOS if _is_pg(conn) else _LOCK_VIDEOS
    params = {"ids": orjson.dumps(sorted(ids)).decode()} if _is_pg(conn) else {"ids": sorted(ids)}
    for vid, status, chat, hold, terms, last_seq, started_ts in conn.execute(query, params):
        rules = VideoRules(status, chat, bool(hold))
        out[vid] = _Video(vid, rules, matcher_for(tuple(terms or ())), int(last_seq), int(last_seq), int(started_ts))
    return out


def _post(rows: dict[str, _Row], bans: dict[tuple[str, str], int | None], video: _Video, row: _Row,
          screened: Screened | None) -> Post:
    """The facts moderation.decision.decide needs about `row`, from what the batch loaded."""
    if screened is None or screened.text != row.text or screened.terms is not video.terms:
        found = screen_text(row.text, video.terms)  # not screened beforehand, or with other terms
    else:
        found = screened.found
    parent = rows.get(row.parent_id) if row.parent_id is not None else None
    key = (row.video_id, row.user_id)
    return Post(
        video_id=row.video_id,
        by_moderator=row.by_moderator,
        parent_id=row.parent_id,
        parent=None if parent is None else Parent(parent.video_id, parent.parent_id, parent.status),
        ban=BanFact(bans[key]) if key in bans else None,
        blocked=None if found is None else found.match,
    )


def _new_row(sub: Submission, video: _Video) -> _Row:
    return _Row({"id": sub.id, "video_id": sub.video_id, "parent_id": sub.parent_id, "user_id": sub.user_id,
                 "user_name": sub.user_name, "text": sub.text, "ts": sub.ts, "status": PENDING, "reply_count": 0,
                 "by_moderator": False, "pos_ms": pos_ms_of(sub.ts, video.started_ts)}, new=True)


def apply_batch(
    session: Session, submissions: Sequence[Submission], now_ms: int, known: Mapping[str, int] | None = None,
    screened: Mapping[str, Screened] | None = None,
) -> BatchResult:
    """Decide and record each submission in order; the caller commits.

    `known`: the last seq of each video whose events the caller already holds. For a locked
    video whose last_seq is beyond it (another writer appended events), the events in
    between are loaded into the result first; a video missing from `known` gets all its
    unpublished events. None: only this batch's events are returned.

    `screened`: texts screened beforehand, by submission id (see prescreen).
    """
    result = BatchResult()
    if not submissions:
        return result
    conn = session.connection()
    videos = _lock_videos(conn, {s.video_id for s in submissions})  # first: what follows sees the lock's state
    ids = {s.id for s in submissions} | {s.parent_id for s in submissions if s.parent_id}
    users = list({s.user_id for s in submissions})
    if _is_pg(conn):
        found = conn.execute(_PG_LOAD_COMMENTS, {"ids": orjson.dumps(list(ids)).decode()}).mappings()
        banned = conn.execute(_PG_LOAD_BANS, {"videos": orjson.dumps(list(videos)).decode(),
                                              "users": orjson.dumps(users).decode()})
    else:
        found = conn.execute(_LOAD_COMMENTS, {"ids": list(ids)}).mappings()
        banned = conn.execute(_LOAD_BANS, {"videos": list(videos), "users": users})
    rows = {m["id"]: _Row(m, new=False) for m in found}
    bans: dict[tuple[str, str], int | None] = {(v, u): until for v, u, until in banned}
    events: dict[str, list[dict[str, Any]]] = {}
    decided: list[_Row] = []
    for sub in submissions:
        video = videos.get(sub.video_id)
        if video is None:
            result.outcomes.append(Outcome.REJECTED)  # no such video: nothing to attach it to
            continue
        row = rows.get(sub.id)
        if row is None:
            row = rows[sub.id] = _new_row(sub, video)  # a second copy in this batch is a duplicate
        if row.decided or row.status != PENDING or row.video_id != sub.video_id:
            result.outcomes.append(Outcome.DUPLICATE)
            continue
        post = _post(rows, bans, video, row, screened.get(sub.id) if screened else None)
        decision = decide(video.rules, post, now_ms=now_ms)
        row.reason = decision.reason
        row.decided = True
        decided.append(row)
        if decision.verdict is Verdict.APPROVE:
            row.status = CommentStatus.APPROVED.value
            if row.parent_id is not None:
                parent = rows[row.parent_id]  # decide made sure it is there
                parent.reply_count += 1
                parent.replies += 1
                result.reply_counts[parent.id] = parent.reply_count
            video.last_seq += 1
            row.seq = video.last_seq
            view = row.view()
            result.approved.append(view)
            events.setdefault(video.id, []).append({"type": EventType.COMMENT.value, "seq": row.seq, "comment": view})
            result.outcomes.append(Outcome.APPROVED)
        elif decision.verdict is Verdict.HOLD:
            row.status = CommentStatus.HELD.value
            result.outcomes.append(Outcome.HELD)
        else:
            row.status = CommentStatus.REJECTED.value
            result.outcomes.append(Outcome.REJECTED)
    _write(conn, decided, rows, videos, events, result)
    if known is not None:
        _load_gaps(conn, videos, known, result)
    for video in videos.values():
        result.last_seq[video.id] = video.last_seq
        result.terms[video.id] = video.terms
    return result


def _write(conn: Connection, decided: list[_Row], rows: dict[str, _Row], videos: dict[str, _Video],
           events: dict[str, list[dict[str, Any]]], result: BatchResult) -> None:
    pg = _is_pg(conn)
    new = [r for r in decided if r.new]
    if new:
        if pg:
            conn.execute(_PG_INSERT_COMMENTS, _pg_rows([
                {"id": r.id, "video_id": r.video_id, "seq": r.seq, "parent_id": r.parent_id, "user_id": r.user_id,
                 "user_name": r.user_name, "text": r.text, "ts": r.ts, "status": r.status,
                 "reply_count": r.reply_count, "reason": r.reason, "pos_ms": r.pos_ms}
                for r in new
            ]))
        else:
            conn.execute(_INSERT_COMMENTS, [
                {"id": r.id, "video_id": r.video_id, "seq": r.seq, "parent_id": r.parent_id, "user_id": r.user_id,
                 "user_name": r.user_name, "text": r.text, "ts": r.ts, "status": r.status,
                 "reply_count": r.reply_count, "idempotency_key": None, "reason": r.reason, "by_moderator": False,
                 "pos_ms": r.pos_ms}
                for r in new
            ])
    old = [r for r in decided if not r.new]
    if old:
        if pg:
            done = conn.execute(_PG_UPDATE_DECIDED, _pg_rows([
                {"id": r.id, "status": r.status, "seq": r.seq, "reason": r.reason} for r in old
            ]))
            changed = done.rowcount
        else:
            done = conn.execute(_UPDATE_DECIDED, [
                {"b_id": r.id, "b_status": r.status, "b_seq": r.seq, "b_reason": r.reason} for r in old
            ])
            changed = done.rowcount if conn.dialect.supports_sane_multi_rowcount else len(old)
        if changed != len(old):
            raise RaceLost("a comment of the batch was decided elsewhere meanwhile")
    replied = [r for r in rows.values() if r.replies and not r.new]
    if replied:
        if pg:
            conn.execute(_PG_ADD_REPLIES, _pg_rows([{"id": r.id, "n": r.replies} for r in replied]))
        else:
            conn.execute(_ADD_REPLIES, [{"b_id": r.id, "b_n": r.replies} for r in replied])
    if not events:
        return
    out: list[dict[str, Any]] = []
    for video_id, evs in events.items():
        encoded = result.events.setdefault(video_id, [])
        for ev in evs:
            payload = orjson.dumps(ev)
            encoded.append((ev["seq"], payload))
            out.append({"video_id": video_id, "seq": ev["seq"], "type": ev["type"], "payload": payload.decode()})
    moved = [v for v in videos.values() if v.last_seq != v.base_seq]
    if pg:
        conn.execute(_PG_INSERT_EVENTS, _pg_rows(out))
        conn.execute(_PG_SET_LAST_SEQ, _pg_rows([{"id": v.id, "last_seq": v.last_seq} for v in moved]))
    else:
        for o in out:
            o["published"] = False
        conn.execute(_INSERT_EVENTS, out)
        conn.execute(_SET_LAST_SEQ, [{"b_id": v.id, "b_last": v.last_seq} for v in moved])


def _load_gaps(conn: Connection, videos: dict[str, _Video], known: Mapping[str, int],
               result: BatchResult) -> None:
    """Events others appended that the caller has not seen: they go out before this batch's."""
    for video in videos.values():
        after = known.get(video.id)
        if after is not None and after >= video.base_seq:
            continue
        if after is None:
            found = conn.execute(_GAP_UNPUBLISHED, {"v": video.id, "upto": video.base_seq})
        else:
            found = conn.execute(_GAP_AFTER, {"v": video.id, "after": after, "upto": video.base_seq})
        gap = [(int(seq), payload.encode()) for seq, payload in found]
        if gap:
            result.events[video.id] = gap + result.events.get(video.id, [])
