"""A video's life through the app (docs/contract.md, "A video's life"), on SQLite and PostgreSQL:
GET /api/videos (list, filter, pages), PATCH /api/videos/{v} (rename, end: final), started_ts and
ended_ts, posting refused after the end for everyone (moderators too), comments still readable
and deletable, `state` nudged; the moderators' GET /api/videos/{v}/bans and /settings."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from livecomments.models import Video
from tests.support.web import Auth, MakeApp, add_comment, add_video, comment_rows, memory_publisher
from webapp.extensions import app_state, db
from webapp.schemas import BanList, VideoList, VideoOut, VideoSettings

ADMIN = Auth().admin()
MOD = Auth().moderator()


@pytest.fixture
def app(make_app: MakeApp, database_url: str) -> Flask:
    """On SQLite and on PostgreSQL (conftest's `client` is this app's)."""
    return make_app(database_url=database_url)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def create(client: FlaskClient, video_id: str, **body: Any) -> dict[str, Any]:
    resp = client.post("/api/videos", json={"id": video_id, "title": f"Video {video_id}", **body}, headers=ADMIN)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return dict(resp.get_json())


def end(client: FlaskClient, video_id: str) -> Any:
    return client.patch(f"/api/videos/{video_id}", json={"status": "ended"}, headers=ADMIN)


def post(client: FlaskClient, video_id: str, text: str, headers: dict[str, str]) -> Any:
    return client.post(f"/api/videos/{video_id}/comments", json={"text": text}, headers=headers)


def error_code(resp: Any) -> str:
    return str(resp.get_json()["error"]["code"])


# --- started_ts, ended_ts -------------------------------------------------------------------


def test_started_ts_is_the_creation_time_unless_given(client: FlaskClient) -> None:
    before = now_ms()
    plain = create(client, "plain")
    assert before <= plain["started_ts"] == plain["created_ts"] <= now_ms()
    assert plain["ended_ts"] is None
    earlier = create(client, "earlier", started_ts=before - 3_600_000)
    assert earlier["started_ts"] == before - 3_600_000 and earlier["created_ts"] >= before
    got = client.get("/api/videos/earlier").get_json()
    VideoOut.model_validate(got)
    assert (got["started_ts"], got["ended_ts"]) == (before - 3_600_000, None)


def test_started_ts_in_the_future_or_not_an_integer_is_a_400(client: FlaskClient) -> None:
    for started_ts in (now_ms() + 60_000, 10**12 * 9, "1", -1, 1.5, True, 2**53):
        resp = client.post("/api/videos", json={"id": "v", "title": "t", "started_ts": started_ts}, headers=ADMIN)
        assert resp.status_code == 400 and error_code(resp) == "invalid", resp.get_data(as_text=True)
    assert client.get("/api/videos/v").status_code == 404


# --- GET /api/videos -------------------------------------------------------------------------


def test_list_newest_first_filtered_and_paged(client: FlaskClient) -> None:
    base = now_ms() - 100_000
    for n in range(5):
        create(client, f"v{n}", started_ts=base + n * 1000)
    assert end(client, "v1").status_code == 200
    assert end(client, "v3").status_code == 200

    body = client.get("/api/videos").get_json()
    VideoList.model_validate(body)
    assert [v["id"] for v in body["videos"]] == ["v4", "v3", "v2", "v1", "v0"]
    assert body["videos"][1]["status"] == "ended" and body["videos"][1]["ended_ts"] is not None

    ids = lambda query: [v["id"] for v in client.get(f"/api/videos?{query}").get_json()["videos"]]  # noqa: E731
    assert ids("status=live") == ["v4", "v2", "v0"]
    assert ids("status=ended") == ["v3", "v1"]
    assert ids("limit=2") == ["v4", "v3"]
    assert ids("limit=2&before=v3") == ["v2", "v1"]
    assert ids("limit=2&before=v1") == ["v0"]
    assert ids("before=v0") == []
    assert ids("status=live&limit=1&before=v4") == ["v2"]
    assert ids("status=ended&before=v4") == ["v3", "v1"]  # the cursor may be of the other status


def test_list_pages_through_videos_started_at_the_same_moment(client: FlaskClient) -> None:
    at = now_ms() - 1000
    for video_id in ("a", "c", "b", "d"):
        create(client, video_id, started_ts=at)
    seen: list[str] = []
    before = ""
    while True:
        page = client.get(f"/api/videos?limit=3{before}").get_json()["videos"]
        if not page:
            break
        seen += [v["id"] for v in page]
        before = f"&before={page[-1]['id']}"
    assert seen == ["d", "c", "b", "a"]


def test_list_shows_each_video_as_get_does(client: FlaskClient, app: Flask) -> None:
    create(client, "v1")
    pinned = add_comment(app, "v1", 1, text="pinned!")
    with app.app_context():
        db.session.execute(db.text("UPDATE videos SET pinned_comment_id = :c"), {"c": pinned})
        db.session.commit()
    listed = client.get("/api/videos").get_json()["videos"]
    assert listed == [client.get("/api/videos/v1").get_json()]
    assert listed[0]["pinned"]["id"] == pinned


def test_list_default_limit_is_50(client: FlaskClient, app: Flask) -> None:
    for n in range(51):
        add_video(app, f"v{n:02d}", started_ts=n)
    videos = client.get("/api/videos").get_json()["videos"]
    assert len(videos) == 50 and videos[0]["id"] == "v50" and videos[-1]["id"] == "v01"
    assert len(client.get("/api/videos?limit=200").get_json()["videos"]) == 51


def test_list_bad_parameters_are_a_400(client: FlaskClient) -> None:
    create(client, "v1")
    for query in ("limit=0", "limit=201", "limit=-1", "limit=x", "limit=1.5", "status=paused", "status=",
                  "before=no-such-video", "before=bad/id"):
        resp = client.get(f"/api/videos?{query}")
        assert resp.status_code == 400 and error_code(resp) == "invalid", query


# --- PATCH /api/videos/{v} -------------------------------------------------------------------


def test_rename(client: FlaskClient) -> None:
    create(client, "v1")
    resp = client.patch("/api/videos/v1", json={"title": "  New title "}, headers=ADMIN)
    assert resp.status_code == 200
    assert resp.get_json() == client.get("/api/videos/v1").get_json()
    assert resp.get_json()["title"] == "New title" and resp.get_json()["status"] == "live"


def test_ending_is_final(client: FlaskClient, app: Flask) -> None:
    create(client, "v1")
    before = now_ms()
    resp = end(client, "v1")
    assert resp.status_code == 200
    body = resp.get_json()
    VideoOut.model_validate(body)
    assert body == client.get("/api/videos/v1").get_json()
    assert (body["status"], body["chat"]) == ("ended", "closed")
    assert before <= body["ended_ts"] <= now_ms()

    again = end(client, "v1")
    assert again.status_code == 409 and error_code(again) == "conflict"
    live = client.patch("/api/videos/v1", json={"status": "live"}, headers=ADMIN)
    assert live.status_code == 409 and error_code(live) == "conflict"
    both = client.patch("/api/videos/v1", json={"status": "live", "title": "Back"}, headers=ADMIN)
    assert both.status_code == 409
    after = client.get("/api/videos/v1").get_json()
    assert after == body  # nothing changed: not the title, not ended_ts
    # an ended video may still be renamed
    renamed = client.patch("/api/videos/v1", json={"title": "The replay"}, headers=ADMIN)
    assert renamed.status_code == 200 and renamed.get_json()["title"] == "The replay"
    assert renamed.get_json()["status"] == "ended"
    audit = client.get("/api/videos/v1/audit", headers=MOD).get_json()["entries"]
    assert [(e["action"], e["actor"]) for e in audit] == [("end", "root")]


def test_live_while_live_changes_nothing(client: FlaskClient) -> None:
    created = create(client, "v1")
    resp = client.patch("/api/videos/v1", json={"status": "live"}, headers=ADMIN)
    assert resp.status_code == 200 and resp.get_json()["status"] == "live"
    assert resp.get_json()["ended_ts"] is None and resp.get_json()["created_ts"] == created["created_ts"]


def test_ending_nudges_the_bridge_to_republish_state(client: FlaskClient, app: Flask) -> None:
    create(client, "v1")
    published = memory_publisher(app)
    published.changes.clear()
    assert end(client, "v1").status_code == 200
    assert published.changes == [("v1", ("state",))]
    published.changes.clear()
    assert end(client, "v1").status_code == 409
    assert client.patch("/api/videos/v1", json={"title": "x"}, headers=ADMIN).status_code == 200
    assert published.changes == []  # nothing the bridge shows changed


def test_only_admins_patch(client: FlaskClient) -> None:
    create(client, "v1")
    for headers, status, code in (
        ({}, 401, "unauthorized"), (Auth().headers("alice"), 403, "forbidden"), (MOD, 403, "forbidden")
    ):
        for body in ({"status": "ended"}, {"title": "mine"}):
            resp = client.patch("/api/videos/v1", json=body, headers=headers)
            assert resp.status_code == status and error_code(resp) == code
    assert client.get("/api/videos/v1").get_json()["status"] == "live"
    assert client.get("/api/videos/v1").get_json()["title"] == "Video v1"


def test_patch_bad_bodies_are_a_400(client: FlaskClient) -> None:
    create(client, "v1")
    for body in ({}, {"status": "paused"}, {"status": None}, {"title": ""}, {"title": 5}, {"status": "ENDED"},
                 {"title": None}, {"title": "x" * 201}):
        resp = client.patch("/api/videos/v1", json=body, headers=ADMIN)
        assert resp.status_code == 400 and error_code(resp) == "invalid", body
    resp = client.patch("/api/videos/v1", data=b"[]", headers={**ADMIN, "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert client.get("/api/videos/v1").get_json()["status"] == "live"


def test_patch_unknown_video_is_a_404(client: FlaskClient) -> None:
    resp = end(client, "nope")
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    assert client.patch("/api/videos/bad%2Fid", json={"status": "ended"}, headers=ADMIN).status_code in (400, 404)


# --- after the end ---------------------------------------------------------------------------


def test_nobody_posts_after_the_end_moderators_and_admins_included(client: FlaskClient, app: Flask) -> None:
    create(client, "v1")
    assert post(client, "v1", "before the end", Auth().headers("alice")).status_code == 202
    assert end(client, "v1").status_code == 200
    for who in (Auth().headers("alice"), MOD, ADMIN):
        resp = post(client, "v1", "after the end", who)
        assert resp.status_code == 403 and error_code(resp) == "chat_closed", resp.get_data(as_text=True)
    assert [c.text for c in comment_rows(app)] == ["before the end"]


def test_an_end_made_by_another_process_refuses_posts_at_once(make_app: MakeApp, database_url: str,
                                                             tmp_path: Any) -> None:
    """The other process's cached rules still say live: its insert refuses, and explains it."""
    one = make_app(tmp_path / "one", database_url=database_url)
    other = make_app(tmp_path / "two", database_url=database_url)
    a, b = one.test_client(), other.test_client()
    create(a, "v1")
    assert post(b, "v1", "warms the cache", MOD).status_code == 202
    assert end(a, "v1").status_code == 200
    resp = post(b, "v1", "too late", MOD)
    assert resp.status_code == 403 and error_code(resp) == "chat_closed"


