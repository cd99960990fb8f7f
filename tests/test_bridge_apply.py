"""The bridge's decisions recorded in a real SQLite database (no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from ulid import ULID

from bridge.apply import Outcome, apply_batch
from bridge.outbox import stuck_pending, unpublished_events
from livecomments.db import create_schema, make_engine
from livecomments.models import Comment, LiveEvent, Video
from livecomments.wire import Submission


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    create_schema(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as s:
        s.add(Video(id="v1", title="Video", created_ts=0))
        s.add(Video(id="v2", title="Other", created_ts=0, hold_for_review=True))
    yield factory
    engine.dispose()


def sub(video: str = "v1", parent: str | None = None, text: str = "hi") -> Submission:
    return Submission(str(ULID()), video, "u1", "Alice", text, parent, 1764000000000)


def run(sessions: sessionmaker[Session], subs: list[Submission]) -> list[Outcome]:
    with sessions.begin() as s:
        return apply_batch(s, subs, 1764000000000).outcomes


def test_seq_runs_per_video_without_gaps(sessions: sessionmaker[Session]) -> None:
    subs = [sub() for _ in range(3)]
    assert run(sessions, subs) == [Outcome.APPROVED] * 3
    assert run(sessions, [sub()]) == [Outcome.APPROVED]
    with sessions() as s:
        seqs = s.scalars(select(Comment.seq).where(Comment.video_id == "v1").order_by(Comment.seq)).all()
        assert seqs == [1, 2, 3, 4]
        events = unpublished_events(s, "v1")
        assert [e["seq"] for e in events] == [1, 2, 3, 4]
        assert events[0]["comment"]["id"] == subs[0].id and events[0]["type"] == "comment"
        assert s.get(Video, "v1").last_seq == 4  # type: ignore[union-attr]


def test_duplicate_ids_change_nothing(sessions: sessionmaker[Session]) -> None:
    one = sub()
    assert run(sessions, [one, one]) == [Outcome.APPROVED, Outcome.DUPLICATE]
    assert run(sessions, [one]) == [Outcome.DUPLICATE]
    with sessions() as s:
        assert len(s.scalars(select(LiveEvent)).all()) == 1


def test_replies_count_and_stay_one_level(sessions: sessionmaker[Session]) -> None:
    parent = sub()
    reply = sub(parent=parent.id)
    assert run(sessions, [parent, reply]) == [Outcome.APPROVED, Outcome.APPROVED]
    nested = sub(parent=reply.id)
    elsewhere = sub(video="v2", parent=parent.id)
    unknown = sub(parent=str(ULID()))
    assert run(sessions, [nested, elsewhere, unknown]) == [Outcome.REJECTED] * 3
    with sessions() as s:
        assert s.get(Comment, parent.id).reply_count == 1  # type: ignore[union-attr]
        reason = s.get(Comment, nested.id).reason  # type: ignore[union-attr]
        assert reason == "reply_to_reply"
        payload = orjson.loads(s.scalars(select(LiveEvent.payload).where(LiveEvent.seq == 2)).one())
        assert payload["comment"]["parent_id"] == parent.id


def test_unknown_video_and_hold(sessions: sessionmaker[Session]) -> None:
    held = sub(video="v2")
    assert run(sessions, [sub(video="nope"), held]) == [Outcome.REJECTED, Outcome.HELD]
    with sessions() as s:
        row = s.get(Comment, held.id)
        assert row is not None and row.status == "held" and row.seq is None
        assert s.get(Comment, "nope") is None
        assert unpublished_events(s, "v2") == []


def test_sweeper_finds_only_old_pending(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        s.add(Comment(id=str(ULID()), video_id="v1", user_id="u", user_name="U", text="old", ts=1000))
        s.add(Comment(id=str(ULID()), video_id="v1", user_id="u", user_name="U", text="new", ts=9000))
    with sessions() as s:
        assert [x.text for x in stuck_pending(s, older_than_ms=5000)] == ["old"]


def test_blocked_terms_are_rejected_by_the_bridge_too(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        video = s.get(Video, "v1")
        assert video is not None
        video.blocked_terms = ["zorblax"]
    outcomes = run(sessions, [sub(text="you Z0RBL4X"), sub(text="zebra blanket axe")])
    assert outcomes == [Outcome.REJECTED, Outcome.APPROVED]
