"""The app as a whole: creating videos, operators' endpoints, the OpenAPI document, error shapes
for werkzeug's own errors, the MQTT publisher without a broker. (Serving over real HTTP with
worker processes: tests/integration/test_web_workers.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from infra.ports import free_port
from livecomments.config import Settings
from livecomments.models import Video
from livecomments.validation import is_valid_ulid
from livecomments.wire import Submission
from tests.support.leases import bridge_running
from tests.support.web import SECRET, MakeApp, add_video, alg_none_token, bearer, close_app, token
from webapp import store
from webapp.extensions import app_state, db
from webapp.publisher import MemoryPublisher, MqttPublisher, PublishError
from wiring.web import build_web, prepare_data

ADMIN = bearer(token("root", roles=["admin"]))


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, str]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code is not None:
        assert body["error"]["code"] == code
    return dict(body["error"])


def videos(app: Flask) -> list[str]:
    with app.app_context():
        return [v.id for v in db.session.query(Video).order_by(Video.id)]


# --- POST /api/videos -------------------------------------------------------------------------


def test_create_video(client: FlaskClient, app: Flask) -> None:
    resp = client.post("/api/videos", json={"id": "launch", "title": "  Launch day  "}, headers=ADMIN)
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["id"] == "launch" and body["title"] == "Launch day"
    assert body["status"] == "live" and body["chat"] == "open" and body["pinned"] is None
    assert resp.headers["Location"] == "/api/videos/launch"
    assert client.get("/api/videos/launch").get_json() == body


def test_create_video_generates_an_id(client: FlaskClient, app: Flask) -> None:
    resp = client.post("/api/videos", json={"title": "t"}, headers=ADMIN)
    assert resp.status_code == 201
    assert is_valid_ulid(resp.get_json()["id"])
    assert videos(app) == [resp.get_json()["id"]]


def test_create_video_needs_an_admin(client: FlaskClient, app: Flask) -> None:
    assert_error(client.post("/api/videos", json={"title": "t"}), 401, "unauthorized")
    assert_error(client.post("/api/videos", json={"title": "t"}, headers=bearer(alg_none_token("root"))), 401)
    for roles in ([], ["moderator"]):
        assert_error(client.post("/api/videos", json={"title": "t"}, headers=bearer(token("u", roles=roles))), 403)
    assert videos(app) == []


def test_create_video_twice_is_a_conflict(client: FlaskClient, app: Flask) -> None:
    assert client.post("/api/videos", json={"id": "v", "title": "first"}, headers=ADMIN).status_code == 201
    assert_error(client.post("/api/videos", json={"id": "v", "title": "again"}, headers=ADMIN), 409, "conflict")
    assert client.get("/api/videos/v").get_json()["title"] == "first"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": 5},
        {"title": "t", "id": "a/b"},
        {"title": "t", "id": "a+b"},
        {"title": "t", "id": ""},
        {"title": "t", "id": "x" * 65},
        {"title": "t", "id": 7},
        {"title": "bell\x07"},
    ],
)
def test_create_video_invalid(client: FlaskClient, app: Flask, body: dict[str, Any]) -> None:
    assert_error(client.post("/api/videos", json=body, headers=ADMIN), 400, "invalid")
    assert videos(app) == []


def test_create_video_bad_json(client: FlaskClient, app: Flask) -> None:
    assert_error(client.post("/api/videos", data=b"{", headers=ADMIN), 400)
    assert_error(client.post("/api/videos", data=b"[]", headers=ADMIN), 400)
    assert_error(client.post("/api/videos", data=orjson.dumps({"title": "x" * 9000}), headers=ADMIN), 413)


# --- werkzeug's errors as JSON ------------------------------------------------------------------


def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/api/videos/"), 404)


def test_wrong_method_is_json_405_with_allow(client: FlaskClient) -> None:
    resp = client.delete("/api/videos/v1/comments")
    assert_error(resp, 405, "method_not_allowed")
    assert {"GET", "POST"} <= set(resp.headers["Allow"].replace(" ", "").split(","))


def test_unexpected_error_is_json_500_without_traceback(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_video_id: str) -> None:
        raise RuntimeError("secret internals /srv/app.py line 12")

    monkeypatch.setattr(store, "get_video", broken)
    resp = client.get("/api/videos/v1")
    error = assert_error(resp, 500, "internal")
    assert "secret" not in resp.get_data(as_text=True) and "Traceback" not in error["message"]


# --- health, readiness, metrics -------------------------------------------------------------------


def test_healthz(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_readyz(app: Flask, client: FlaskClient, publisher: MemoryPublisher) -> None:
    bridge_running(app)  # a bridge holds the partition (tests/app/test_readyz_bridge.py: without one)
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["checks"] == {"database": True, "broker": True, "bridge": True}
    publisher.connected = False
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "unavailable"
    assert "broker" in resp.get_json()["error"]["message"]
    assert resp.get_json()["checks"] == {"database": True, "broker": False, "bridge": True}


def test_metrics_is_prometheus_text(client: FlaskClient) -> None:
    client.get("/healthz")
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    assert "# TYPE livecomments_web_comments_accepted_total counter" in text
    assert (
        'livecomments_web_request_duration_seconds_count{endpoint="health.healthz",method="GET",status="200"} 1.0'
        in text
    )


def test_two_apps_have_their_own_metrics(tmp_path: Path, make_app: MakeApp) -> None:
    first, second = make_app(tmp_path / "a"), make_app(tmp_path / "b")
    assert app_state(first).metrics.registry is not app_state(second).metrics.registry


# --- OpenAPI --------------------------------------------------------------------------------------


def test_openapi_lists_every_route_and_method(client: FlaskClient, app: Flask) -> None:
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    expected = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    listed = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert listed == expected
    assert {
        ("/api/videos", "post"),
        ("/api/videos/{video_id}", "get"),
        ("/api/videos/{video_id}/comments", "post"),
        ("/api/videos/{video_id}/comments", "get"),
        ("/api/comments/{comment_id}", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/openapi.json", "get"),
    } <= listed


def test_openapi_describes_posting_a_comment(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    op = doc["paths"]["/api/videos/{video_id}/comments"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["required"] == ["text"]
    assert schema["properties"]["text"]["type"] == "string"
    text = re.compile(schema["properties"]["text"]["pattern"])  # the text rules, 1-500 code points once trimmed
    assert text.fullmatch("x" * 500) and not text.fullmatch("x" * 501)
    assert "parent_id" in schema["properties"]
    assert {"202", "400", "401", "403", "404", "413", "503"} <= set(op["responses"])
    assert op["security"] == [{"bearerAuth": []}]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op["parameters"])
    history = doc["paths"]["/api/videos/{video_id}/comments"]["get"]
    names = {p["name"] for p in history["parameters"] if p["in"] == "query"}
    assert names == {"limit", "before_seq", "after_seq", "parent_id"}
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


# --- the MQTT publisher without a broker ------------------------------------------------------------


def test_mqtt_publisher_without_a_broker(tmp_path: Path) -> None:
    """Nothing listens on the MQTT port: not ready, a post is still recorded (202), and
    the publisher reports the submission as not sent (paho keeps it for the reconnect)."""
    settings = Settings(data_dir=tmp_path, secret=SECRET, mqtt_port=free_port())
    prepare_data(settings)
    app = build_web(settings)
    try:
        assert isinstance(app_state(app).publisher, MqttPublisher)
        client = app.test_client()
        assert client.get("/readyz").get_json()["checks"]["broker"] is False
        add_video(app, "v1")
        resp = client.post("/api/videos/v1/comments", json={"text": "hi"}, headers=bearer(token("alice")))
        assert resp.status_code == 202
        assert "livecomments_web_publish_failures_total 1.0" in client.get("/metrics").get_data(as_text=True)
        with pytest.raises(PublishError):
            app_state(app).publisher.publish_submission(
                Submission(resp.get_json()["id"], "v1", "alice", "Alice", "hi", None, 1)
            )
    finally:
        close_app(app)


# --- settings for `livecomments web --workers N` (the workers themselves: tests/integration/test_web_workers.py)


def test_settings_reach_the_workers_through_the_environment(tmp_path: Path) -> None:
    from livecomments.config import settings_environ

    settings = Settings(data_dir=tmp_path, secret=SECRET, http_port=8123, dev=True, sweep_after_s=0.5,
                        database_url="sqlite:///x.db", web_workers=3)
    env = {k: v for k, v in settings_environ(settings).items() if v is not None}
    assert "LIVECOMMENTS_REDIS_URL" not in env
    assert Settings.from_env(env) == settings


def test_a_chunked_body_gets_a_bounded_length() -> None:
    import io

    from wiring.web import BoundedChunkedBody

    seen: list[tuple[str, bytes, bool]] = []

    def inner(environ: dict[str, Any], _start: Any) -> list[bytes]:
        seen.append((environ["CONTENT_LENGTH"], environ["wsgi.input"].read(), "HTTP_TRANSFER_ENCODING" in environ))
        return []

    app = BoundedChunkedBody(inner, 10)
    for body, want in ((b"12345", b"12345"), (b"x" * 100, b"x" * 11)):
        app({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body)}, None)
        assert seen.pop() == (str(len(want)), want, False)
    app({"CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}, None)  # untouched
    assert seen.pop() == ("3", b"abc", False)
