"""POST /api/videos/{v}/comments: every refusal the contract lists, and the happy path."""

from __future__ import annotations

import shutil
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder

from bridge.apply import Outcome, apply_batch
from livecomments.models import ChatState, CommentStatus, VideoStatus
from livecomments.validation import is_valid_ulid
from tests.support.web import (
    Auth,
    MakeApp,
    add_comment,
    add_video,
    alg_none_token,
    bearer,
    comment_count,
    comment_rows,
    memory_publisher,
    token,
)
from webapp.extensions import db
from webapp.publisher import MemoryPublisher

URL = "/api/videos/v1/comments"


@pytest.fixture(autouse=True)
def video(app: Flask) -> None:
    """The video every test posts to."""
    add_video(app, "v1")


@pytest.fixture
def alice(auth: Auth) -> dict[str, str]:
    return auth.headers("alice", "Alice")


def post(client: FlaskClient, body: Any, headers: dict[str, str], url: str = URL) -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(url, data=data, headers=headers, content_type="application/json")


def assert_refused(resp: Any, status: int, app: Flask, publisher: MemoryPublisher, rows_before: int = 0) -> None:
    """The status, the contract's error body, nothing stored, nothing published."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert comment_count(app) == rows_before
    assert publisher.submissions == []


# --- the happy path -------------------------------------------------------------------


def test_accepted_comment_is_recorded_then_published(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    resp = post(client, {"text": "  hello\nworld  ", "extra": "ignored"}, alice)
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["status"] == "accepted" and is_valid_ulid(body["id"])
    [row] = comment_rows(app)
    assert (row.id, row.status, row.seq, row.text) == (body["id"], CommentStatus.PENDING, None, "hello\nworld")
    assert (row.user_id, row.user_name, row.video_id, row.parent_id) == ("alice", "Alice", "v1", None)
    [sub] = publisher.submissions
    assert (sub.id, sub.video_id, sub.user_id, sub.user_name, sub.text, sub.ts) == (
        row.id,
        "v1",
        "alice",
        "Alice",
        "hello\nworld",
        row.ts,
    )


def test_text_is_nfc_normalised_and_trimmed(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    decomposed = "Cafe\u0301"  # e + combining acute
    resp = post(client, {"text": f"\t {decomposed} \n"}, alice)
    assert resp.status_code == 202
    expected = unicodedata.normalize("NFC", decomposed)
    assert expected == "Caf\u00e9"
    assert comment_rows(app)[0].text == expected
    assert publisher.submissions[0].text == expected


def test_500_code_points_accepted_counting_code_points_not_bytes(
    client: FlaskClient, app: Flask, alice: dict[str, str]
) -> None:
    text = "é" * 250 + "🎉" * 250  # 500 code points, 1500 bytes
    assert post(client, {"text": text}, alice).status_code == 202
    assert comment_rows(app)[0].text == text


def test_reply_to_a_top_level_comment(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    parent = add_comment(app, "v1", 1)
    resp = post(client, {"text": "a reply", "parent_id": parent}, alice)
    assert resp.status_code == 202
    assert publisher.submissions[0].parent_id == parent
    assert {r.parent_id for r in comment_rows(app) if r.id == resp.get_json()["id"]} == {parent}


def test_null_parent_is_a_top_level_comment(
    client: FlaskClient, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    assert post(client, {"text": "hi", "parent_id": None}, alice).status_code == 202
    assert publisher.submissions[0].parent_id is None


def test_name_falls_back_to_user_id_when_the_token_name_breaks_the_rules(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher
) -> None:
    resp = post(client, {"text": "hi"}, bearer(token("bob", "x" * 51)))
    assert resp.status_code == 202
    assert comment_rows(app)[0].user_name == "bob"
    assert publisher.submissions[0].user_name == "bob"


def test_name_is_normalised_and_trimmed(client: FlaskClient, app: Flask) -> None:
    assert post(client, {"text": "hi"}, bearer(token("zoe", " Zoe\u0301 "))).status_code == 202
    assert comment_rows(app)[0].user_name == "Zo\u00e9"


# --- idempotency ------------------------------------------------------------------------


def test_retry_with_the_same_idempotency_key_returns_the_same_id(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    headers = {**alice, "Idempotency-Key": "key-1"}
    first = post(client, {"text": "once"}, headers)
    second = post(client, {"text": "once"}, headers)
    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json()
    assert comment_count(app) == 1
    assert len(publisher.submissions) == 1
    assert comment_rows(app)[0].idempotency_key == "key-1"


def test_the_same_key_from_two_users_makes_two_comments(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher
) -> None:
    a = post(client, {"text": "same"}, {**bearer(token("alice")), "Idempotency-Key": "k"})
    b = post(client, {"text": "same"}, {**bearer(token("bob")), "Idempotency-Key": "k"})
    assert a.status_code == b.status_code == 202
    assert a.get_json()["id"] != b.get_json()["id"]
    assert comment_count(app) == 2
    assert len(publisher.submissions) == 2


def test_a_retry_is_answered_with_the_first_id_whatever_its_body(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    headers = {**alice, "Idempotency-Key": "k"}
    first = post(client, {"text": "first"}, headers)
    again = post(client, {"text": "second"}, headers)
    assert again.status_code == 202 and again.get_json() == first.get_json()
    assert [r.text for r in comment_rows(app)] == ["first"]
    assert len(publisher.submissions) == 1


def test_retry_is_answered_even_after_the_chat_closed(client: FlaskClient, app: Flask, alice: dict[str, str]) -> None:
    headers = {**alice, "Idempotency-Key": "k"}
    first = post(client, {"text": "x"}, headers)
    with app.app_context():
        db.session.execute(db.text("UPDATE videos SET chat = 'closed'"))
        db.session.commit()
    assert post(client, {"text": "x"}, headers).get_json() == first.get_json()


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there"])
def test_bad_idempotency_key(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str], key: str
) -> None:
    assert_refused(post(client, {"text": "x"}, {**alice, "Idempotency-Key": key}), 400, app, publisher)


def test_longest_idempotency_key(client: FlaskClient, alice: dict[str, str]) -> None:
    assert post(client, {"text": "x"}, {**alice, "Idempotency-Key": "k" * 255}).status_code == 202


# --- 400: the body ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{not json", id="bad-json"),
        pytest.param(b"", id="empty-body"),
        pytest.param(b'{"text": "caf\xc3"}', id="invalid-utf8-truncated"),
        pytest.param(b'{"text": "\xff\xfe"}', id="invalid-utf8-bytes"),
        pytest.param(b'{"text": "\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
        pytest.param(b'{"text": "lone \\ud800 surrogate"}', id="escaped-lone-surrogate"),
        pytest.param(b'["text", "hello"]', id="array"),
        pytest.param(b'"hello"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"text": NaN}', id="nan"),
        pytest.param(b'{"text": "hi"} trailing', id="trailing-garbage"),
    ],
)
def test_body_that_is_not_a_json_object(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str], raw: bytes
) -> None:
    assert_refused(post(client, raw, alice), 400, app, publisher)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing-text"),
        pytest.param({"text": ""}, id="empty"),
        pytest.param({"text": " \t\n \u3000 "}, id="whitespace-only"),
        pytest.param({"text": "x" * 501}, id="501-code-points"),
        pytest.param({"text": "🎉" * 501}, id="501-emoji"),
        pytest.param({"text": "nul\x00here"}, id="nul"),
        pytest.param({"text": "bell\x07"}, id="bell"),
        pytest.param({"text": "esc\x1b[31mred"}, id="escape"),
        pytest.param({"text": "carriage\rreturn"}, id="carriage-return"),
        pytest.param({"text": "del\x7f"}, id="delete"),
        pytest.param({"text": "c1\x85mid"}, id="c1-control"),
        pytest.param({"text": 123}, id="text-int"),
        pytest.param({"text": None}, id="text-null"),
        pytest.param({"text": ["hello"]}, id="text-list"),
        pytest.param({"text": True}, id="text-bool"),
        pytest.param({"text": "hi", "parent_id": 5}, id="parent-int"),
        pytest.param({"text": "hi", "parent_id": "not-a-ulid"}, id="parent-not-ulid"),
        pytest.param({"text": "hi", "parent_id": "01jdq3zzzzzzzzzzzzzzzzzzzz"}, id="parent-lowercase"),
        pytest.param({"text": "hi", "parent_id": ""}, id="parent-empty"),
    ],
)
def test_invalid_fields(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str], body: dict[str, Any]
) -> None:
    assert_refused(post(client, body, alice), 400, app, publisher)


def test_newline_is_the_one_control_character_allowed(client: FlaskClient, alice: dict[str, str]) -> None:
    assert post(client, {"text": "line one\nline two"}, alice).status_code == 202


# --- 401: the token ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer"}, id="empty-bearer"),
        pytest.param({"Authorization": "Bearer not.a.jwt"}, id="malformed"),
        pytest.param({"Authorization": "Bearer abc"}, id="garbage"),
        pytest.param({"Authorization": "Basic YWxpY2U6cHc="}, id="basic-auth"),
        pytest.param({"Authorization": token("alice")}, id="no-scheme"),
        pytest.param(bearer(token("alice", ttl_s=-10)), id="expired"),
        pytest.param(bearer(token("alice", secret="another-secret-0123456789abcdef-0123456789")), id="other-secret"),
        pytest.param(bearer(alg_none_token("alice")), id="alg-none"),
        pytest.param(bearer(token("alice")[:-3] + "AAA"), id="tampered-signature"),
    ],
)
def test_bad_or_missing_token(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, headers: dict[str, str]
) -> None:
    resp = post(client, {"text": "hi"}, headers)
    assert_refused(resp, 401, app, publisher)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_rs256_token_without_a_configured_key(client: FlaskClient, app: Flask, publisher: MemoryPublisher) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"sub": "alice", "exp": 2**40, "roles": []}, key, algorithm="RS256")
    assert_refused(post(client, {"text": "hi"}, bearer(forged)), 401, app, publisher)


def test_token_checked_before_the_body(client: FlaskClient, app: Flask, publisher: MemoryPublisher) -> None:
    assert_refused(post(client, b"not json", {}), 401, app, publisher)
    assert_refused(post(client, b"x" * 9000, {}), 401, app, publisher)


# --- 400/404: hostile video ids in the path -------------------------------------------------


@pytest.mark.parametrize(
    ("path_id", "status"),
    [
        ("a+b", 400),
        ("a%23b", 400),  # a#b
        ("%23", 400),
        ("a%2Bb", 400),
        ("%00", 400),
        ("a%00b", 400),
        ("a%20b", 400),
        ("%C3%A9", 400),  # é
        ("%FF", 400),  # not UTF-8
        ("v" * 65, 400),
        ("a%2Fb", 404),  # a/b: no such route
        ("..", 400),
    ],
)
def test_hostile_video_id(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str], path_id: str, status: int
) -> None:
    assert_refused(post(client, {"text": "hi"}, alice, f"/api/videos/{path_id}/comments"), status, app, publisher)


def test_64_character_video_id_is_fine(client: FlaskClient, app: Flask, alice: dict[str, str]) -> None:
    add_video(app, "v" * 64)
    assert post(client, {"text": "hi"}, alice, f"/api/videos/{'v' * 64}/comments").status_code == 202


# --- 404 / 403 / 400: the video and the parent --------------------------------------------------


def test_unknown_video(client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]) -> None:
    assert_refused(post(client, {"text": "hi"}, alice, "/api/videos/nope/comments"), 404, app, publisher)


@pytest.mark.parametrize("fields", [{"chat": ChatState.CLOSED.value}, {"status": VideoStatus.ENDED.value}])
def test_chat_closed(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str], fields: dict[str, str]
) -> None:
    add_video(app, "v2", **fields)
    resp = post(client, {"text": "hi"}, alice, "/api/videos/v2/comments")
    assert_refused(resp, 403, app, publisher)
    assert resp.get_json()["error"]["code"] == "chat_closed"


def test_a_moderator_posts_to_a_closed_chat_and_the_bridge_delivers_it(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    """Contract: a closed chat refuses everyone but moderators and admins. The door records the
    moderator's post (202) and the bridge, deciding on the same rule, approves and numbers it."""
    add_video(app, "v2", chat=ChatState.CLOSED.value)
    url = "/api/videos/v2/comments"
    assert_refused(post(client, {"text": "hi"}, alice, url), 403, app, publisher)
    for roles in (["moderator"], ["admin"]):
        resp = post(client, {"text": f"from the {roles[0]}"}, bearer(token(roles[0], roles=roles)), url)
        assert resp.status_code == 202, resp.get_data(as_text=True)
    assert [r.by_moderator for r in comment_rows(app)] == [True, True]
    with app.app_context():
        engine = db.engine
    with Session(engine) as s, s.begin():
        result = apply_batch(s, publisher.submissions, 1764000000000)
    assert result.outcomes == [Outcome.APPROVED, Outcome.APPROVED]
    assert [c["text"] for c in result.approved] == ["from the moderator", "from the admin"]
    assert [seq for seq, _payload in result.events["v2"]] == [1, 2]
    assert [(r.status, r.seq) for r in comment_rows(app)] == [(CommentStatus.APPROVED, 1), (CommentStatus.APPROVED, 2)]


