"""The viewer page: ``/videos/{v}`` with its static ES modules, the browser build of MQTT.js
served from node_modules, and (in development mode only) a sign-in that hands out tokens."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, render_template, request, send_file, send_from_directory
from flask.blueprints import BlueprintSetupState
from pydantic import Field
from werkzeug.exceptions import NotFound

from livecomments import tokens
from livecomments.config import Settings
from livecomments.presence import presence_topic
from livecomments.validation import MAX_TEXT_CODE_POINTS, FieldError, check_id, clean_name
from webapp import store
from webapp.apidoc import HTML, Content, operation
from webapp.errors import ApiError, error_response
from webapp.extensions import app_state
from webapp.jsonio import field_error, json_response, parse_body
from webapp.schemas import DisplayName, IdField, StrictBody

log = logging.getLogger("livecomments.webapp.pages")

bp = Blueprint("pages", __name__)

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"
MQTT_BROWSER_BUILD = ROOT / "node_modules" / "mqtt" / "dist" / "mqtt.esm.js"
DEV_SIGN_IN_RULE = "/api/dev/token"

_STATIC_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\.(js|css|svg)")
_STATIC_TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
_HOST_RE = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
_NETLOC_RE = re.compile(r"(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")
_WS_PATH_RE = re.compile(r"(?:/[A-Za-z0-9._~/-]*)?")
_FALLBACK_HOST = "localhost"


# -- configuration handed to the page ------------------------------------------------------------


def _request_hostname(host_header: str) -> str:
    """The host the page was requested with, without its port; a malformed Host falls back."""
    if host_header.startswith("["):
        host = host_header.partition("]")[0] + "]"
    else:
        host = host_header.rsplit(":", 1)[0] if ":" in host_header else host_header
    return host if _HOST_RE.fullmatch(host) else _FALLBACK_HOST


def _valid_ws_url(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in ("ws", "wss")
        and _NETLOC_RE.fullmatch(parts.netloc) is not None
        and _WS_PATH_RE.fullmatch(parts.path) is not None
        and not parts.query
        and not parts.fragment
    )


def configured_ws_urls(raw: str | None) -> list[str]:
    """Settings.public_ws_urls split on commas; malformed entries are logged and left out."""
    urls = []
    for item in (raw or "").split(","):
        url = item.strip()
        if not url:
            continue
        if _valid_ws_url(url):
            urls.append(url)
        else:
            log.warning("LIVECOMMENTS_PUBLIC_WS_URLS: ignoring %r (want ws[s]://host[:port][/path])", url)
    return urls


def broker_ws_urls(settings: Settings, host_header: str, secure: bool) -> list[str]:
    """The broker WebSocket URLs a browser should try, in order."""
    urls = configured_ws_urls(settings.public_ws_urls)
    if urls:
        return urls
    scheme = "wss" if secure else "ws"
    return [f"{scheme}://{_request_hostname(host_header)}:{settings.ws_port}/mqtt"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(ws_urls: Iterable[str]) -> str:
    """Scripts, styles and connections from this origin only, plus the brokers; nothing inline."""
    connect = " ".join(["'self'", *dict.fromkeys(_origin(u) for u in ws_urls)])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        ]
    )


def page_config(settings: Settings, video_id: str, ws_urls: list[str]) -> dict[str, Any]:
    topics = settings.topics
    return {
        "videoId": video_id,
        "brokerUrls": ws_urls,
        "topics": {
            "comments": topics.comments(video_id),
            "recent": topics.recent(video_id),
            "state": topics.state(video_id),
            "reactions": topics.reactions(video_id),
            "sample": topics.sample(video_id),  # followed instead of comments when too busy (volume.js)
            "presence": presence_topic(video_id, ""),  # + the connection's client id (connection.js)
        },
        "api": {
            "video": f"/api/videos/{video_id}",
            "comments": f"/api/videos/{video_id}/comments",
            "liveReactions": f"/api/videos/{video_id}/reactions",
            "review": f"/api/videos/{video_id}/review",
            "settings": f"/api/videos/{video_id}/settings",
            "pin": f"/api/videos/{video_id}/pin",
            "bans": f"/api/videos/{video_id}/bans/",
            "comment": "/api/comments/",
            "devToken": DEV_SIGN_IN_RULE if settings.dev else None,
        },
        "maxTextCodePoints": MAX_TEXT_CODE_POINTS,
    }


def _secure_headers(resp: Response) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _html(body: str, status: int, csp: str) -> Response:
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = csp
    resp.headers["Cache-Control"] = "no-store"
    return _secure_headers(resp)


# -- routes ---------------------------------------------------------------------------------------


@bp.get("/videos/<video_id>")
@operation(
    "The viewer page of a video",
    responses={200: HTML, 404: HTML},
    tags=["pages"],
)
def viewer(video_id: str) -> Response:
    """Live comments in the browser: MQTT over WebSocket straight to the broker, posting over HTTP."""
    settings = app_state().settings
    try:
        video = store.get_video(check_id("video_id", video_id))
    except FieldError:
        video = None
    if video is None:
        body = render_template("not_found.html", video_id=video_id)
        return _html(body, 404, content_security_policy([]))
    ws_urls = broker_ws_urls(settings, request.host, request.is_secure)
    body = render_template("viewer.html", title=video.title, config=page_config(settings, video.id, ws_urls))
    return _html(body, 200, content_security_policy(ws_urls))


@bp.get("/static/vendor/mqtt.esm.js")
@operation(
    "MQTT.js, browser build (from node_modules)",
    responses={200: Content(("text/javascript",)), 503: None},
    tags=["pages"],
)
def mqtt_browser_build() -> Response:
    """The pinned npm package's ES module build; 503 until ``npm ci`` has installed it."""
    if not MQTT_BROWSER_BUILD.is_file():
        return error_response(
            503, "unavailable", f"MQTT.js is not installed: run `npm ci` in {ROOT} (missing {MQTT_BROWSER_BUILD})"
        )
    resp = send_file(MQTT_BROWSER_BUILD, mimetype="text/javascript", conditional=True, max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return _secure_headers(resp)


@bp.get("/static/<name>")
@operation(
    "The viewer page's modules, styles and icon",
    responses={200: Content(tuple(_STATIC_TYPES.values())), 404: None},
    path={"name": {"type": "string", "pattern": f"^{_STATIC_NAME_RE.pattern}$"}},
    tags=["pages"],
)
def static_file(name: str) -> Response:
    match = _STATIC_NAME_RE.fullmatch(name)
    if match is None:
        raise ApiError(404, "not_found", f"no static file {name!r}")
    resp = send_from_directory(STATIC_DIR, name, mimetype=_STATIC_TYPES[match.group(1)], max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return _secure_headers(resp)


# -- development sign-in --------------------------------------------------------------------------


class DevSignIn(StrictBody):
    user_id: IdField = Field(description="1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    name: DisplayName
    roles: list[Literal["moderator", "admin"]] = Field(default_factory=list)


class DevToken(StrictBody):
    token: str


@operation(
    "Development sign-in: a signed token for anyone who asks",
    request=DevSignIn,
    responses={200: DevToken, 400: None, 413: None},
    tags=["development"],
)
def dev_token() -> Response:
    """Only exists when the server runs in development mode (LIVECOMMENTS_DEV=1, the default of
    ``livecomments up``); elsewhere this path is a 404. Never enable it in production."""
    body = parse_body(DevSignIn)
    try:
        user_id = check_id("user_id", body.user_id)
        name = clean_name(body.name)
    except FieldError as exc:
        raise field_error(exc) from exc
    secret = app_state().token_secret
    if secret is None:  # only RS256 keys configured: this server signs nothing
        raise NotFound()
    token = tokens.issue(secret, user_id, name, sorted(set(body.roles)))
    return json_response({"token": token})


@bp.record
def _register_dev_routes(state: BlueprintSetupState) -> None:
    assert isinstance(state.app, Flask)
    if app_state(state.app).settings.dev:
        state.add_url_rule(DEV_SIGN_IN_RULE, view_func=dev_token, methods=["POST"])