def test_comments_stay_readable_and_moderators_delete_after_the_end(client: FlaskClient, app: Flask) -> None:
    create(client, "v1")
    first = add_comment(app, "v1", 1, text="one")
    second = add_comment(app, "v1", 2, text="two")
    assert end(client, "v1").status_code == 200
    history = client.get("/api/videos/v1/comments").get_json()["comments"]
    assert [c["text"] for c in history] == ["two", "one"]
    assert client.get(f"/api/comments/{first}").get_json()["status"] == "approved"
    assert client.delete(f"/api/comments/{second}", headers=MOD).status_code == 204
    assert [c["text"] for c in client.get("/api/videos/v1/comments").get_json()["comments"]] == ["one"]
    assert client.get(f"/api/comments/{second}").get_json()["status"] == "deleted"


def test_state_says_ended_and_closed_even_if_a_moderator_opens_the_chat(client: FlaskClient) -> None:
    create(client, "v1")
    assert end(client, "v1").status_code == 200
    opened = client.patch("/api/videos/v1/settings", json={"chat": "open"}, headers=MOD)
    assert opened.status_code == 200
    assert (opened.get_json()["status"], opened.get_json()["chat"]) == ("ended", "closed")
    assert post(client, "v1", "still closed", MOD).status_code == 403


