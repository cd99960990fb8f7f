"""Moderation and reactions through HTTP and MQTT, with real broker, bridge and web app.

One system per module and database (`shared_system`): every test has a video of its own, so its
seq numbers, history, audit, bans, settings, pins and rate limits are only its own. The one test
that starts processes of its own configuration (the Redis limiter) keeps a stack of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import update

from infra.ports import free_port
from livecomments.models import Video
from tests.support.api import Api
from tests.support.mqtt import Collector, Received
from tests.support.stack import Stack
from tests.support.system import System
from tests.support.waiting import eventually


@pytest.fixture
def system(shared_system: System) -> System:
    """This module's tests share one system (per database); none stops, restarts or reconfigures
    a process of it. A test that must, takes `stack` (as the Redis limiter test does)."""
    return shared_system


@pytest.fixture
def video() -> str:
    """A video id of the test's own."""
    return f"v{uuid4().hex[:10]}"


@dataclass
class Live:
    """The test's own live video, and a viewer subscribed to its comments, recent, state and reactions."""

    video: str
    viewer: Collector

    @property
    def comments(self) -> str:
        return f"live/videos/{self.video}/comments"

    @property
    def recent(self) -> str:
        return f"live/videos/{self.video}/recent"

    @property
    def state(self) -> str:
        return f"live/videos/{self.video}/state"

    @property
    def reactions(self) -> str:
        return f"live/videos/{self.video}/reactions"

    def on(self, topic: str) -> list[Received]:
        return self.viewer.on(topic)

    def events(self) -> list[dict[str, Any]]:
        """Every event received on the video's comments topic, in arrival order."""
        return self.viewer.events(self.comments)

    def latest(self, topic: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.viewer.on(topic)[-1].json()
        return doc

    def last_delete(self) -> dict[str, Any]:
        deletes = [e for e in self.events() if e["type"] == "delete"]
        return deletes[-1] if deletes else {}

    def wait_for(self, predicate: Callable[[list[Received]], bool]) -> list[Received]:
        return self.viewer.wait_for(predicate)


@pytest.fixture
def live(system: System, video: str) -> Iterator[Live]:
    assert system.api.create_video(video).status_code == 201
    viewer = Collector(system.stack.mqtt_port, *(f"live/videos/{video}/{t}"
                                                  for t in ("comments", "recent", "state", "reactions")))
    yield Live(video, viewer)
    viewer.close()


def post_and_see(system: System, live: Live, text: str, user: str = "alice") -> str:
    r = system.api.post(live.video, text, user=user)
    assert r.status_code == 202, r.text
    cid = r.json()["id"]
    live.wait_for(lambda _m: cid in [e.get("comment", {}).get("id") for e in live.events()])
    return str(cid)


MODERATOR_ACTIONS = [  # {v}: the video, {cid}: a comment on it
    ("GET", "/api/videos/{v}/review", None),
    ("POST", "/api/comments/{cid}/approve", None),
    ("POST", "/api/comments/{cid}/reject", None),
    ("PUT", "/api/videos/{v}/bans/bob", {}),
    ("DELETE", "/api/videos/{v}/bans/bob", None),
    ("PATCH", "/api/videos/{v}/settings", {"chat": "closed"}),
    ("PUT", "/api/videos/{v}/pin", {"comment_id": "{cid}"}),
    ("DELETE", "/api/videos/{v}/pin", None),
    ("GET", "/api/videos/{v}/audit", None),
    ("GET", "/api/videos/{v}/settings", None),
]


def test_every_moderator_action_is_403_for_viewers(system: System, live: Live) -> None:
    cid = post_and_see(system, live, "hello")
    for method, template, body in MODERATOR_ACTIONS:
        path = template.format(v=live.video, cid=cid)
        json_body = {k: v.format(cid=cid) if isinstance(v, str) else v for k, v in body.items()} if body else None
        r = system.api.call(method, path, user="alice", json=json_body)
        assert r.status_code == 403, (method, path, r.text)
        assert system.api.call(method, path, json=json_body).status_code == 401
    assert system.api.call("DELETE", f"/api/comments/{cid}", user="bob").status_code == 403


def test_slow_mode_and_rate_limit_answer_429_with_an_honest_retry_after(system: System, live: Live) -> None:
    v = live.video
    assert system.api.mod("PATCH", f"/api/videos/{v}/settings", json={"slow_mode_s": 30}).status_code == 200
    assert system.api.post(v, "first", user="alice").status_code == 202
    r = system.api.post(v, "second", user="alice")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert 25 <= int(r.headers["Retry-After"]) <= 30
    assert system.api.post(v, "other user", user="bob").status_code == 202
    for i in range(3):  # moderators are exempt
        assert system.api.call("POST", f"/api/videos/{v}/comments", user="mod", roles=("moderator",),
                               json={"text": f"mod {i}"}).status_code == 202

    assert system.api.mod("PATCH", f"/api/videos/{v}/settings", json={"slow_mode_s": 0}).status_code == 200
    statuses = [system.api.post(v, f"burst {i}", user="carol").status_code for i in range(21)]
    assert statuses == [202] * 20 + [429]  # contract default: 20 per 30 s


def test_bans_and_timeouts(system: System, live: Live) -> None:
    v = live.video
    assert system.api.mod("PUT", f"/api/videos/{v}/bans/bob", json={"reason": "spam"}).status_code == 204
    r = system.api.post(v, "let me in", user="bob")
    assert r.status_code == 403 and r.json()["error"]["code"] == "banned"
    assert system.api.mod("DELETE", f"/api/videos/{v}/bans/bob").status_code == 204
    assert system.api.post(v, "back", user="bob").status_code == 202

    assert system.api.mod("PUT", f"/api/videos/{v}/bans/dave", json={"duration_s": 1}).status_code == 204
    assert system.api.post(v, "timed out", user="dave").status_code == 403
    eventually(lambda: system.api.post(v, "free again", user="dave").status_code == 202, 10, "dave is still banned")


def test_held_comments_are_unseen_until_approved(system: System, live: Live) -> None:
    v = live.video
    assert system.api.mod("PATCH", f"/api/videos/{v}/settings", json={"hold_for_review": True}).status_code == 200
    held = system.api.post(v, "wait for me", user="alice").json()["id"]
    eventually(lambda: system.api.comment(held, user="alice").json()["status"] == "held", 15, "never held")
    assert system.api.comment(held).status_code == 404  # only the author and moderators see it
    queue = system.api.mod("GET", f"/api/videos/{v}/review").json()["comments"]
    assert [c["id"] for c in queue] == [held]
    assert held not in [e.get("comment", {}).get("id") for e in live.events()]

    r = system.api.mod("POST", f"/api/comments/{held}/approve")
    assert r.status_code == 200 and r.json()["status"] == "approved"
    live.wait_for(lambda _m: held in [e.get("comment", {}).get("id") for e in live.events()])
    assert system.api.mod("GET", f"/api/videos/{v}/review").json()["comments"] == []
    assert [c["id"] for c in system.api.history(v).json()["comments"]] == [held]

    rejected = system.api.post(v, "no", user="alice").json()["id"]
    eventually(lambda: system.api.comment(rejected, user="alice").json()["status"] == "held", 15, "never held")
    assert system.api.mod("POST", f"/api/comments/{rejected}/reject", json={"reason": "off topic"}).json()[
        "status"] == "rejected"


def test_reports_hide_a_comment_and_approval_restores_it(system: System, live: Live) -> None:
    v = live.video
    assert system.api.mod("PATCH", f"/api/videos/{v}/settings", json={"reports_to_hold": 2}).status_code == 200
    cid = post_and_see(system, live, "controversial")
    report = f"/api/comments/{cid}/reports"
    assert system.api.call("POST", report, user="r1", json={"reason": "rude"}).status_code == 202
    assert system.api.call("POST", f"/api/comments/{cid}/reports", user="r1", json={}).status_code == 202  # once
    assert system.api.comment(cid).json()["status"] == "approved"
    assert system.api.call("POST", f"/api/comments/{cid}/reports", user="r2").status_code == 202
    live.wait_for(lambda _m: {"type": "delete", "id": cid}.items() <= live.last_delete().items())
    live.wait_for(lambda _m: cid not in [c["id"] for c in live.latest(live.recent)["comments"]])
    assert system.api.history(v).json()["comments"] == []
    assert [c["id"] for c in system.api.mod("GET", f"/api/videos/{v}/review").json()["comments"]] == [cid]

    assert system.api.mod("POST", f"/api/comments/{cid}/approve").status_code == 200
    live.wait_for(
        lambda _m: [e["comment"]["id"] for e in live.events() if e["type"] == "comment"] == [cid, cid]
    )
    live.wait_for(lambda _m: cid in [c["id"] for c in live.latest(live.recent)["comments"]])
    seqs = [e["seq"] for e in live.events()]
    assert seqs == sorted(set(seqs))  # strictly increasing across comment and delete events


def test_delete_reaches_viewers_and_leaves_recent_and_history(system: System, live: Live) -> None:
    keep = post_and_see(system, live, "keep")
    gone = post_and_see(system, live, "oops")
    assert system.api.call("DELETE", f"/api/comments/{gone}", user="bob").status_code == 403
    assert system.api.call("DELETE", f"/api/comments/{gone}", user="alice").status_code == 204
    live.wait_for(lambda _m: live.last_delete().get("id") == gone)
    live.wait_for(lambda _m: [c["id"] for c in live.latest(live.recent)["comments"]] == [keep])
    assert [c["id"] for c in system.api.history(live.video).json()["comments"]] == [keep]
    assert system.api.comment(gone).json()["status"] == "deleted"
    assert system.api.mod("DELETE", f"/api/comments/{keep}").status_code == 204
    live.wait_for(lambda _m: live.last_delete().get("id") == keep)
    live.wait_for(lambda _m: live.latest(live.recent)["comments"] == [])
    late = system.viewer(live.recent)
    late.wait_for(lambda _m: bool(late.on(live.recent)))
    assert late.on(live.recent)[0].json()["comments"] == []
    late.close()


def test_pin_settings_and_state(system: System, live: Live) -> None:
    v = live.video
    cid = post_and_see(system, live, "pin me")
    assert system.api.mod("PUT", f"/api/videos/{v}/pin", json={"comment_id": cid}).status_code == 204
    live.wait_for(lambda _m: any(e["type"] == "pin" and e["comment"]["id"] == cid for e in live.events()))
    live.wait_for(lambda _m: bool(live.on(live.state)) and (live.latest(live.state)["pinned"] or {}).get("id") == cid)
    r = system.api.mod("PATCH", f"/api/videos/{v}/settings",
                       json={"chat": "closed", "slow_mode_s": 5, "blocked_terms": ["zorblax"]})
    assert r.status_code == 200 and r.json()["chat"] == "closed"
    live.wait_for(
        lambda _m: live.latest(live.state)["chat"] == "closed" and live.latest(live.state)["slow_mode_s"] == 5
    )
    assert system.api.post(v, "closed?", user="alice").status_code == 403
    assert system.api.mod("DELETE", f"/api/videos/{v}/pin").status_code == 204
    live.wait_for(lambda _m: any(e["type"] == "unpin" for e in live.events()))
    live.wait_for(lambda _m: live.latest(live.state)["pinned"] is None)
    state = system.api.call("GET", f"/api/videos/{v}").json()
    assert state["chat"] == "closed" and state["pinned"] is None
    settings = system.api.mod("GET", f"/api/videos/{v}/settings").json()
    assert settings == {"video_id": v, "chat": "closed", "slow_mode_s": 5, "hold_for_review": False,
                        "blocked_terms": ["zorblax"], "reports_to_hold": 3}

    actions = [e["action"] for e in system.api.mod("GET", f"/api/videos/{v}/audit").json()["entries"]]
    assert actions == ["pin", "settings", "unpin"]
    entry = system.api.mod("GET", f"/api/videos/{v}/audit").json()["entries"][1]
    assert entry["actor"] == "mod" and entry["detail"]["chat"] == "closed" and isinstance(entry["ts"], int)


def test_a_closed_chat_takes_moderators_comments_and_an_ended_video_nobodys(system: System, live: Live) -> None:
    """One rule at the door and in the bridge: a closed chat refuses everyone but moderators and
    admins, whose comments are delivered as any other; an ended video refuses everyone."""
    v = live.video
    assert system.api.mod("PATCH", f"/api/videos/{v}/settings", json={"chat": "closed"}).status_code == 200
    refused = system.api.post(v, "let me in", user="alice")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "chat_closed"
    ids = []
    moderators: list[tuple[str, tuple[str, ...]]] = [("mod", ("moderator",)), ("boss", ("admin",))]
    for user, roles in moderators:
        r = system.api.call("POST", f"/api/videos/{v}/comments", user=user, roles=roles, json={"text": f"{user} here"})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    live.wait_for(lambda _m: [e.get("comment", {}).get("id") for e in live.events()] == ids)
    assert [e["seq"] for e in live.events()] == [1, 2]
    assert [c["id"] for c in system.api.history(v).json()["comments"]] == ids[::-1]

    with system.sessions.begin() as s:  # ended as an admin ends it (the same row change); the test's own video
        s.execute(update(Video).where(Video.id == v).values(status="ended", rules_version=Video.rules_version + 1))
    for user, roles in [*moderators, ("alice", ())]:
        r = system.api.call("POST", f"/api/videos/{v}/comments", user=user, roles=roles, json={"text": "after"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "chat_closed", (user, r.text)
    assert [c.id for c in system.rows(v)] == ids


def test_audit_records_who_what_when_why(system: System, live: Live) -> None:
    v = live.video
    cid = post_and_see(system, live, "x")
    system.api.mod("PUT", f"/api/videos/{v}/bans/bob", json={"reason": "spam", "duration_s": 60})
    system.api.mod("DELETE", f"/api/comments/{cid}", json={"reason": "rule 3"})
    entries = system.api.mod("GET", f"/api/videos/{v}/audit").json()["entries"]
    assert [(e["actor"], e["action"], e["target"], e["reason"]) for e in entries] == [
        ("mod", "timeout", "bob", "spam"),
        ("mod", "moderator_delete", cid, "rule 3"),
    ]


def test_comment_reactions_are_exact_under_concurrency(system: System, live: Live) -> None:
    cid = post_and_see(system, live, "react to me")
    path = f"/api/comments/{cid}/reactions"
    assert system.api.call("PUT", f"{path}/like", user="u0").status_code == 204
    assert system.api.call("PUT", f"{path}/like", user="u0").status_code == 204  # idempotent
    assert system.api.call("PUT", f"{path}/meh", user="u0").status_code == 400
    users = [f"user{i}" for i in range(50)]

    def toggle(user: str) -> None:  # 50 at once may be shed (503 + Retry-After): retried, as a client does
        for method, kind in (("PUT", "love"), ("PUT", "haha"), ("DELETE", "haha"), ("PUT", "love")):
            r = system.api.call_until_served(method, f"{path}/{kind}", user=user)
            assert r.status_code == 204, (method, kind, r.status_code, r.text)

    threads = [threading.Thread(target=toggle, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {"like": 1, "love": 50}
    assert system.api.comment(cid).json()["reactions"] == expected
    assert system.api.history(live.video).json()["comments"][0]["reactions"] == expected
    live.wait_for(
        lambda _m: bool(live.on(live.reactions)) and live.latest(live.reactions)["comments"].get(cid) == expected
    )


def test_live_reactions_are_counted_and_aggregated(system: System, live: Live) -> None:
    v = live.video
    user, password = system.creds("bridge")
    ingest = Collector(system.stack.mqtt_port, f"ingest/videos/{v}/reactions", username=user, password=password)
    for i in range(60):
        r = system.api.call("POST", f"/api/videos/{v}/reactions", user=f"fan{i % 5}", json={"kind": "love"})
        assert r.status_code == 202
    assert system.api.call("POST", f"/api/videos/{v}/reactions", user="fan", json={"kind": "nope"}).status_code == 400
    live.wait_for(lambda _m: bool(live.on(live.reactions)) and live.latest(live.reactions)["video"].get("love") == 60)
    assert 1 <= len(ingest.on(f"ingest/videos/{v}/reactions")) < 60  # aggregated, never one per click
    ingest.close()


def test_the_redis_limiter_is_shared_by_two_web_processes(stack: Stack, redis_url: str, video: str) -> None:
    """A stack of its own: two web processes configured with the Redis limiter."""
    import redis as redis_lib

    redis_lib.Redis.from_url(redis_url).flushdb()
    stack.broker()
    stack.bridge()
    bases = []
    for _ in range(2):
        port = free_port()
        web = stack.service("web", ports=[port])
        web.env.update(LIVECOMMENTS_HTTP_PORT=str(port), LIVECOMMENTS_REDIS_URL=redis_url)
        web.start()
        bases.append(Api(f"http://127.0.0.1:{port}", stack.secret))
    for api in bases:
        api.wait_ready()
    assert bases[0].create_video(video).status_code == 201
    statuses = [bases[i % 2].post(video, f"post {i}", user="alice").status_code for i in range(21)]
    assert statuses == [202] * 20 + [429]  # 20 per 30 s in total, not per process
    r = bases[1].post(video, "still?", user="alice")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


EVASIONS = ["zorblax", "Z0RBL4X!", "z o r b l a x", "zzoorrbbllaaxx", "ｚｏｒｂｌａｘ", "zоrblах", "zor\u200bblax"]


@pytest.mark.parametrize("text", EVASIONS)
def test_blocked_terms_are_refused_at_the_door(system: System, live: Live, text: str) -> None:
    v = live.video
    assert system.api.mod("PATCH", f"/api/videos/{v}/settings", json={"blocked_terms": ["zorblax"]}).status_code == 200
    r = system.api.post(v, text, user="alice")
    assert r.status_code == 422 and r.json()["error"]["code"] == "rejected", text
    ok = post_and_see(system, live, "zebra blanket axe", user="bob")
    assert [c["id"] for c in system.api.history(v).json()["comments"]] == [ok]
