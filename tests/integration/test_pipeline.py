"""The comment pipeline end to end: real amqtt broker, bridge and web app processes,
real HTTP and real paho clients, each on free loopback ports."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import requests
from sqlalchemy import func, select
from ulid import ULID

from livecomments.models import Comment
from livecomments.wire import Submission, submissions_to_json
from tests.support.mqtt import publish
from tests.support.system import System


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


def test_post_reaches_viewers_in_order_and_late_joiners_get_recent(system: System) -> None:
    assert system.api.create_video("v1").status_code == 201
    live = system.viewer("live/videos/v1/comments", "live/videos/v1/recent")
    ids = []
    for text in ("first", "second", "third"):
        r = system.api.post("v1", text)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "accepted"
        ids.append(r.json()["id"])
    live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) >= 3)
    events = live.events("live/videos/v1/comments")
    assert seqs(events) == [1, 2, 3]
    assert [e["type"] for e in events] == ["comment"] * 3
    first = events[0]["comment"]
    assert first["id"] == ids[0] and first["text"] == "first" and first["seq"] == 1
    assert first["user"] == {"id": "alice", "name": "Alice"} and first["parent_id"] is None
    assert first["reply_count"] == 0 and first["reactions"] == {} and isinstance(first["ts"], int)

    live.wait_for(lambda _m: any(m.json()["seq"] == 3 for m in live.on("live/videos/v1/recent")))
    late = system.viewer("live/videos/v1/recent", "live/videos/v1/ticker")
    late.wait_for(lambda _m: bool(late.on("live/videos/v1/recent")) and bool(late.on("live/videos/v1/ticker")))
    recent = late.on("live/videos/v1/recent")[0]
    assert recent.retain
    doc = recent.json()
    assert doc["seq"] == 3 and [c["id"] for c in doc["comments"]] == ids  # oldest first
    assert late.on("live/videos/v1/ticker")[-1].payload == b"Alice: third"
    live.close()
    late.close()


def test_ticker_is_cut_to_160_bytes_on_a_character_boundary(system: System) -> None:
    system.api.create_video("v1")
    assert system.api.post("v1", "ü" * 300).status_code == 202
    board = system.viewer("live/videos/v1/ticker")
    board.wait_for(lambda _m: any(m.payload.startswith(b"Alice: ") for m in board.on("live/videos/v1/ticker")))
    text = board.on("live/videos/v1/ticker")[-1].payload
    assert len(text) <= 160
    assert text.decode().endswith("…") and text.decode().startswith("Alice: üü")
    board.close()


def test_replies_carry_parent_and_count(system: System) -> None:
    system.api.create_video("v1")
    live = system.viewer("live/videos/v1/comments")
    parent = system.api.post("v1", "question?").json()["id"]
    live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) >= 1)
    reply = system.api.post("v1", "answer", user="bob", parent_id=parent)
    assert reply.status_code == 202
    live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) >= 2)
    event = live.events("live/videos/v1/comments")[1]
    assert event["comment"]["parent_id"] == parent and event["seq"] == 2
    assert system.api.post("v1", "nested", parent_id=reply.json()["id"]).status_code == 400
    body = system.api.comment(parent).json()
    assert body["reply_count"] == 1 and body["status"] == "approved"
    replies = system.api.history("v1", parent_id=parent).json()["comments"]
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
    system: System, case: str, kwargs: dict[str, Any], status: int
) -> None:
    system.api.create_video("v1")
    live = system.viewer("live/videos/v1/comments")
    headers = {**system.api.headers("alice"), **kwargs.pop("headers", {})}
    r = requests.post(f"{system.api.base}/api/videos/v1/comments", headers=headers, timeout=10, **kwargs)
    assert r.status_code == status, r.text
    assert set(r.json()["error"]) == {"code", "message"}
    # a good post afterwards is the first and only thing that shows up
    good = system.api.post("v1", "good")
    live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) >= 1)
    assert [e["comment"]["id"] for e in live.events("live/videos/v1/comments")] == [good.json()["id"]]
    assert [c.id for c in system.rows("v1")] == [good.json()["id"]]
    live.close()


@pytest.mark.parametrize("video", ["a+b", "a%23b", "a%00b", "x" * 65, "a%2Fb"])
def test_hostile_video_ids_are_refused(system: System, video: str) -> None:
    r = requests.post(
        f"{system.api.base}/api/videos/{video}/comments", json={"text": "hi"}, headers=system.api.headers("alice"),
        timeout=10,
    )
    assert r.status_code in (400, 404), r.text
    assert "error" in r.json()
    with system.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == 0


def test_idempotent_retry_and_duplicated_ingest(system: System) -> None:
    system.api.create_video("v1")
    live = system.viewer("live/videos/v1/comments")
    first = system.api.post("v1", "once", **{"Idempotency-Key": "k-1"})
    again = system.api.post("v1", "once", **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]

    user, password = system.creds("webapp")
    dup_id = str(ULID())
    submission = orjson.dumps({
        "id": dup_id, "video_id": "v1", "user": {"id": "svc", "name": "Service"},
        "text": "from a service", "parent_id": None, "ts": 1764000000000,
    })
    for _ in range(2):
        publish(system.stack.mqtt_port, "ingest/videos/v1/comments", submission, user, password)
    marker = system.api.post("v1", "marker").json()["id"]
    live.wait_for(lambda _m: marker in [e["comment"]["id"] for e in live.events("live/videos/v1/comments")])
    ids = [e["comment"]["id"] for e in live.events("live/videos/v1/comments")]
    assert sorted(ids) == sorted([first.json()["id"], dup_id, marker])
    assert seqs(live.events("live/videos/v1/comments")) == [1, 2, 3]
    assert len(system.rows("v1")) == 3
    live.close()


MALFORMED = [
    b"not json",
    b"\xff\xfe\xfd",
    b'{"id": "x"}',
    orjson.dumps({"id": str(ULID()), "video_id": "a/b", "user": {"id": "u", "name": "U"}, "text": "t", "ts": 1}),
    orjson.dumps({"id": str(ULID()), "video_id": "v1", "user": {"id": "u#", "name": "U"}, "text": "t", "ts": 1}),
    orjson.dumps({"id": str(ULID()), "video_id": "v1", "user": {"id": "u", "name": "U"}, "text": "t" * 501, "ts": 1}),
    b"{" + b" " * (1024 * 1024) + b"}",
]


def test_malformed_ingest_is_rejected_counted_and_the_bridge_goes_on(system: System) -> None:
    system.api.create_video("v1")
    live = system.viewer("live/videos/v1/comments")
    user, password = system.creds("webapp")
    before = system.bridge_metric("livecomments_bridge_ingest_messages_total", result="invalid")
    for payload in MALFORMED:
        publish(system.stack.mqtt_port, "ingest/videos/v1/comments", payload, user, password)
    good = system.api.post("v1", "still here").json()["id"]
    live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) >= 1)
    assert [e["comment"]["id"] for e in live.events("live/videos/v1/comments")] == [good]
    after = system.bridge_metric("livecomments_bridge_ingest_messages_total", result="invalid")
    assert after - before == len(MALFORMED)
    assert [c.id for c in system.rows("v1")] == [good]
    live.close()


def test_anonymous_publishes_reach_no_one_and_create_nothing(system: System) -> None:
    system.api.create_video("v1")
    live = system.viewer("live/videos/v1/comments")
    forged = orjson.dumps({
        "id": str(ULID()), "video_id": "v1", "user": {"id": "mallory", "name": "M"},
        "text": "forged", "parent_id": None, "ts": 1764000000000,
    })
    publish(system.stack.mqtt_port, "ingest/videos/v1/comments", forged)
    fake_event = orjson.dumps({"video_id": "v1", "events": [{"type": "delete", "seq": 99, "id": str(ULID())}]})
    publish(system.stack.mqtt_port, "live/videos/v1/comments", fake_event)
    good = system.api.post("v1", "real").json()["id"]
    live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) >= 1)
    assert [e.get("comment", {}).get("id") for e in live.events("live/videos/v1/comments")] == [good]
    assert [c.id for c in system.rows("v1")] == [good]
    live.close()


def test_an_ingest_array_keeps_its_valid_submissions_and_counts_the_invalid(system: System) -> None:
    system.api.create_video("v1")
    live = system.viewer("live/videos/v1/comments")
    user, password = system.creds("webapp")
    before = system.bridge_metric("livecomments_bridge_ingest_messages_total", result="invalid")
    good = [Submission(str(ULID()), "v1", "svc", "Service", f"batched {i}", None, 1764000000000) for i in range(3)]
    bad = {**good[0].to_doc(), "id": "not-a-ulid"}
    payload = orjson.dumps([good[0].to_doc(), bad, good[1].to_doc(), good[1].to_doc(), good[2].to_doc()])
    publish(system.stack.mqtt_port, "ingest/videos/v1/comments", payload, user, password)
    publish(system.stack.mqtt_port, "ingest/videos/v1/comments", submissions_to_json(good), user, password)  # again
    marker = system.api.post("v1", "marker").json()["id"]
    live.wait_for(lambda _m: marker in [e["comment"]["id"] for e in live.events("live/videos/v1/comments")])
    events = live.events("live/videos/v1/comments")
    assert [e["comment"]["id"] for e in events] == [s.id for s in good] + [marker]  # each once, in order
    assert seqs(events) == [1, 2, 3, 4]
    after = system.bridge_metric("livecomments_bridge_ingest_messages_total", result="invalid")
    assert after - before == 1
    assert [c.id for c in system.rows("v1")] == [s.id for s in good] + [marker]
    live.close()
