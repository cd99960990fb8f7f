"""The post path's database work, in as few round trips as a post allows.

A post that goes through costs one statement: an ``INSERT … SELECT`` that records the
pending comment (its ``pos_ms`` computed from the video row it selects) only if the video is
live with its chat open (or the author a moderator),
the author is not banned, and (for a reply) the parent is an approved top-level comment of
the same video; the ``Idempotency-Key`` is folded in with ``ON CONFLICT DO NOTHING``, so a
retry inserts nothing. ``RETURNING`` says whether the row went in. Only when it did not does
the caller ask why (``read_facts``), so refusals pay for the extra reads, never the accepted
posts.

The video's screening rules (blocked terms, slow mode) are read before the insert, from a
per-process cache refreshed every ``RULES_TTL_S``, and never used stale: every settings
change bumps ``videos.rules_version``, and the insert records nothing unless the version is
the one the door screened with; the caller then reads the rules again and screens anew.
What the insert checks against the committed rows — ended video, closed chat, bans, the
parent, the key — is exact. (A slow-mode change applies from the next post on: the rate
limiter has already counted this one.)

The statement's WHERE is moderation.decision's rule written in SQL (rules 1, 2, 4 and 5 of
`decide`: the video live, its chat open unless the author is a moderator, the parent an
approved top-level comment of the same video, no ban in force at the post's time). A refused
post's explanation is `decide`'s own answer over the rows `read_facts` reads, so the two can
only disagree if the SQL drifts from `decide`; tests/app/test_moderation_decision_sql.py runs one
table of cases through both.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, Dialect, Engine, TextClause, text
from sqlalchemy.exc import DBAPIError

from infra.db import read_only
from livecomments.models import ChatState, CommentStatus, VideoStatus
from livecomments.wire import Submission
from moderation.decision import Ban, Parent, Post, Reason, VideoRules, chat_refusal

RULES_TTL_S = 1.0
RULES_CACHE_MAX = 10_000  # videos whose rules one process keeps; the oldest entries go first

_COLUMNS = (
    "id, video_id, seq, parent_id, user_id, user_name, text, ts, status, reply_count, idempotency_key, by_moderator,"
    " pos_ms"
)
# Typed, because PostgreSQL must deduce one type for a parameter used twice (user_id, ts). pos_ms is
# livecomments.wire.pos_ms_of over the video row the statement reads anyway: no query of its own.
_VALUES = (
    "CAST(:id AS VARCHAR), v.id, NULL, {parent}, CAST(:user_id AS VARCHAR), CAST(:user_name AS VARCHAR),"
    " CAST(:text AS TEXT), CAST(:ts AS BIGINT), CAST(:pending AS VARCHAR), 0, CAST(:key AS VARCHAR),"
    " CAST(:by_moderator AS BOOLEAN),"
    " CASE WHEN CAST(:ts AS BIGINT) > v.started_ts THEN CAST(:ts AS BIGINT) - v.started_ts ELSE 0 END"
)
# The SQL of moderation.decision.decide's rules 1 (live), 2 (chat open, or a moderator), 4 (the
# parent) and 5 (no ban in force); keep them the same rule (tests/app/test_moderation_decision_sql.py).
_OPEN_VIDEO = (
    "v.id = :video_id AND v.status = :live AND (v.chat = :open OR CAST(:by_moderator AS BOOLEAN))"
    " AND v.rules_version = CAST(:rules_version AS INTEGER)"
)
_NOT_BANNED = (
    "NOT EXISTS (SELECT 1 FROM bans b WHERE b.video_id = v.id AND b.user_id = CAST(:user_id AS VARCHAR)"
    " AND (b.until_ms IS NULL OR b.until_ms > CAST(:ts AS BIGINT)))"
)
_PARENT_OK = (
    "EXISTS (SELECT 1 FROM comments p WHERE p.id = CAST(:parent_id AS VARCHAR) AND p.video_id = v.id"
    " AND p.status = :approved AND p.parent_id IS NULL)"
)


def _insert(reply: bool) -> TextClause:
    where = [_OPEN_VIDEO, _NOT_BANNED] + ([_PARENT_OK] if reply else [])
    sql = (
        f"INSERT INTO comments ({_COLUMNS}) "  # noqa: S608 - constant SQL, every value is a bound parameter
        f"SELECT {_VALUES.format(parent='CAST(:parent_id AS VARCHAR)' if reply else 'NULL')} FROM videos v "
        f"WHERE {' AND '.join(where)} "
        "ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id"
    )
    return text(sql)


# Two statements, not one with ":parent_id IS NULL": PostgreSQL cannot type an unused parameter.
INSERT_TOP_LEVEL = _insert(reply=False)
INSERT_REPLY = _insert(reply=True)
_CONSTANTS = {
    "pending": CommentStatus.PENDING.value,
    "approved": CommentStatus.APPROVED.value,
    "live": VideoStatus.LIVE.value,
    "open": ChatState.OPEN.value,
}
_RULES = text(
    "SELECT status, chat, hold_for_review, slow_mode_s, blocked_terms, rules_version FROM videos WHERE id = :video_id"
)
_PARENT = text("SELECT video_id, parent_id, status FROM comments WHERE id = :parent_id")
_BAN = text("SELECT until_ms FROM bans WHERE video_id = :video_id AND user_id = :user_id")


@dataclass(frozen=True)
class PendingComment:
    """The row a post records, as plain values."""

    id: str
    video_id: str
    parent_id: str | None
    user_id: str
    user_name: str
    text: str
    ts: int
    idempotency_key: str | None
    by_moderator: bool
    rules_version: int  # of the rules the door screened it with

    def submission(self) -> Submission:
        """What the web app hands to the bridge once the row is committed."""
        return Submission(self.id, self.video_id, self.user_id, self.user_name, self.text, self.parent_id, self.ts)

    def params(self) -> dict[str, Any]:
        return {
            **_CONSTANTS,
            "rules_version": self.rules_version,
            "id": self.id,
            "video_id": self.video_id,
            "parent_id": self.parent_id,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "text": self.text,
            "ts": self.ts,
            "key": self.idempotency_key,
            "by_moderator": self.by_moderator,
        }


@lru_cache(maxsize=8)
def _driver_sql(stmt: TextClause, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The statement as the driver takes it, compiled once per dialect, and the order of its
    parameters where the driver's style is positional."""
    compiled = stmt.compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup) if compiled.positiontup else None


