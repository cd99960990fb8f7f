"""A video's life and time through real processes (broker, bridge, web app; SQLite and PostgreSQL):
events, `recent` and the replay carry pos_ms; ending the video republishes the retained `state`
(status ended, chat closed), which a viewer who subscribes afterwards gets; posting is refused,
the replay stays."""

from __future__ import annotations

import time

from tests.support.system import System
from tests.support.waiting import eventually

V = "life"
COMMENTS = f"live/videos/{V}/comments"
RECENT = f"live/videos/{V}/recent"
STATE = f"live/videos/{V}/state"
ADMIN = ("admin",)


def test_events_carry_pos_ms_and_ending_republishes_the_retained_state(system: System) -> None:
    api = system.api
    started = int(time.time() * 1000) - 30_000
    created = api.call("POST", "/api/videos", user="root", roles=ADMIN,
                       json={"id": V, "title": "Life", "started_ts": started})
    assert created.status_code == 201, created.text
    viewer = system.viewer(COMMENTS, RECENT, STATE)
    try:
        posted = api.post(V, "during the video")
        assert posted.status_code == 202, posted.text
        cid = posted.json()["id"]
        viewer.wait_for(lambda _m: any(e.get("comment", {}).get("id") == cid for e in viewer.events(COMMENTS)))
        (event,) = [e for e in viewer.events(COMMENTS) if e.get("comment", {}).get("id") == cid]
        (row,) = system.rows(V)
        assert event["comment"]["pos_ms"] == row.ts - started == row.pos_ms
        assert 30_000 <= row.pos_ms < 600_000

        def in_recent() -> bool:
            recent = viewer.on(RECENT)
            return bool(recent) and [c["pos_ms"] for c in recent[-1].json()["comments"]] == [row.pos_ms]

        eventually(in_recent, 15, "recent never carried the comment's pos_ms")

        ended = api.call("PATCH", f"/api/videos/{V}", user="root", roles=ADMIN, json={"status": "ended"})
        assert ended.status_code == 200, ended.text
        viewer.wait_for(lambda _m: any(m.json()["status"] == "ended" for m in viewer.on(STATE)))
        assert viewer.on(STATE)[-1].json()["chat"] == "closed"
    finally:
        viewer.close()

    late = system.viewer(STATE)  # subscribes after the end: the retained state says so
    try:
        late.wait_for(lambda _m: bool(late.on(STATE)))
        first = late.on(STATE)[0]
        assert first.retain and (first.json()["status"], first.json()["chat"]) == ("ended", "closed")
    finally:
        late.close()

    refused = api.call("POST", f"/api/videos/{V}/comments", user="mod", roles=("moderator",), json={"text": "late"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "chat_closed"
    replay = api.call("GET", f"/api/videos/{V}/replay", params={"from_ms": 0, "to_ms": 600_000})
    assert replay.status_code == 200 and replay.headers["Cache-Control"] == "public, max-age=60"
    assert [(c["id"], c["pos_ms"]) for c in replay.json()["comments"]] == [(cid, row.pos_ms)]
