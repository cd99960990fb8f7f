"""The comment pipeline end to end: real amqtt broker, bridge and web app processes,
real HTTP and real paho clients, each on free loopback ports.

Every test here keeps to a video of its own (the `video` fixture), compares the bridge's counters
before and after, and stops, restarts or reconfigures nothing, so the module shares one system per
database (`shared_system`) rather than starting one per test."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import orjson
import pytest
import requests
from sqlalchemy import func, select
from ulid import ULID

from livecomments.models import Comment
from livecomments.wire import Submission, submissions_to_json
from tests.support.mqtt import publish
from tests.support.system import System


@pytest.fixture
def system(shared_system: System) -> System:
    """The module's system, once on SQLite and once on PostgreSQL (overrides the per-test one)."""
    return shared_system


@pytest.fixture
def video() -> str:
    """A video id of the test's own: its seq numbers start at 1, its history and rows are only the
    test's, and so are users' rate limits on it."""
    return f"v{uuid4().hex[:12]}"


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


def test_post_reaches_viewers_in_order_and_late_joiners_get_recent(system: System, video: str) -> None:
    comments, recent_topic, ticker = (f"live/videos/{video}/{leaf}" for leaf in ("comments", "recent", "ticker"))
    assert system.api.create_video(video).status_code == 201
    live = system.viewer(comments, recent_topic)
    ids = []
    for text in ("first", "second", "third"):
        r = system.api.post(video, text)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "accepted"
        ids.append(r.json()["id"])
    live.wait_for(lambda _m: len(live.events(comments)) >= 3)
    events = live.events(comments)
    assert seqs(events) == [1, 2, 3]
    assert [e["type"] for e in events] == ["comment"] * 3
    first = events[0]["comment"]
    assert first["id"] == ids[0] and first["text"] == "first" and first["seq"] == 1
    assert first["user"] == {"id": "alice", "name": "Alice"} and first["parent_id"] is None
    assert first["reply_count"] == 0 and first["reactions"] == {} and isinstance(first["ts"], int)

    live.wait_for(lambda _m: any(m.json()["seq"] == 3 for m in live.on(recent_topic)))
    late = system.viewer(recent_topic, ticker)
    late.wait_for(lambda _m: bool(late.on(recent_topic)) and bool(late.on(ticker)))
    recent = late.on(recent_topic)[0]
    assert recent.retain
    doc = recent.json()
    assert doc["seq"] == 3 and [c["id"] for c in doc["comments"]] == ids  # oldest first
    assert late.on(ticker)[-1].payload == b"Alice: third"
    live.close()
    late.close()


def test_ticker_is_cut_to_160_bytes_on_a_character_boundary(system: System, video: str) -> None:
    ticker = f"live/videos/{video}/ticker"
    assert system.api.create_video(video).status_code == 201
    assert system.api.post(video, "ü" * 300).status_code == 202
    board = system.viewer(ticker)
    board.wait_for(lambda _m: any(m.payload.startswith(b"Alice: ") for m in board.on(ticker)))
    text = board.on(ticker)[-1].payload
    assert len(text) <= 160
    assert text.decode().endswith("…") and text.decode().startswith("Alice: üü")
    board.close()


def test_replies_carry_parent_and_count(system: System, video: str) -> None:
    comments = f"live/videos/{video}/comments"
    assert system.api.create_video(video).status_code == 201
    live = system.viewer(comments)
    parent = system.api.post(video, "question?").json()["id"]
    live.wait_for(lambda _m: len(live.events(comments)) >= 1)
    reply = system.api.post(video, "answer", user="bob", parent_id=parent)
    assert reply.status_code == 202
    live.wait_for(lambda _m: len(live.events(comments)) >= 2)
    event = live.events(comments)[1]
    assert event["comment"]["parent_id"] == parent and event["seq"] == 2
    assert system.api.post(video, "nested", parent_id=reply.json()["id"]).status_code == 400
    body = system.api.comment(parent).json()
    assert body["reply_count"] == 1 and body["status"] == "approved"
    replies = system.api.history(video, parent_id=parent).json()["comments"]
    assert [c["text"] for c in replies] == ["answer"]
    live.close()


