"""The app as a whole: creating videos, operators' endpoints, the OpenAPI document,
error shapes for werkzeug's own errors, and serving over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from infra.ports import free_port
from livecomments.config import Settings
from livecomments.models import Video
from livecomments.validation import is_valid_ulid
from livecomments.wire import Submission
from tests.support.waiting import eventually
from tests.support.web import SECRET, add_video, alg_none_token, bearer, close_app, make_test_app, token
from webapp import store
from webapp.extensions import app_state, db
from webapp.publisher import MemoryPublisher, MqttPublisher, PublishError
from wiring.web import build_web, prepare_data

ADMIN = bearer(token("root", roles=["admin"]))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Flask, MemoryPublisher]]:
    app, publisher = make_test_app(tmp_path)
    yield app, publisher
    close_app(app)


@pytest.fixture
def app(env: tuple[Flask, MemoryPublisher]) -> Flask:
    return env[0]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


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


def test_readyz(client: FlaskClient, env: tuple[Flask, MemoryPublisher]) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["checks"] == {"database": "ok", "broker": "ok"}
    env[1].connected = False
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "unavailable"
    assert "broker" in resp.get_json()["error"]["message"]
    assert resp.get_json()["checks"] == {"database": "ok", "broker": "unavailable"}


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


def test_two_apps_have_their_own_metrics(tmp_path: Path) -> None:
    first, _ = make_test_app(tmp_path / "a")
    second, _ = make_test_app(tmp_path / "b")
    try:
        assert app_state(first).metrics.registry is not app_state(second).metrics.registry
    finally:
        close_app(first)
        close_app(second)


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
    assert schema["properties"]["text"]["maxLength"] == 500
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
        assert client.get("/readyz").get_json()["checks"]["broker"] == "unavailable"
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


# --- `livecomments web --workers N`: granian worker processes -----------------------------------------


def _worker_pids(web: Any) -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process(web.proc.pid).children()}


def _answering_pids(base: str, port: int, workers: set[int], connections: int = 24) -> set[int]:
    """Open keep-alive connections, ask once on each, and see which worker process holds each one."""
    import psutil

    sessions = [requests.Session() for _ in range(connections)]
    try:
        for s in sessions:
            assert s.get(base + "/healthz", timeout=5).status_code == 200
        answered = set()
        for pid in workers:
            for c in psutil.Process(pid).net_connections("tcp"):
                if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port:
                    answered.add(pid)
        return answered
    finally:
        for s in sessions:
            s.close()


def test_web_workers_post_read_reload_and_stop(stack: Any) -> None:
    """`livecomments web --workers 2` against a real broker and bridge: two worker processes
    answer, posts are published and read back, the body is bounded, SIGHUP replaces every
    worker while posts keep getting their 202, and SIGTERM stops them all."""
    import signal

    import psutil

    from tests.support.api import Api

    stack.broker()
    stack.bridge()
    web = stack.service("web", "--workers", "2", ports=[stack.http_port]).start()
    base = f"http://127.0.0.1:{stack.http_port}"
    api = Api(base, stack.secret)
    api.wait_ready(30)
    assert f"web app listening on http://127.0.0.1:{stack.http_port}" in web.output()

    eventually(lambda: len(_worker_pids(web)) >= 2, 20, "fewer than two workers", interval=0.1)
    workers = _worker_pids(web)
    assert len(workers) == 2
    answered: set[int] = set()

    def every_worker_answered() -> bool:
        answered.update(_answering_pids(base, stack.http_port, workers))
        return answered == workers

    eventually(every_worker_answered, 20, "not every worker answered", interval=0)

    assert api.create_video("v1").status_code == 201
    ids = [api.post("v1", f"comment {i}", user=f"u{i}").json()["id"] for i in range(6)]
    big = requests.post(base + "/api/videos/v1/comments", data=b"x" * 20000,
                        headers={**api.headers("alice"), "Content-Type": "application/json"}, timeout=5)
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    chunked = requests.post(base + "/api/videos/v1/comments", data=iter([b"x" * 5000] * 4),
                            headers={**api.headers("alice"), "Content-Type": "application/json"}, timeout=5)
    assert chunked.status_code == 413
    assert requests.get(base + "/api/videos/a%2Bb", timeout=5).status_code == 400  # decoded, then checked

    def published() -> set[str]:
        return {c["id"] for c in api.history("v1").json()["comments"]}

    eventually(lambda: set(ids) <= published(), 20, "not every post was published", interval=0.2)

    web.proc.send_signal(signal.SIGHUP)
    statuses: list[int] = []

    def replaced_while_posting() -> bool:
        n = len(statuses)
        statuses.append(api.post("v1", f"during reload {n}", user=f"r{n % 15}").status_code)
        now = _worker_pids(web)
        return len(now) == 2 and not now & workers

    eventually(replaced_while_posting, 30, "SIGHUP did not replace every worker")
    replaced = _worker_pids(web)
    assert len(replaced) == 2 and not replaced & workers, (workers, replaced)
    assert statuses and set(statuses) == {202}, statuses
    assert api.post("v1", "after reload", user="after").status_code == 202

    assert web.stop() == 0
    gone = [pid for pid in workers | replaced if psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert gone == []


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