# --- the moderators' reads: bans and settings ------------------------------------------------


def test_bans_in_force_newest_first(client: FlaskClient, app: Flask) -> None:
    create(client, "v1")
    assert client.put("/api/videos/v1/bans/troll", json={"reason": "spam"}, headers=MOD).status_code == 204
    assert client.put("/api/videos/v1/bans/loud", json={"duration_s": 600}, headers=MOD).status_code == 204
    assert client.put("/api/videos/v1/bans/gone", json={"duration_s": 60}, headers=MOD).status_code == 204
    assert client.delete("/api/videos/v1/bans/gone", headers=MOD).status_code == 204
    with app.app_context():  # a timeout that ended an hour ago is no ban
        db.session.execute(
            db.text("INSERT INTO bans (video_id, user_id, until_ms, reason, by_user_id, created_ts)"
                    " VALUES ('v1', 'past', :until, NULL, 'mod', :until)"),
            {"until": app_state(app).clock() - 3_600_000},
        )
        db.session.commit()
    resp = client.get("/api/videos/v1/bans", headers=MOD)
    assert resp.status_code == 200
    body = resp.get_json()
    BanList.model_validate(body)
    assert body["video_id"] == "v1"
    bans = {b["user_id"]: b for b in body["bans"]}
    assert set(bans) == {"troll", "loud"}
    assert bans["troll"]["until_ms"] is None and bans["troll"]["reason"] == "spam" and bans["troll"]["by"] == "mod"
    assert bans["loud"]["until_ms"] - bans["loud"]["ts"] == 600_000 and bans["loud"]["reason"] is None
    assert [b["ts"] for b in body["bans"]] == sorted((b["ts"] for b in body["bans"]), reverse=True)