BAD_POSTS: list[tuple[str, dict[str, Any], int]] = [
    ("empty", {"json": {"text": ""}}, 400),
    ("whitespace", {"json": {"text": "  \n "}}, 400),
    ("too long", {"json": {"text": "x" * 501}}, 400),
    ("control", {"json": {"text": "a\x1bb"}}, 400),
    ("wrong type", {"json": {"text": 5}}, 400),
    ("bad json", {"data": b"{text:", "headers": {"Content-Type": "application/json"}}, 400),
    ("bad utf-8", {"data": b'{"text": "\xff"}', "headers": {"Content-Type": "application/json"}}, 400),
    ("too big", {"json": {"text": "x" * 9000}}, 413),
    ("unknown parent", {"json": {"text": "hi", "parent_id": str(ULID())}}, 404),
]


@pytest.mark.parametrize(("case", "kwargs", "status"), BAD_POSTS, ids=[c[0] for c in BAD_POSTS])
def test_bad_posts_get_their_status_and_change_nothing(
    system: System, video: str, case: str, kwargs: dict[str, Any], status: int
) -> None:
    comments = f"live/videos/{video}/comments"
    assert system.api.create_video(video).status_code == 201
    live = system.viewer(comments)
    kwargs = dict(kwargs)  # the case's own dict is shared by both databases' runs: popping it would lose the headers
    headers = {**system.api.headers("alice"), **kwargs.pop("headers", {})}
    r = requests.post(f"{system.api.base}/api/videos/{video}/comments", headers=headers, timeout=10, **kwargs)
    assert r.status_code == status, r.text
    assert set(r.json()["error"]) == {"code", "message"}
    # a good post afterwards is the first and only thing that shows up
    good = system.api.post(video, "good")
    live.wait_for(lambda _m: len(live.events(comments)) >= 1)
    assert [e["comment"]["id"] for e in live.events(comments)] == [good.json()["id"]]
    assert [c.id for c in system.rows(video)] == [good.json()["id"]]
    live.close()


def comment_count(system: System) -> int:
    """Every comment row of the system, whatever its video."""
    with system.sessions() as s:
        return s.scalar(select(func.count()).select_from(Comment)) or 0


@pytest.mark.parametrize("hostile", ["a+b", "a%23b", "a%00b", "x" * 65, "a%2Fb"])
def test_hostile_video_ids_are_refused(system: System, hostile: str) -> None:
    before = comment_count(system)  # no video's rows at all: the refused post may not land under any id
    r = requests.post(
        f"{system.api.base}/api/videos/{hostile}/comments", json={"text": "hi"}, headers=system.api.headers("alice"),
        timeout=10,
    )
    assert r.status_code in (400, 404), r.text
    assert "error" in r.json()
    assert comment_count(system) == before


def test_idempotent_retry_and_duplicated_ingest(system: System, video: str) -> None:
    comments = f"live/videos/{video}/comments"
    assert system.api.create_video(video).status_code == 201
    live = system.viewer(comments)
    key = f"k-{video}"  # keys are the user's, across videos: one of the test's own
    first = system.api.post(video, "once", **{"Idempotency-Key": key})
    again = system.api.post(video, "once", **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]

    user, password = system.creds("webapp")
    dup_id = str(ULID())
    submission = orjson.dumps({
        "id": dup_id, "video_id": video, "user": {"id": "svc", "name": "Service"},
        "text": "from a service", "parent_id": None, "ts": 1764000000000,
    })
    for _ in range(2):
        publish(system.stack.mqtt_port, f"ingest/videos/{video}/comments", submission, user, password)
    marker = system.api.post(video, "marker").json()["id"]
    live.wait_for(lambda _m: marker in [e["comment"]["id"] for e in live.events(comments)])
    ids = [e["comment"]["id"] for e in live.events(comments)]
    assert sorted(ids) == sorted([first.json()["id"], dup_id, marker])
    assert seqs(live.events(comments)) == [1, 2, 3]
    assert len(system.rows(video)) == 3
    live.close()


