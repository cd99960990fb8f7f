"""The post path's one statement (webapp.posting) on SQLite and PostgreSQL: every rule it
folds into the INSERT, and the per-process rules cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session
from ulid import ULID

from infra.db import create_schema, make_engine
from livecomments.models import Ban, Comment, CommentStatus, Video
from moderation.decision import Reason
from webapp.posting import PendingComment, RulesCache, record_pending

NOW = 1_764_000_000_000


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_schema(engine)
    with Session(engine) as s, s.begin():
        s.add(Video(id="v1", title="Video", created_ts=0, blocked_terms=["zorblax"], slow_mode_s=5))
        s.add(Video(id="v2", title="Other", created_ts=0))
    yield engine
    engine.dispose()


def pending(
    video: str = "v1",
    user: str = "u1",
    parent: str | None = None,
    key: str | None = None,
    version: int = 0,
    by_moderator: bool = False,
) -> PendingComment:
    return PendingComment(str(ULID()), video, parent, user, "Alice", "hello", NOW, key, by_moderator, version)


def add(engine: Engine, video: str = "v1", status: str = CommentStatus.APPROVED, parent: str | None = None) -> str:
    cid = str(ULID())
    with Session(engine) as s, s.begin():
        s.add(Comment(id=cid, video_id=video, seq=None, parent_id=parent, user_id="u9", user_name="Bob",
                      text="x", ts=NOW, status=status, reply_count=0))
    return cid


def rows(engine: Engine) -> list[Comment]:
    with Session(engine) as s:
        return list(s.scalars(select(Comment).order_by(Comment.id)))


def set_video(engine: Engine, **values: object) -> None:
    with Session(engine) as s, s.begin():
        s.execute(update(Video).where(Video.id == "v1").values(**values))


def test_an_open_video_records_a_pending_row(engine: Engine) -> None:
    row = pending(key="k1")
    assert record_pending(engine, row) is True
    [stored] = rows(engine)
    assert (stored.id, stored.status, stored.seq, stored.text, stored.idempotency_key) == (
        row.id, CommentStatus.PENDING, None, "hello", "k1")
    assert (stored.user_name, stored.ts, stored.reply_count, stored.by_moderator) == ("Alice", NOW, 0, False)


def test_a_retry_with_the_same_key_records_nothing(engine: Engine) -> None:
    assert record_pending(engine, pending(key="k1")) is True
    assert record_pending(engine, pending(key="k1")) is False
    assert record_pending(engine, pending(user="u2", key="k1")) is True  # keys are per user
    assert record_pending(engine, pending()) is True  # no key: never a conflict
    assert record_pending(engine, pending()) is True
    assert len(rows(engine)) == 4


def test_unknown_video_records_nothing(engine: Engine) -> None:
    assert record_pending(engine, pending(video="nope")) is False
    assert rows(engine) == []


@pytest.mark.parametrize("values", [{"status": "ended"}, {"chat": "closed"}, {"status": "ended", "chat": "closed"}])
def test_ended_video_or_closed_chat_records_nothing(engine: Engine, values: dict[str, str]) -> None:
    set_video(engine, **values)
    assert record_pending(engine, pending()) is False
    assert rows(engine) == []


def test_a_closed_chat_records_a_moderators_post_and_an_ended_video_does_not(engine: Engine) -> None:
    set_video(engine, chat="closed")
    mods = pending(by_moderator=True)
    assert record_pending(engine, mods) is True
    assert [(r.id, r.by_moderator) for r in rows(engine)] == [(mods.id, True)]
    set_video(engine, status="ended")
    assert record_pending(engine, pending(by_moderator=True)) is False
    assert len(rows(engine)) == 1


def test_banned_user_records_nothing_until_the_ban_expires(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        s.add(Ban(video_id="v1", user_id="u1", until_ms=NOW + 1, by_user_id="mod", created_ts=0))
        s.add(Ban(video_id="v1", user_id="u2", until_ms=None, by_user_id="mod", created_ts=0))
        s.add(Ban(video_id="v1", user_id="u3", until_ms=NOW, by_user_id="mod", created_ts=0))  # over at NOW
    assert record_pending(engine, pending(user="u1")) is False
    assert record_pending(engine, pending(user="u2")) is False
    assert record_pending(engine, pending(user="u3")) is True
    assert record_pending(engine, pending(video="v2", user="u2")) is True  # a ban is per video


def test_a_reply_needs_an_approved_top_level_parent_of_the_same_video(engine: Engine) -> None:
    parent = add(engine)
    assert record_pending(engine, pending(parent=parent)) is True
    reply = add(engine, parent=parent)
    assert record_pending(engine, pending(parent=reply)) is False  # reply to a reply
    assert record_pending(engine, pending(parent=str(ULID()))) is False  # unknown parent
    assert record_pending(engine, pending(parent=add(engine, video="v2"))) is False  # another video's
    for status in (CommentStatus.PENDING, CommentStatus.HELD, CommentStatus.REJECTED, CommentStatus.DELETED):
        assert record_pending(engine, pending(parent=add(engine, status=status))) is False
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Comment).where(Comment.parent_id == parent)) == 2


def test_rules_are_read_once_per_ttl_and_forgotten_on_demand(engine: Engine) -> None:
    now = [0.0]
    cache = RulesCache(ttl_s=1.0, clock=lambda: now[0])
    rules = cache.get(engine, "v1")
    assert rules is not None and rules.blocked_terms == ("zorblax",) and rules.slow_mode_s == 5
    assert rules.refusal(by_moderator=False) is None
    set_video(engine, slow_mode_s=0, chat="closed")
    assert cache.get(engine, "v1") == rules  # within the TTL: the copy
    now[0] = 1.0
    fresh = cache.get(engine, "v1")
    assert fresh is not None and fresh.slow_mode_s == 0
    assert fresh.refusal(by_moderator=False) is Reason.CHAT_CLOSED and fresh.refusal(by_moderator=True) is None
    set_video(engine, slow_mode_s=7)
    cache.forget("v1")
    assert cache.get(engine, "v1") is not None and cache.get(engine, "v1").slow_mode_s == 7  # type: ignore[union-attr]


def test_an_unknown_video_is_not_cached(engine: Engine) -> None:
    cache = RulesCache(ttl_s=60.0)
    assert cache.get(engine, "v3") is None
    with Session(engine) as s, s.begin():
        s.add(Video(id="v3", title="New", created_ts=0))
    assert cache.get(engine, "v3") is not None


def test_rules_of_another_version_record_nothing(engine: Engine) -> None:
    set_video(engine, rules_version=3)
    assert record_pending(engine, pending(version=2)) is False
    assert record_pending(engine, pending(version=3)) is True
    rules = RulesCache().get(engine, "v1")
    assert rules is not None and rules.version == 3