@pytest.mark.parametrize("chat", [ChatState.OPEN.value, ChatState.CLOSED.value])
def test_an_ended_video_refuses_moderators_too(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, chat: str
) -> None:
    """Contract v1.1: ending a video closes posting for everyone, moderators included (403 chat_closed)."""
    add_video(app, "v2", status=VideoStatus.ENDED.value, chat=chat)
    for roles in (["moderator"], ["admin"]):
        resp = post(client, {"text": "hi"}, bearer(token(roles[0], roles=roles)), "/api/videos/v2/comments")
        assert_refused(resp, 403, app, publisher)
        assert resp.get_json()["error"]["code"] == "chat_closed"


def test_a_chat_closed_under_a_cached_rule_refuses_a_viewer_and_takes_a_moderator(
    make_app: MakeApp, app: Flask, client: FlaskClient, alice: dict[str, str], auth: Auth
) -> None:
    """This process still has the chat cached open; the insert checks the committed rows, and the
    refusal is explained by the one decision."""
    assert post(client, {"text": "first"}, alice).status_code == 202  # rules cached: open
    other = make_app()  # another web process on the same database
    mod = auth.moderator()
    closing = other.test_client().patch("/api/videos/v1/settings", json={"chat": "closed"}, headers=mod)
    assert closing.status_code == 200
    refused = post(client, {"text": "second"}, alice)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "chat_closed"
    assert post(client, {"text": "from the mod"}, mod).status_code == 202
    assert [r.text for r in comment_rows(app)] == ["first", "from the mod"]