def insert_pending(conn: Connection, row: PendingComment) -> bool:
    """The pending comment's INSERT in the caller's transaction: True if it went in (every rule
    allows it, and the video's rules are still those of ``row.rules_version``).

    Straight to the driver's cursor (the statement compiled once): this runs once per post, and
    SQLAlchemy's per-statement machinery would cost more than SQLite executing it."""
    stmt = INSERT_REPLY if row.parent_id is not None else INSERT_TOP_LEVEL
    sql, order = _driver_sql(stmt, conn.dialect)
    named = row.params()
    params: Any = named if order is None else tuple(named[name] for name in order)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def record_pending(engine: Engine, row: PendingComment) -> bool:
    """`insert_pending` in a transaction of its own, committed."""
    with engine.begin() as conn:
        return insert_pending(conn, row)


@dataclass(frozen=True)
class PostingRules:
    """What the door needs of a video before recording a post."""

    video: VideoRules  # its switches, as moderation.decision takes them
    slow_mode_s: int
    blocked_terms: tuple[str, ...]
    version: int

    def refusal(self, by_moderator: bool) -> Reason | None:
        """Whether the video takes this author's comments (moderation.decision.chat_refusal)."""
        return chat_refusal(self.video, by_moderator)


def _load_rules(engine: Engine, video_id: str) -> PostingRules | None:
    with read_only(engine).connect() as conn:  # a read: on SQLite it must not take the write lock
        found = conn.execute(_RULES, {"video_id": video_id}).first()
        conn.rollback()
    if found is None:
        return None
    status, chat, hold, slow_mode_s, terms, version = found
    if isinstance(terms, str):  # SQLite hands JSON back as text through a plain SELECT
        terms = orjson.loads(terms)
    video = VideoRules(str(status), str(chat), bool(hold))
    return PostingRules(video, int(slow_mode_s), tuple(terms or ()), int(version))


def read_facts(engine: Engine, post: Post, user_id: str) -> tuple[VideoRules, Post] | None:
    """The committed rows moderation.decision.decide needs to say why a post was refused: the
    video's switches, and `post` with the parent it names and its author's ban filled in.
    None: no such video. Only refused posts read them (three reads, one transaction)."""
    with read_only(engine).connect() as conn:
        found = conn.execute(_RULES, {"video_id": post.video_id}).first()
        if found is None:
            conn.rollback()
            return None
        parent = None
        if post.parent_id is not None:
            parent = conn.execute(_PARENT, {"parent_id": post.parent_id}).first()
        ban = conn.execute(_BAN, {"video_id": post.video_id, "user_id": user_id}).first()
        conn.rollback()
    video = VideoRules(str(found.status), str(found.chat), bool(found.hold_for_review))
    return video, dataclasses.replace(
        post,
        parent=None if parent is None else Parent(parent.video_id, parent.parent_id, str(parent.status)),
        ban=None if ban is None else Ban(ban.until_ms),
    )


class RulesCache:
    """Each video's rules, read at most once per ``ttl_s`` per process. An unknown video is
    never cached (a video created by another process is postable at once)."""

    def __init__(self, ttl_s: float = RULES_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._rules: dict[str, tuple[float, PostingRules]] = {}

    def get(self, engine: Engine, video_id: str) -> PostingRules | None:
        now = self._clock()
        kept = self._rules.get(video_id)
        if kept is not None and now - kept[0] < self._ttl_s:
            return kept[1]
        rules = _load_rules(engine, video_id)
        with self._lock:
            self._rules.pop(video_id, None)  # re-inserted last: the oldest entries go first
            if rules is not None:
                self._rules[video_id] = (now, rules)
                while len(self._rules) > RULES_CACHE_MAX:
                    del self._rules[next(iter(self._rules))]
        return rules

    def forget(self, video_id: str) -> None:
        """This process changed the video's settings: read them again on the next post."""
        with self._lock:
            self._rules.pop(video_id, None)
