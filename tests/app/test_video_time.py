"""Video time and replay through the app (docs/contract.md, "Video time, and replay"), on SQLite
and PostgreSQL: pos_ms computed once when a comment is recorded (the post path's insert and the
bridge's, for other producers' submissions), carried in events, `recent`, history and one comment;
GET /api/videos/{v}/replay: its window rule, order, the 5,000 cut and its continuation, ETag/304,
Cache-Control, and an ETag that changes when a moderator deletes a comment of the window."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from ulid import ULID

from bridge.apply import apply_batch
from bridge.queries import recent_comments, unpublished_events
from livecomments.models import Comment, CommentStatus
from livecomments.wire import Submission
from tests.support.web import Auth, MakeApp, add_comment, add_video, comment_rows
from webapp.extensions import db
from webapp.replay import MAX_REPLAY_COMMENTS
from webapp.schemas import CommentWithStatus, Replay

ADMIN = Auth().admin()
MOD = Auth().moderator()
ALICE = Auth().headers("alice", "Alice")
START = 1_764_000_000_000


@pytest.fixture
def app(make_app: MakeApp, database_url: str) -> Flask:
    """On SQLite and on PostgreSQL (conftest's `client` is this app's)."""
    return make_app(database_url=database_url)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def replay(client: FlaskClient, video_id: str = "v1", headers: dict[str, str] | None = None, **params: Any) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"/api/videos/{video_id}/replay?{query}", headers=headers or {})


def at(app: Flask, pos_ms: int, seq: int, status: str = CommentStatus.APPROVED, **fields: Any) -> str:
    """A comment at pos_ms in v1 (started at START), numbered seq."""
    return add_comment(app, "v1", seq, status=status, text=f"at {pos_ms} #{seq}", pos_ms=pos_ms, **fields)


def texts(resp: Any) -> list[str]:
    return [c["text"] for c in resp.get_json()["comments"]]


# --- pos_ms ----------------------------------------------------------------------------------


def test_a_posted_comment_carries_its_place_in_the_video(client: FlaskClient, app: Flask) -> None:
    started = now_ms() - 90_000
    assert client.post("/api/videos", json={"id": "v1", "title": "t", "started_ts": started},
                       headers=ADMIN).status_code == 201
    resp = client.post("/api/videos/v1/comments", json={"text": "hello"}, headers=ALICE)
    assert resp.status_code == 202
    (row,) = comment_rows(app)
    assert row.pos_ms == row.ts - started and 90_000 <= row.pos_ms < 200_000
    own = client.get(f"/api/comments/{resp.get_json()['id']}", headers=ALICE).get_json()
    CommentWithStatus.model_validate(own)
    assert (own["status"], own["pos_ms"]) == ("pending", row.pos_ms)


def test_a_comment_before_the_video_started_is_at_0(client: FlaskClient, app: Flask) -> None:
    add_video(app, "v1", started_ts=now_ms() + 3_600_000)  # rows may say so; the API refuses a future start
    assert client.post("/api/videos/v1/comments", json={"text": "early"}, headers=ALICE).status_code == 202
    assert [c.pos_ms for c in comment_rows(app)] == [0]


def test_the_bridge_gives_other_producers_comments_their_pos_ms_and_sends_it(app: Flask) -> None:
    add_video(app, "v1", created_ts=START, started_ts=START - 5000)
    add_comment(app, "v1", None, status=CommentStatus.PENDING, text="posted", pos_ms=6000)  # as the door stored it
    with app.app_context():
        door = db.session.scalars(select(Comment)).one()
        recorded = Submission(door.id, "v1", door.user_id, door.user_name, door.text, None, door.ts)
        other = Submission(str(ULID()), "v1", "u2", "Bob", "from a service", None, START + 2500)
        early = Submission(str(ULID()), "v1", "u2", "Bob", "before", None, START - 9000)
        session: Session = db.session()
        result = apply_batch(session, [recorded, other, early], START + 3000)
        session.commit()
        assert [c["pos_ms"] for c in result.approved] == [6000, 7500, 0]
        stored = {c.id: c.pos_ms for c in db.session.scalars(select(Comment))}
        assert stored == {recorded.id: 6000, other.id: 7500, early.id: 0}
        events = unpublished_events(session, "v1")
        assert [e["comment"]["pos_ms"] for e in events] == [6000, 7500, 0]
        assert [c["pos_ms"] for c in recent_comments(session, "v1", 10)] == [6000, 7500, 0]
        db.session.rollback()


def test_history_carries_pos_ms(client: FlaskClient, app: Flask) -> None:
    add_video(app, "v1", created_ts=START, started_ts=START)
    at(app, 4242, 1)
    (comment,) = client.get("/api/videos/v1/comments").get_json()["comments"]
    assert comment["pos_ms"] == 4242
    assert client.get(f"/api/comments/{comment['id']}").get_json()["pos_ms"] == 4242


# --- the replay ------------------------------------------------------------------------------


@pytest.fixture
def video(app: Flask) -> None:
    add_video(app, "v1", created_ts=START, started_ts=START)


def test_the_window_by_pos_ms_then_seq_approved_only(client: FlaskClient, app: Flask, video: None) -> None:
    parent = at(app, 1000, 1)
    at(app, 3000, 2)
    at(app, 2000, 4, parent_id=parent)  # a reply, numbered after a later comment
    at(app, 2000, 3)
    at(app, 2500, None, status=CommentStatus.PENDING)
    at(app, 2600, 5, status=CommentStatus.HELD)
    at(app, 2700, 6, status=CommentStatus.DELETED)
    at(app, 2800, 7, status=CommentStatus.REJECTED)
    at(app, 0, 8)
    at(app, 5000, 9)  # to_ms is excluded

    resp = replay(client, from_ms=1000, to_ms=5000)
    assert resp.status_code == 200
    body = resp.get_json()
    Replay.model_validate(body)
    assert (body["video_id"], body["from_ms"], body["to_ms"], body["truncated"]) == ("v1", 1000, 5000, False)
    assert texts(resp) == ["at 1000 #1", "at 2000 #3", "at 2000 #4", "at 3000 #2"]
    assert body["comments"][2]["parent_id"] == parent
    assert texts(replay(client, from_ms=0, to_ms=1000)) == ["at 0 #8"]
    assert texts(replay(client, from_ms=4000, to_ms=604000)) == ["at 5000 #9"]


def test_reactions_come_with_the_comments(client: FlaskClient, app: Flask, video: None) -> None:
    cid = at(app, 10, 1)
    assert client.put(f"/api/comments/{cid}/reactions/love", headers=ALICE).status_code == 204
    assert replay(client, from_ms=0, to_ms=100).get_json()["comments"][0]["reactions"] == {"love": 1}


BAD_WINDOWS = [
    "from_ms=0", "to_ms=10", "", "from_ms=10&to_ms=10", "from_ms=11&to_ms=10", "from_ms=0&to_ms=600001",
    "from_ms=5&to_ms=600006", "from_ms=-1&to_ms=10", "from_ms=0&to_ms=1.5", "from_ms=x&to_ms=10",
    "from_ms=0&to_ms=10&after_seq=-1", f"from_ms={2**53}&to_ms={2**53 + 1}",
]


def test_windows_out_of_range_are_a_400(client: FlaskClient, video: None) -> None:
    for query in BAD_WINDOWS:
        resp = client.get(f"/api/videos/v1/replay?{query}")
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid", query


def test_the_longest_window_is_600000_ms(client: FlaskClient, app: Flask, video: None) -> None:
    at(app, 599_999, 1)
    at(app, 600_000, 2)
    assert texts(replay(client, from_ms=0, to_ms=600_000)) == ["at 599999 #1"]


def test_unknown_video_is_a_404(client: FlaskClient) -> None:
    assert replay(client, "nope", from_ms=0, to_ms=10).status_code == 404
    assert replay(client, "bad.id", from_ms=0, to_ms=10).status_code == 400


def _many(app: Flask, positions: list[int]) -> None:
    """Approved comments of v1 at these pos_ms, numbered 1, 2, … in that order."""
    rows = [
        {"id": str(ULID()), "video_id": "v1", "seq": n, "parent_id": None, "user_id": "u1", "user_name": "U",
         "text": f"#{n}", "ts": START + pos, "status": "approved", "reply_count": 0, "idempotency_key": None,
         "reason": None, "by_moderator": False, "pos_ms": pos}
        for n, pos in enumerate(positions, start=1)
    ]
    with app.app_context():
        db.session.execute(insert(Comment), rows)
        db.session.commit()


def test_a_truncated_window_continues_with_nothing_lost_and_nothing_twice(
    client: FlaskClient, app: Flask, video: None
) -> None:
    # 5,003 comments; the 4,998th to the 5,003rd share pos_ms 9000, across the cut at 5,000
    limit = MAX_REPLAY_COMMENTS
    positions = [n // 2 for n in range(limit - 3)] + [9000] * 6
    _many(app, positions)
    first = replay(client, from_ms=0, to_ms=600_000).get_json()
    assert first["truncated"] is True and len(first["comments"]) == limit
    last = first["comments"][-1]
    assert (last["pos_ms"], last["seq"]) == (9000, limit)

    # with after_seq: exactly the rest
    rest = replay(client, from_ms=last["pos_ms"], to_ms=600_000, after_seq=last["seq"]).get_json()
    assert rest["truncated"] is False
    assert [c["seq"] for c in first["comments"] + rest["comments"]] == list(range(1, limit + 4))

    # the contract's bare rule (from_ms = the last pos_ms): nothing lost; the comments at that
    # pos_ms already received come again, and only they
    bare = replay(client, from_ms=last["pos_ms"], to_ms=600_000).get_json()
    assert [c["seq"] for c in bare["comments"]] == list(range(limit - 2, limit + 4))
    seen = {c["id"] for c in first["comments"]}
    again = [c for c in bare["comments"] if c["id"] in seen]
    assert {c["pos_ms"] for c in again} == {9000}
    assert seen | {c["id"] for c in bare["comments"]} == {c["id"] for c in first["comments"] + rest["comments"]}


def test_exactly_5000_is_not_truncated(client: FlaskClient, app: Flask, video: None) -> None:
    _many(app, list(range(MAX_REPLAY_COMMENTS)))
    body = replay(client, from_ms=0, to_ms=600_000).get_json()
    assert body["truncated"] is False and len(body["comments"]) == MAX_REPLAY_COMMENTS


def test_etag_and_if_none_match(client: FlaskClient, app: Flask, video: None) -> None:
    at(app, 10, 1)
    first = replay(client, from_ms=0, to_ms=1000)
    tag = first.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 8
    assert replay(client, from_ms=0, to_ms=1000).headers["ETag"] == tag  # the same answer, the same tag
    for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        cached = replay(client, from_ms=0, to_ms=1000, headers={"If-None-Match": sent})
        assert cached.status_code == 304, sent
        assert cached.get_data() == b""
        assert cached.headers["ETag"] == tag and cached.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert replay(client, from_ms=0, to_ms=1000, headers={"If-None-Match": '"other"'}).status_code == 200
    assert replay(client, from_ms=0, to_ms=999).headers["ETag"] != tag  # another window, another answer


def test_cache_control_live_then_ended(client: FlaskClient, app: Flask) -> None:
    assert client.post("/api/videos", json={"id": "v1", "title": "t"}, headers=ADMIN).status_code == 201
    assert replay(client, from_ms=0, to_ms=10).headers["Cache-Control"] == "public, no-cache"
    assert client.patch("/api/videos/v1", json={"status": "ended"}, headers=ADMIN).status_code == 200
    assert replay(client, from_ms=0, to_ms=10).headers["Cache-Control"] == "public, max-age=60"


def test_the_etag_changes_when_a_moderator_deletes_a_comment_of_the_window(
    client: FlaskClient, app: Flask, video: None
) -> None:
    keep = at(app, 100, 1)
    gone = at(app, 200, 2)
    outside = at(app, 5000, 3)
    assert client.patch("/api/videos/v1", json={"status": "ended"}, headers=ADMIN).status_code == 200
    before = replay(client, from_ms=0, to_ms=1000)
    tag = before.headers["ETag"]
    assert client.delete(f"/api/comments/{outside}", headers=MOD).status_code == 204
    assert replay(client, from_ms=0, to_ms=1000, headers={"If-None-Match": tag}).status_code == 304

    assert client.delete(f"/api/comments/{gone}", headers=MOD).status_code == 204
    after = replay(client, from_ms=0, to_ms=1000, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["ETag"] != tag
    assert [c["id"] for c in after.get_json()["comments"]] == [keep]


def test_the_replay_query_uses_its_index(app: Flask, video: None) -> None:
    """The plan of the replay's query reads ix_comments_replay (SQLite and PostgreSQL alike)."""
    from webapp.video_store import ReplayWindow, replay_query

    with app.app_context():
        stmt = replay_query(ReplayWindow("v1", 0, 1000, 5), 5001)
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            db.session.execute(db.text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in db.session.execute(db.text(f"EXPLAIN {compiled}")))
        else:
            plan = " ".join(str(r[-1]) for r in db.session.execute(db.text(f"EXPLAIN QUERY PLAN {compiled}")))
        db.session.rollback()
    assert "ix_comments_replay" in plan, plan

