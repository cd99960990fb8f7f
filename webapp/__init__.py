"""The web app: HTTP API for posting and reading comments (Flask, app factory)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request

from infra import db as core_db
from livecomments.config import Settings
from webapp.deps import WebDeps
from webapp.errors import register_error_handlers
from webapp.extensions import ENGINE_KEY, EXTENSION_KEY, AppState, app_state, db
from webapp.metrics import Metrics
from webapp.publisher import MemoryPublisher, MqttPublisher, Publisher

__all__ = ["MemoryPublisher", "MqttPublisher", "Publisher", "WebDeps", "create_app"]

log = logging.getLogger("livecomments.webapp")

MAX_BODY_BYTES = 8 * 1024
POST_COMMENT_ENDPOINT = "comments.post_comment"


def _config(deps: WebDeps, test_config: Mapping[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": deps.engine.url,  # Flask-SQLAlchemy uses deps.engine itself (webapp.extensions)
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        ENGINE_KEY: deps.engine,
    }
    config.update(test_config or {})
    return config


def _start_timer() -> None:
    g.started = time.perf_counter()


def _reads_only() -> None:
    """A GET or HEAD only reads: on SQLite its transaction begins deferred (a WAL snapshot), so
    history reads neither take nor wait for the write lock that posts and the bridge share."""
    if request.method in ("GET", "HEAD"):
        db.session.connection(execution_options={core_db.READ_ONLY: True})


def _observe(response: Response) -> Response:
    metrics = app_state().metrics
    endpoint = request.endpoint or "none"
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    metrics.request_latency.labels(request.method, endpoint, str(response.status_code)).observe(elapsed)
    if endpoint == POST_COMMENT_ENDPOINT and response.status_code >= 400:
        metrics.comments_rejected.labels(str(response.status_code), g.get("error_code", "error")).inc()
    return response


def _register_blueprints(app: Flask) -> None:
    from webapp import comments, health, openapi, pages, videos

    for module in (videos, comments, health, openapi, pages):
        app.register_blueprint(module.bp)
    from webapp import bans, moderation_views, reactions, replay

    for module in (moderation_views, reactions, replay, bans):
        app.register_blueprint(module.bp)


def create_app(settings: Settings, deps: WebDeps, *, test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app from what the wiring opened (`deps`); this opens nothing itself."""
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(_config(deps, test_config))
    db.init_app(app)
    state = AppState(
        settings=settings,
        publisher=deps.publisher,
        metrics=Metrics(),
        tokens=deps.tokens,
        posts=deps.posts,
        limiter=deps.limiter,
        live_reactions=deps.live_reactions,
        recent_cache=deps.recent_cache,
        clock=deps.clock,
        token_secret=deps.token_secret,
    )
    app.extensions[EXTENSION_KEY] = state
    register_error_handlers(app)
    app.before_request(_start_timer)
    if deps.engine.dialect.name == "sqlite":
        app.before_request(_reads_only)
    app.after_request(_observe)
    _register_blueprints(app)
    return app