def test_moderators_reads_refusals(client: FlaskClient) -> None:
    create(client, "v1")
    for path in ("/api/videos/v1/bans", "/api/videos/v1/settings"):
        assert client.get(path).status_code == 401
        resp = client.get(path, headers=Auth().headers("alice"))
        assert resp.status_code == 403 and error_code(resp) == "forbidden"
        assert client.get(path.replace("v1", "nope"), headers=MOD).status_code == 404
        assert client.get(path.replace("v1", "bad.id"), headers=MOD).status_code == 400


def test_settings_give_the_panel_what_it_shows(client: FlaskClient) -> None:
    create(client, "v1")
    change = {"chat": "closed", "slow_mode_s": 30, "hold_for_review": True, "blocked_terms": ["spoiler"],
              "reports_to_hold": 5}
    assert client.patch("/api/videos/v1/settings", json=change, headers=MOD).status_code == 200
    resp = client.get("/api/videos/v1/settings", headers=MOD)
    assert resp.status_code == 200
    VideoSettings.model_validate(resp.get_json())
    assert resp.get_json() == {"video_id": "v1", **change}


def test_an_existing_video_row_without_started_ts_gets_its_creation_time(app: Flask) -> None:
    with app.app_context():
        db.session.add(Video(id="orm", title="t", created_ts=1234))
        db.session.commit()
        video = db.session.get(Video, "orm")
        assert video is not None and video.started_ts == 1234 and video.ended_ts is None
