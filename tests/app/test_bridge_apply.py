"""The bridge's decisions recorded in a real database, SQLite and PostgreSQL (no broker)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from ulid import ULID

from bridge.apply import Outcome, Screened, apply_batch, prescreen
from bridge.queries import stuck_pending, unpublished_events
from infra.db import create_schema, make_engine
from infra.event_log import append_event
from livecomments.models import Ban, Comment, LiveEvent, Video
from livecomments.wire import Submission, comment_event, comment_view, delete_event
from moderation.screen import matcher_for


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
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


def pending(sessions: sessionmaker[Session], video: str = "v1", parent: str | None = None, text: str = "hi",
            user: str = "u1", by_moderator: bool = False) -> Submission:
    """A comment as the web app records it before its 202: a pending row; its submission."""
    s = Submission(str(ULID()), video, user, "Alice", text, parent, 1764000000000)
    with sessions.begin() as db:
        db.add(Comment(id=s.id, video_id=video, parent_id=parent, user_id=user, user_name="Alice", text=text,
                       ts=s.ts, status="pending", reply_count=0, by_moderator=by_moderator))
    return s


def row(sessions: sessionmaker[Session], cid: str) -> Comment:
    with sessions() as s:
        got = s.get(Comment, cid)
        assert got is not None
        return got


def test_pending_rows_are_completed_and_events_show_the_stored_comment(sessions: sessionmaker[Session]) -> None:
    subs = [pending(sessions, text=f"c{i}") for i in range(3)]
    with sessions.begin() as s:
        result = apply_batch(s, subs, 1764000000000)
    assert result.outcomes == [Outcome.APPROVED] * 3
    assert [seq for seq, _p in result.events["v1"]] == [1, 2, 3]
    with sessions() as s:
        stored = [s.get(Comment, x.id) for x in subs]
        assert [(c.status, c.seq, c.reason) for c in stored if c] == [("approved", i, None) for i in (1, 2, 3)]
        payloads = s.scalars(select(LiveEvent.payload).order_by(LiveEvent.seq)).all()
        views = [comment_view(c) for c in stored if c]
    assert [orjson.loads(p) for p in payloads] == [comment_event(i + 1, v) for i, v in enumerate(views)]
    assert [p.encode() for p in payloads] == [p for _s, p in result.events["v1"]]  # encoded once, sent as stored
    assert result.approved == views


def test_a_pending_row_twice_in_one_batch_is_decided_once(sessions: sessionmaker[Session]) -> None:
    one = pending(sessions)
    assert run(sessions, [one, one, sub()]) == [Outcome.APPROVED, Outcome.DUPLICATE, Outcome.APPROVED]
    assert row(sessions, one.id).seq == 1


@pytest.mark.parametrize("status", ["approved", "held", "rejected", "deleted"])
def test_an_already_decided_id_changes_nothing(sessions: sessionmaker[Session], status: str) -> None:
    one = pending(sessions)
    with sessions.begin() as s:
        c = s.get(Comment, one.id)
        assert c is not None
        c.status, c.reason = status, "earlier"
    assert run(sessions, [one]) == [Outcome.DUPLICATE]
    after = row(sessions, one.id)
    assert (after.status, after.seq, after.reason) == (status, None, "earlier")
    with sessions() as s:
        assert s.scalars(select(LiveEvent)).all() == []
        assert s.get(Video, "v1").last_seq == 0  # type: ignore[union-attr]


def test_a_submission_naming_another_video_than_its_row_is_a_duplicate(sessions: sessionmaker[Session]) -> None:
    one = pending(sessions, video="v1")
    moved = Submission(one.id, "v2", one.user_id, one.user_name, one.text, None, one.ts)
    assert run(sessions, [moved]) == [Outcome.DUPLICATE]
    assert row(sessions, one.id).status == "pending"


def test_parents_in_the_database_and_in_the_batch(sessions: sessionmaker[Session]) -> None:
    parent = pending(sessions)
    first = pending(sessions, parent=parent.id)
    assert run(sessions, [parent, first, sub(parent=parent.id)]) == [Outcome.APPROVED] * 3
    assert row(sessions, parent.id).reply_count == 2
    assert run(sessions, [sub(parent=parent.id)]) == [Outcome.APPROVED]
    assert row(sessions, parent.id).reply_count == 3
    nested = pending(sessions, parent=first.id)
    assert run(sessions, [nested, sub(parent=str(ULID()))]) == [Outcome.REJECTED] * 2
    assert row(sessions, nested.id).reason == "reply_to_reply"
    assert row(sessions, first.id).reply_count == 0


def test_a_reply_to_a_parent_rejected_in_the_same_batch(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        video = s.get(Video, "v1")
        assert video is not None
        video.blocked_terms = ["zorblax"]
    bad = sub(text="zorblax!")
    reply = sub(parent=bad.id)
    assert run(sessions, [bad, reply]) == [Outcome.REJECTED, Outcome.REJECTED]
    assert row(sessions, bad.id).reason == "blocked_term"
    assert row(sessions, reply.id).reason == "parent_unavailable"
    assert row(sessions, bad.id).reply_count == 0


def test_bans_active_and_expired(sessions: sessionmaker[Session]) -> None:
    now = 1764000000000
    with sessions.begin() as s:
        s.add(Ban(video_id="v1", user_id="mallory", until_ms=None, by_user_id="mod", created_ts=0))
        s.add(Ban(video_id="v1", user_id="timeout", until_ms=now + 1000, by_user_id="mod", created_ts=0))
        s.add(Ban(video_id="v1", user_id="served", until_ms=now - 1, by_user_id="mod", created_ts=0))
        s.add(Ban(video_id="v2", user_id="u1", until_ms=None, by_user_id="mod", created_ts=0))  # another video
    subs = [pending(sessions, user=u) for u in ("mallory", "timeout", "served", "u1")]
    assert run(sessions, subs) == [Outcome.REJECTED, Outcome.REJECTED, Outcome.APPROVED, Outcome.APPROVED]
    assert [row(sessions, x.id).reason for x in subs] == ["banned", "banned", None, None]


def test_ended_video_closed_chat_and_moderators(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        v1, v2 = s.get(Video, "v1"), s.get(Video, "v2")
        assert v1 is not None and v2 is not None
        v1.chat = "closed"
        v2.status = "ended"
    viewer, mod, ended = pending(sessions), pending(sessions, by_moderator=True), pending(sessions, video="v2")
    mod_ended = pending(sessions, video="v2", by_moderator=True)  # an ended video refuses moderators too
    outcomes = run(sessions, [viewer, mod, ended, mod_ended])
    assert outcomes == [Outcome.REJECTED, Outcome.APPROVED, Outcome.REJECTED, Outcome.REJECTED]
    reasons = [row(sessions, x.id).reason for x in (viewer, mod, ended, mod_ended)]
    assert reasons == ["chat_closed", None, "video_ended", "video_ended"]
    with sessions() as s:
        assert s.get(Video, "v1").last_seq == 1 and s.get(Video, "v2").last_seq == 0  # type: ignore[union-attr]


def test_a_reply_needs_an_approved_parent_as_at_the_door(sessions: sessionmaker[Session]) -> None:
    """The one rule (moderation.decision): a parent still pending is not approved yet, so a reply
    to it is rejected, as the web app refuses it (404); a parent approved earlier in the same
    batch is fine."""
    waiting = pending(sessions)  # recorded by the web app, not decided yet
    reply = sub(parent=waiting.id)
    first, second = sub(), sub()
    outcomes = run(sessions, [reply, first, sub(parent=first.id), second])
    assert outcomes == [Outcome.REJECTED, Outcome.APPROVED, Outcome.APPROVED, Outcome.APPROVED]
    assert row(sessions, reply.id).reason == "parent_unavailable"


def test_the_rules_apply_in_decides_order(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        s.add(Ban(video_id="v1", user_id="mallory", until_ms=None, by_user_id="mod", created_ts=0))
        video = s.get(Video, "v1")
        assert video is not None
        video.blocked_terms = ["zorblax"]
    banned_term = pending(sessions, user="mallory", text="zorblax")
    banned_orphan = pending(sessions, user="mallory", parent=str(ULID()))
    banned = pending(sessions, user="mallory")
    assert run(sessions, [banned_term, banned_orphan, banned]) == [Outcome.REJECTED] * 3
    reasons = [row(sessions, x.id).reason for x in (banned_term, banned_orphan, banned)]
    assert reasons == ["blocked_term", "unknown_parent", "banned"]
    with sessions.begin() as s:
        video = s.get(Video, "v1")
        assert video is not None
        video.chat = "closed"
    closed = pending(sessions, user="mallory", text="zorblax")
    assert run(sessions, [closed]) == [Outcome.REJECTED] and row(sessions, closed.id).reason == "chat_closed"


def test_held_comments_get_no_seq_and_mixed_videos_number_apart(sessions: sessionmaker[Session]) -> None:
    subs = [sub("v1"), sub("v2"), sub("v1"), pending(sessions, video="v2"), sub("nope")]
    outcomes = run(sessions, subs)
    assert outcomes == [Outcome.APPROVED, Outcome.HELD, Outcome.APPROVED, Outcome.HELD, Outcome.REJECTED]
    assert [row(sessions, x.id).seq for x in subs[:4]] == [1, None, 2, None]
    assert row(sessions, subs[3].id).reason == "hold_for_review"


def test_events_others_appended_come_first(sessions: sessionmaker[Session]) -> None:
    assert run(sessions, [sub()]) == [Outcome.APPROVED]  # seq 1
    with sessions.begin() as s:  # the web app deletes something: seq 2
        video = s.get(Video, "v1", with_for_update=True)
        assert video is not None
        append_event(s, video, lambda seq: delete_event(seq, "01JDQ3AAAAAAAAAAAAAAAAAAAA"))
    with sessions.begin() as s:
        result = apply_batch(s, [sub()], 1764000000000, known={"v1": 1})
    assert [seq for seq, _p in result.events["v1"]] == [2, 3] and result.last_seq == {"v1": 3}
    assert orjson.loads(result.events["v1"][0][1])["type"] == "delete"
    with sessions.begin() as s:  # a fresh bridge knows nothing: every unpublished event, in order
        result = apply_batch(s, [sub()], 1764000000000, known={})
    assert [seq for seq, _p in result.events["v1"]] == [1, 2, 3, 4]
    with sessions.begin() as s:
        result = apply_batch(s, [sub()], 1764000000000, known={"v1": 4})
    assert [seq for seq, _p in result.events["v1"]] == [5]


def test_statements_per_batch_do_not_grow_with_its_size(sessions: sessionmaker[Session]) -> None:
    def statements(subs: list[Submission]) -> int:
        seen: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            seen.append(statement)

        with sessions.begin() as s:
            engine = s.get_bind()
            event.listen(engine, "before_cursor_execute", count)
            try:
                apply_batch(s, subs, 1764000000000)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    parent = sub()
    run(sessions, [parent])
    small = [pending(sessions), sub(parent=parent.id)]
    large = [pending(sessions) for _ in range(30)] + [sub(parent=parent.id) for _ in range(30)]
    n = statements(small)
    assert n >= 5 and statements(large) == n


def test_texts_screened_before_the_transaction_decide_as_inside_it(sessions: sessionmaker[Session]) -> None:
    """bridge.apply.prescreen runs while the batch before commits; it changes no decision, and a screen
    made with another matcher, or of another text than the row's, is done again in the transaction."""
    with sessions.begin() as s:
        v1, v2 = s.get(Video, "v1"), s.get(Video, "v2")
        assert v1 is not None and v2 is not None
        v1.blocked_terms = ["zorblax"]
        v2.blocked_terms = ["zorblax"]  # v2 holds for review
    with sessions.begin() as s:
        terms = apply_batch(s, [sub(), sub("v2")], 1764000000000).terms
    assert set(terms) == {"v1", "v2"}
    blocked, clean = sub(text="you Z0RBL4X"), sub(text="zebra blanket axe")
    held_blocked, held = sub("v2", text="zorblax!"), sub("v2", text="fine")
    stale = sub(text="a zorblax here")
    claimed = pending(sessions, text="zorblax again")  # the row's text is what counts, not the message's
    liar = Submission(claimed.id, "v1", "u1", "Alice", "harmless", None, claimed.ts)
    batch = [blocked, clean, held_blocked, held, stale, liar]
    screened = prescreen(batch, terms)
    assert set(screened) == {s.id for s in batch}
    screened[stale.id] = Screened(stale.text, matcher_for(("other",)), None)  # another matcher: redone
    with sessions.begin() as s:
        outcomes = apply_batch(s, batch, 1764000000000, screened=screened).outcomes
    assert outcomes == [Outcome.REJECTED, Outcome.APPROVED, Outcome.REJECTED, Outcome.HELD, Outcome.REJECTED,
                        Outcome.REJECTED]
    assert row(sessions, held_blocked.id).reason == "blocked_term" and row(sessions, liar.id).reason == "blocked_term"
    assert row(sessions, stale.id).reason == "blocked_term" and row(sessions, held.id).reason == "hold_for_review"