def test_unknown_parent(client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]) -> None:
    assert_refused(post(client, {"text": "hi", "parent_id": "01JDQ3ZZZZZZZZZZZZZZZZZZZZ"}, alice), 404, app, publisher)


@pytest.mark.parametrize(
    "status", [CommentStatus.PENDING, CommentStatus.HELD, CommentStatus.REJECTED, CommentStatus.DELETED]
)
def test_parent_not_visible(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str], status: CommentStatus
) -> None:
    parent = add_comment(app, "v1", None if status == CommentStatus.PENDING else 1, status=status)
    assert_refused(post(client, {"text": "hi", "parent_id": parent}, alice), 404, app, publisher, rows_before=1)


def test_parent_in_another_video(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    add_video(app, "v2")
    parent = add_comment(app, "v2", 1)
    assert_refused(post(client, {"text": "hi", "parent_id": parent}, alice), 404, app, publisher, rows_before=1)


def test_reply_to_a_reply(client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]) -> None:
    top = add_comment(app, "v1", 1)
    reply = add_comment(app, "v1", 2, parent_id=top)
    assert_refused(post(client, {"text": "hi", "parent_id": reply}, alice), 400, app, publisher, rows_before=2)


# --- 413: the body size -----------------------------------------------------------------------


def test_body_over_8_kib(client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]) -> None:
    raw = orjson.dumps({"text": "hi", "padding": "x" * 8192})
    resp = post(client, raw, alice)
    assert_refused(resp, 413, app, publisher)
    assert resp.get_json()["error"]["code"] == "payload_too_large"


