"""The post path's one statement and moderation.decision.decide are one rule.

webapp/posting.py checks the video, the chat, the parent and the ban inside its INSERT … SELECT
(so an accepted post costs one statement), and explains a refusal with `decide` over the rows
`read_facts` reads. The same table of cases runs through all three, on SQLite and PostgreSQL:
the SQL records a post exactly when `decide` does not reject it, and the refusal's explanation
is `decide`'s answer for the facts of the case."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from ulid import ULID

from infra.db import create_schema, make_engine
from livecomments.models import Ban, Comment, Video
from moderation.decision import Ban as BanFact
from moderation.decision import Decision, Parent, Post, Verdict, VideoRules, decide
from webapp.posting import PendingComment, read_facts, record_pending

NOW = 1_764_000_000_000
USER = "u1"
OTHER_VIDEO = "elsewhere"

VIDEOS = [("live", "open"), ("live", "closed"), ("ended", "open"), ("ended", "closed")]
PARENTS = ["none", "approved", "pending", "held", "rejected", "deleted", "reply", "other_video", "unknown"]
BANS: list[tuple[str, int | None] | None] = [
    None, ("permanent", None), ("running", NOW + 1), ("ends_now", NOW), ("served", NOW - 1)
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    video_id: str
    status: str
    chat: str
    moderator: bool
    parent: str
    ban: tuple[str, int | None] | None

    def __str__(self) -> str:
        ban = "no ban" if self.ban is None else f"ban {self.ban[0]}"
        return f"{self.status}/{self.chat} moderator={self.moderator} parent={self.parent} {ban}"


CASES = [
    Case(f"c{i}", status, chat, moderator, parent, ban)
    for i, ((status, chat), moderator, parent, ban) in enumerate(
        itertools.product(VIDEOS, (False, True), PARENTS, BANS)
    )
]


def parent_id(case: Case) -> str | None:
    return None if case.parent == "none" else f"{case.video_id}-parent"


def facts(case: Case) -> tuple[VideoRules, Post]:
    """The case as decide takes it, written from the table (not read from the database)."""
    parent = {
        "none": None,
        "approved": Parent(case.video_id, None, "approved"),
        "pending": Parent(case.video_id, None, "pending"),
        "held": Parent(case.video_id, None, "held"),
        "rejected": Parent(case.video_id, None, "rejected"),
        "deleted": Parent(case.video_id, None, "deleted"),
        "reply": Parent(case.video_id, f"{case.video_id}-top", "approved"),
        "other_video": Parent(OTHER_VIDEO, None, "approved"),
        "unknown": None,
    }[case.parent]
    ban = None if case.ban is None else BanFact(case.ban[1])
    return VideoRules(case.status, case.chat), Post(case.video_id, case.moderator, parent_id(case), parent, ban)


def expected(case: Case) -> Decision:
    video, post = facts(case)
    return decide(video, post, now_ms=NOW)


def _rows(case: Case) -> list[object]:
    rows: list[object] = [Video(id=case.video_id, title="t", created_ts=0, status=case.status, chat=case.chat)]
    pid = parent_id(case)

    def comment(cid: str, video: str, status: str, parent: str | None = None) -> Comment:
        return Comment(id=cid, video_id=video, parent_id=parent, user_id="u9", user_name="Bob", text="x", ts=0,
                       status=status, reply_count=0)  # fmt: skip

    if case.parent in ("approved", "pending", "held", "rejected", "deleted"):
        rows.append(comment(str(pid), case.video_id, case.parent))
    elif case.parent == "reply":
        rows.append(comment(f"{case.video_id}-top", case.video_id, "approved"))
        rows.append(comment(str(pid), case.video_id, "approved", parent=f"{case.video_id}-top"))
    elif case.parent == "other_video":
        rows.append(comment(str(pid), OTHER_VIDEO, "approved"))
    if case.ban is not None:
        rows.append(Ban(video_id=case.video_id, user_id=USER, until_ms=case.ban[1], by_user_id="mod", created_ts=0))
    return rows


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_schema(engine)
    with Session(engine) as s, s.begin():
        s.add(Video(id=OTHER_VIDEO, title="Other", created_ts=0))
        s.flush()
        for case in CASES:
            for row in _rows(case):
                s.add(row)
                s.flush()  # in order: the video, then parents before replies, then the ban
    yield engine
    engine.dispose()


def test_the_table_covers_every_outcome() -> None:
    reasons = {expected(c).reason for c in CASES}
    assert len(CASES) == 360
    assert {str(r) for r in reasons if r is not None} == {
        "video_ended", "chat_closed", "unknown_parent", "parent_unavailable", "reply_to_reply", "banned"
    }  # fmt: skip
    assert None in reasons  # and approvals


def test_the_statement_records_exactly_what_decide_does_not_reject(engine: Engine) -> None:
    wrong = []
    for case in CASES:
        row = PendingComment(str(ULID()), case.video_id, parent_id(case), USER, "Alice", "hello", NOW, None,
                             case.moderator, 0)  # fmt: skip
        recorded = record_pending(engine, row)
        if recorded != (expected(case).verdict is not Verdict.REJECT):
            wrong.append(f"{case}: SQL recorded={recorded}, decide says {expected(case)}")
    assert wrong == []


def test_a_refusal_is_explained_by_decide_over_the_rows_read(engine: Engine) -> None:
    wrong = []
    for case in CASES:
        bare = Post(case.video_id, case.moderator, parent_id(case))
        read = read_facts(engine, bare, USER)
        assert read is not None, case
        video, post = read
        got = decide(video, post, now_ms=NOW)
        if got != expected(case) or (video, post) != facts(case):
            wrong.append(f"{case}: read {video} {post} -> {got}, the table says {expected(case)}")
    assert wrong == []


def test_no_such_video_reads_nothing(engine: Engine) -> None:
    assert read_facts(engine, Post("nope"), USER) is None