def malformed(video: str) -> list[bytes]:
    """Ingest payloads the bridge must refuse on `ingest/videos/{video}/comments`: those naming a
    video name the topic's, so that only their own fault is what is wrong with them."""
    return [
        b"not json",
        b"\xff\xfe\xfd",
        b'{"id": "x"}',
        orjson.dumps({"id": str(ULID()), "video_id": "a/b", "user": {"id": "u", "name": "U"}, "text": "t", "ts": 1}),
        orjson.dumps({"id": str(ULID()), "video_id": video, "user": {"id": "u#", "name": "U"}, "text": "t", "ts": 1}),
        orjson.dumps(
            {"id": str(ULID()), "video_id": video, "user": {"id": "u", "name": "U"}, "text": "t" * 501, "ts": 1}
        ),
        b"{" + b" " * (1024 * 1024) + b"}",
    ]


def test_malformed_ingest_is_rejected_counted_and_the_bridge_goes_on(system: System, video: str) -> None:
    comments = f"live/videos/{video}/comments"
    assert system.api.create_video(video).status_code == 201
    live = system.viewer(comments)
    user, password = system.creds("webapp")
    payloads = malformed(video)
    before = system.bridge_metric("livecomments_bridge_ingest_messages_total", result="invalid")
    for payload in payloads:
        publish(system.stack.mqtt_port, f"ingest/videos/{video}/comments", payload, user, password)
    good = system.api.post(video, "still here").json()["id"]
    live.wait_for(lambda _m: len(live.events(comments)) >= 1)
    assert [e["comment"]["id"] for e in live.events(comments)] == [good]
    after = system.bridge_metric("livecomments_bridge_ingest_messages_total", result="invalid")
    assert after - before == len(payloads)
    assert [c.id for c in system.rows(video)] == [good]
    live.close()


def test_anonymous_publishes_reach_no_one_and_create_nothing(system: System, video: str) -> None:
    comments = f"live/videos/{video}/comments"
    assert system.api.create_video(video).status_code == 201
    live = system.viewer(comments)
    forged = orjson.dumps({
        "id": str(ULID()), "video_id": video, "user": {"id": "mallory", "name": "M"},
        "text": "forged", "parent_id": None, "ts": 1764000000000,
    })
    publish(system.stack.mqtt_port, f"ingest/videos/{video}/comments", forged)
    fake_event = orjson.dumps({"video_id": video, "events": [{"type": "delete", "seq": 99, "id": str(ULID())}]})
    publish(system.stack.mqtt_port, comments, fake_event)
    good = system.api.post(video, "real").json()["id"]
    live.wait_for(lambda _m: len(live.events(comments)) >= 1)
    assert [e.get("comment", {}).get("id") for e in live.events(comments)] == [good]
    assert [c.id for c in system.rows(video)] == [good]
    live.close()


def test_an_ingest_array_keeps_its_valid_submissions_and_counts_the_invalid(system: System, video: str) -> None:
    comments, ingest = f"live/videos/{video}/comments", f"ingest/videos/{video}/comments"
    assert system.api.create_video(video).status_code == 201
    live = system.viewer(comments)
    user, password = system.creds("webapp")
    before = system.bridge_metric("livecomments_bridge_ingest_messages_total", result="invalid")
    good = [Submission(str(ULID()), video, "svc", "Service", f"batched {i}", None, 1764000000000) for i in range(3)]
    bad = {**good[0].to_doc(), "id": "not-a-ulid"}
    payload = orjson.dumps([good[0].to_doc(), bad, good[1].to_doc(), good[1].to_doc(), good[2].to_doc()])
    publish(system.stack.mqtt_port, ingest, payload, user, password)
    publish(system.stack.mqtt_port, ingest, submissions_to_json(good), user, password)  # again
    marker = system.api.post(video, "marker").json()["id"]
    live.wait_for(lambda _m: marker in [e["comment"]["id"] for e in live.events(comments)])
    events = live.events(comments)
    assert [e["comment"]["id"] for e in events] == [s.id for s in good] + [marker]  # each once, in order
    assert seqs(events) == [1, 2, 3, 4]
    after = system.bridge_metric("livecomments_bridge_ingest_messages_total", result="invalid")
    assert after - before == 1
    assert [c.id for c in system.rows(video)] == [s.id for s in good] + [marker]
    live.close()
