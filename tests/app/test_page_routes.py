"""The viewer page's routes through the Flask test client: the dev sign-in's token, the page's
strict CSP and its configuration, broker URLs, static files and the vendored MQTT.js. (The page
in a real browser: tests/browser/.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from livecomments import tokens
from tests.support.stack import ROOT
from tests.support.web import SECRET, Auth, MakeApp
from webapp import pages
from webapp.extensions import app_state

STATIC = ROOT / "webapp" / "static"
VIDEO = "v1"


@pytest.fixture
def dev_app(make_app: MakeApp) -> Flask:
    """In development mode (the dev sign-in), the broker's WebSocket on 9001."""
    return make_app(dev=True, ws_port=9001)


def create_video(client: FlaskClient, video_id: str = VIDEO) -> None:
    resp = client.post("/api/videos", json={"id": video_id, "title": "A <live> video"}, headers=Auth().admin())
    assert resp.status_code == 201


def test_dev_token_is_404_unless_in_development_mode(client: FlaskClient) -> None:
    resp = client.post("/api/dev/token", json={"user_id": "alice", "name": "Alice"})
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    assert "/api/dev/token" not in client.get("/api/openapi.json").get_json()["paths"]


def test_dev_token_signs_a_token_in_development_mode(dev_app: Flask) -> None:
    client = dev_app.test_client()
    resp = client.post("/api/dev/token", json={"user_id": "alice", "name": " Alice ", "roles": ["moderator"]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    who = tokens.verify(resp.get_json()["token"], SECRET)
    assert (who.user_id, who.name, who.roles) == ("alice", "Alice", frozenset({"moderator"}))
    for body in ({"user_id": "a/b", "name": "A"}, {"user_id": "a", "name": ""}, {"user_id": "a", "name": "A",
                 "roles": ["root"]}, {"name": "A"}):
        assert client.post("/api/dev/token", json=body).status_code == 400, body
    assert "/api/dev/token" in client.get("/api/openapi.json").get_json()["paths"]


def test_page_has_a_strict_csp_and_config_without_inline_script(dev_app: Flask) -> None:
    client = dev_app.test_client()
    create_video(client)
    resp = client.get(f"/videos/{VIDEO}", headers={"Host": "viewer.example:8000"})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'", "ws://viewer.example:9001"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = resp.get_data(as_text=True)
    assert "A &lt;live&gt; video" in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert [attrs for attrs, body in scripts if body.strip() and "application/json" not in attrs] == []
    assert ' style="' not in html and "<style" not in html
    assert '"brokerUrls": ["ws://viewer.example:9001/mqtt"]' in html


def test_broker_urls_come_from_configuration(make_app: MakeApp) -> None:
    urls = "wss://edge1.example/mqtt, wss://edge2.example:8443/mqtt,javascript:alert(1),ws://bad host/"
    client = make_app(public_ws_urls=urls).test_client()
    create_video(client)
    resp = client.get(f"/videos/{VIDEO}")
    csp = resp.headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://edge1.example wss://edge2.example:8443;" in csp
    assert '"brokerUrls": ["wss://edge1.example/mqtt", "wss://edge2.example:8443/mqtt"]' in resp.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1:8000", "ws://127.0.0.1:9001/mqtt"),
        ("[::1]:8000", "ws://[::1]:9001/mqtt"),
        ("example.com", "ws://example.com:9001/mqtt"),
        ("evil.example;script-src *", "ws://localhost:9001/mqtt"),
    ],
)
def test_default_broker_url_uses_the_page_host(dev_app: Flask, host: str, expected: str) -> None:
    settings = app_state(dev_app).settings
    assert pages.broker_ws_urls(settings, host, secure=False) == [expected]


def test_unknown_video_page_is_404(dev_app: Flask) -> None:
    client = dev_app.test_client()
    for path in ("/videos/nope", "/videos/bad%20id"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.mimetype == "text/html"
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


def test_static_files_and_vendored_mqtt(dev_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    client = dev_app.test_client()
    modules = sorted(path.name for path in STATIC.glob("*.js"))
    assert {"main.js", "viewer.js", "stream.js", "http.js"} <= set(modules), modules
    for name, mimetype in (
        *((module, "text/javascript") for module in modules),  # every module the page imports
        ("viewer.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
        ("vendor/mqtt.esm.js", "text/javascript"),
    ):
        with client.get(f"/static/{name}") as resp:
            assert (resp.status_code, resp.mimetype) == (200, mimetype), name
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("tests", "tests/stream.test.mjs", "package.json", "..%2F__init__.py", "Viewer.js"):
        with client.get(f"/static/{name}") as resp:
            assert resp.status_code == 404, name
    monkeypatch.setattr(pages, "MQTT_BROWSER_BUILD", Path("/nonexistent/mqtt.esm.js"))
    with client.get("/static/vendor/mqtt.esm.js") as resp:
        assert resp.status_code == 503
        assert "npm ci" in resp.get_json()["error"]["message"]