def test_body_of_exactly_8_kib_is_read(client: FlaskClient, alice: dict[str, str]) -> None:
    head = b'{"text": "hi", "padding": "'
    raw = head + b"x" * (8192 - len(head) - 2) + b'"}'
    assert len(raw) == 8192
    assert post(client, raw, alice).status_code == 202


def test_body_over_8_kib_without_content_length(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    """A chunked upload as a server hands it over: no CONTENT_LENGTH, input terminated."""
    raw = orjson.dumps({"text": "hi", "padding": "x" * 20000})
    environ = EnvironBuilder(
        path=URL, method="POST", data=raw, headers=alice, content_type="application/json"
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    assert_refused(client.open(environ), 413, app, publisher)


def test_413_is_checked_before_the_json(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    assert_refused(post(client, b"[" * 9000, alice), 413, app, publisher)


# --- 503 and a lost broker ----------------------------------------------------------------------


def test_503_when_the_commit_fails(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    """Simulated: the database refuses the COMMIT (as on a full disk or a lost server)."""

    def refuse(_conn: Any) -> None:
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", refuse)
    try:
        resp = post(client, {"text": "hi"}, {**alice, "Idempotency-Key": "k"})
    finally:
        event.remove(engine, "commit", refuse)
    assert_refused(resp, 503, app, publisher)
    assert resp.get_json()["error"]["code"] == "unavailable"
    assert "Idempotency-Key" in resp.get_json()["error"]["message"]
    # The retry the 503 asks for goes through, once.
    retry = post(client, {"text": "hi"}, {**alice, "Idempotency-Key": "k"})
    assert retry.status_code == 202
    assert comment_count(app) == 1 and len(publisher.submissions) == 1


def test_503_when_the_database_is_gone(tmp_path: Path, make_app: MakeApp, alice: dict[str, str]) -> None:
    """Simulated: the database file's directory disappears, so no connection can be opened."""
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    app = make_app(tmp_path / "data", database_url=f"sqlite:///{db_dir / 'x.sqlite3'}")
    add_video(app, "v1")
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(db_dir)
    resp = post(app.test_client(), {"text": "hi"}, alice)
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "unavailable"
    assert memory_publisher(app).submissions == []
    assert app.test_client().get("/readyz").status_code == 503


def test_lost_broker_still_accepts_the_recorded_comment(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str]
) -> None:
    publisher.connected = False
    resp = post(client, {"text": "hi"}, alice)
    assert resp.status_code == 202
    [row] = comment_rows(app)
    assert row.status == CommentStatus.PENDING and row.id == resp.get_json()["id"]
    assert publisher.submissions == []
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "livecomments_web_publish_failures_total 1.0" in metrics


def test_publisher_that_raises_anything_still_accepts(
    client: FlaskClient, app: Flask, publisher: MemoryPublisher, alice: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_sub: object) -> None:
        raise RuntimeError("socket exploded")

    monkeypatch.setattr(publisher, "publish_submission", boom)
    assert post(client, {"text": "hi"}, alice).status_code == 202
    assert comment_count(app) == 1


def test_metrics_count_accepted_and_rejected(client: FlaskClient, alice: dict[str, str]) -> None:
    post(client, {"text": "hi"}, alice)
    post(client, {"text": ""}, alice)
    post(client, {"text": "hi"}, {})
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "livecomments_web_comments_accepted_total 1.0" in metrics
    assert 'livecomments_web_comments_rejected_total{reason="invalid",status="400"} 1.0' in metrics
    assert 'livecomments_web_comments_rejected_total{reason="unauthorized",status="401"} 1.0' in metrics
    assert "livecomments_web_request_duration_seconds_bucket" in metrics


def test_settings_changed_by_another_web_process_apply_to_the_next_post(
    make_app: MakeApp, app: Flask, client: FlaskClient, alice: dict[str, str], auth: Auth
) -> None:
    """Two web processes on one database: the one that did not make the change has the video's
    rules cached from a post a moment ago, and still screens the next post with the new ones."""
    other = make_app()
    assert post(client, {"text": "zorblax is fine for now"}, alice).status_code == 202  # rules now cached
    mod = auth.moderator()
    patch = other.test_client().patch(
        "/api/videos/v1/settings", json={"blocked_terms": ["zorblax"], "chat": "open"}, headers=mod
    )
    assert patch.status_code == 200, patch.get_data(as_text=True)
    refused = post(client, {"text": "zorblax again"}, alice)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "rejected"
    closing = other.test_client().patch("/api/videos/v1/settings", json={"chat": "closed"}, headers=mod)
    assert closing.status_code == 200
    closed = post(client, {"text": "hello"}, alice)
    assert closed.status_code == 403 and closed.get_json()["error"]["code"] == "chat_closed"
    assert comment_count(app) == 1


def test_a_retry_is_answered_even_when_the_limit_is_reached(
    tmp_path: Path, make_app: MakeApp, alice: dict[str, str]
) -> None:
    app = make_app(tmp_path / "limited", rate_limit_count=1)
    add_video(app, "v1")
    client = app.test_client()
    first = post(client, {"text": "once"}, {**alice, "Idempotency-Key": "k1"})
    assert first.status_code == 202
    retry = post(client, {"text": "once"}, {**alice, "Idempotency-Key": "k1"})
    assert retry.status_code == 202 and retry.get_json() == first.get_json()
    other = post(client, {"text": "twice"}, {**alice, "Idempotency-Key": "k2"})
    assert other.status_code == 429 and other.headers["Retry-After"]
    assert comment_count(app) == 1
