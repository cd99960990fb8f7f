"""Reading: a video with its chat state, the comment history, one comment."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from livecomments.models import CommentStatus
from tests.support.web import Auth, add_comment, add_video
from webapp.extensions import db
from webapp.schemas import CommentList, CommentWithStatus, VideoOut


@pytest.fixture(autouse=True)
def video(app: Flask) -> None:
    """The video every test reads."""
    add_video(app, "v1", title="Launch")


def seqs(resp: Any) -> list[int]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    CommentList.model_validate(resp.get_json())
    return [c["seq"] for c in resp.get_json()["comments"]]


def assert_error(resp: Any, status: int) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert set(resp.get_json()) == {"error"}
    assert set(resp.get_json()["error"]) == {"code", "message"}


# --- GET /api/videos/{v} -------------------------------------------------------------------


def test_get_video_with_its_chat_state(client: FlaskClient, app: Flask) -> None:
    body = client.get("/api/videos/v1").get_json()
    VideoOut.model_validate(body)
    assert body["id"] == "v1" and body["title"] == "Launch" and body["last_seq"] == 0
    assert {k: body[k] for k in ("status", "chat", "slow_mode_s", "hold_for_review", "viewers", "pinned")} == {
        "status": "live",
        "chat": "open",
        "slow_mode_s": 0,
        "hold_for_review": False,
        "viewers": 0,
        "pinned": None,
    }


def test_get_video_with_a_pinned_comment(client: FlaskClient, app: Flask) -> None:
    pinned = add_comment(app, "v1", 1, text="pinned!")
    with app.app_context():
        db.session.execute(db.text("UPDATE videos SET pinned_comment_id = :c"), {"c": pinned})
        db.session.commit()
    body = client.get("/api/videos/v1").get_json()
    assert body["pinned"]["id"] == pinned and body["pinned"]["text"] == "pinned!"


@pytest.mark.parametrize(("path", "status"), [("nope", 404), ("a+b", 400), ("%00", 400), ("x" * 65, 400)])
def test_get_video_refusals(client: FlaskClient, path: str, status: int) -> None:
    assert_error(client.get(f"/api/videos/{path}"), status)


# --- GET /api/videos/{v}/comments -------------------------------------------------------------


@pytest.fixture
def history(app: Flask) -> dict[str, str]:
    """seq 1..6 approved except: 3 held, 4 deleted, 5 a reply to 1; plus one pending (no seq)."""
    ids = {"top1": add_comment(app, "v1", 1)}
    ids["top2"] = add_comment(app, "v1", 2)
    add_comment(app, "v1", 3, status=CommentStatus.HELD)
    add_comment(app, "v1", 4, status=CommentStatus.DELETED)
    ids["reply"] = add_comment(app, "v1", 5, parent_id=ids["top1"])
    ids["top6"] = add_comment(app, "v1", 6)
    add_comment(app, "v1", None, status=CommentStatus.PENDING)
    add_video(app, "v2")
    add_comment(app, "v2", 1)
    return ids


def test_history_newest_first_approved_only(client: FlaskClient, history: dict[str, str]) -> None:
    resp = client.get("/api/videos/v1/comments")
    assert seqs(resp) == [6, 5, 2, 1]
    assert resp.get_json()["video_id"] == "v1"
    first = resp.get_json()["comments"][0]
    assert set(first) == {"id", "video_id", "seq", "parent_id", "user", "text", "ts", "pos_ms", "reply_count",
                          "reactions"}
    assert "status" not in first


def test_history_before_seq_pages_backwards(client: FlaskClient, history: dict[str, str]) -> None:
    assert seqs(client.get("/api/videos/v1/comments?limit=2")) == [6, 5]
    assert seqs(client.get("/api/videos/v1/comments?limit=2&before_seq=5")) == [2, 1]
    assert seqs(client.get("/api/videos/v1/comments?limit=2&before_seq=1")) == []


def test_history_after_seq_is_oldest_first(client: FlaskClient, history: dict[str, str]) -> None:
    assert seqs(client.get("/api/videos/v1/comments?after_seq=1")) == [2, 5, 6]
    assert seqs(client.get("/api/videos/v1/comments?after_seq=0&limit=2")) == [1, 2]
    assert seqs(client.get("/api/videos/v1/comments?after_seq=1&before_seq=6")) == [2, 5]
    assert seqs(client.get("/api/videos/v1/comments?after_seq=6")) == []


def test_history_parent_filter(client: FlaskClient, history: dict[str, str]) -> None:
    resp = client.get(f"/api/videos/v1/comments?parent_id={history['top1']}")
    assert seqs(resp) == [5]
    assert resp.get_json()["comments"][0]["parent_id"] == history["top1"]
    assert seqs(client.get(f"/api/videos/v1/comments?parent_id={history['top2']}")) == []


def test_history_limit_bounds(client: FlaskClient, app: Flask) -> None:
    for seq in range(1, 206):
        add_comment(app, "v1", seq)
    assert len(seqs(client.get("/api/videos/v1/comments"))) == 50
    assert len(seqs(client.get("/api/videos/v1/comments?limit=200"))) == 200
    assert len(seqs(client.get("/api/videos/v1/comments?limit=1"))) == 1


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=abc",
        "limit=",
        "limit=1.5",
        "limit=+5",
        "limit=%205",
        "limit=99999999999999999999999",
        "before_seq=-1",
        "before_seq=x",
        "after_seq=-3",
        "after_seq=1e3",
        "after_seq=99999999999999999999",
        "parent_id=nope",
        "parent_id=",
        "parent_id=01jdq3zzzzzzzzzzzzzzzzzzzz",
    ],
)
def test_history_bad_query(client: FlaskClient, history: dict[str, str], query: str) -> None:
    assert_error(client.get(f"/api/videos/v1/comments?{query}"), 400)


def test_history_unknown_video(client: FlaskClient) -> None:
    assert_error(client.get("/api/videos/nope/comments"), 404)


@pytest.mark.parametrize("path", ["a+b", "%23", "%00", "y" * 65])
def test_history_hostile_video_id(client: FlaskClient, path: str) -> None:
    assert_error(client.get(f"/api/videos/{path}/comments"), 400)


# --- GET /api/comments/{id} -------------------------------------------------------------------


@pytest.mark.parametrize("status", [CommentStatus.APPROVED, CommentStatus.DELETED])
def test_public_comment_to_anyone(client: FlaskClient, app: Flask, status: CommentStatus) -> None:
    cid = add_comment(app, "v1", 1, status=status, text="secret words")
    resp = client.get(f"/api/comments/{cid}")
    assert resp.status_code == 200
    body = resp.get_json()
    CommentWithStatus.model_validate(body)
    assert body["status"] == status.value and body["id"] == cid
    assert body["text"] == ("secret words" if status == CommentStatus.APPROVED else "")
    assert body["reply_count"] == 0 and body["reactions"] == {}


@pytest.mark.parametrize("status", [CommentStatus.PENDING, CommentStatus.HELD, CommentStatus.REJECTED])
def test_unpublished_comment_visibility(client: FlaskClient, app: Flask, auth: Auth, status: CommentStatus) -> None:
    cid = add_comment(app, "v1", None, status=status, user_id="alice")
    url = f"/api/comments/{cid}"
    assert_error(client.get(url), 404)
    assert_error(client.get(url, headers=auth.headers("bob")), 404)
    for who in (auth.headers("alice"), auth.moderator(), auth.admin()):
        resp = client.get(url, headers=who)
        assert resp.status_code == 200 and resp.get_json()["status"] == status.value


def test_comment_lookup_refusals(client: FlaskClient) -> None:
    assert_error(client.get("/api/comments/01JDQ3ZZZZZZZZZZZZZZZZZZZZ"), 404)
    assert_error(client.get("/api/comments/not-a-ulid"), 400)
    assert_error(client.get("/api/comments/01JDQ3ZZZZZZZZZZZZZZZZZZZZ", headers={"Authorization": "Bearer x"}), 401)
