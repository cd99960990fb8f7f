"""The web app: HTTP API for posting and reading comments (Flask, app factory)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy.engine import make_url

from infra import credentials
from infra import db as core_db
from infra.recent_cache import RecentCache
from livecomments.config import Settings
from livecomments.tokens import VerifiedTokens
from moderation.ratelimit import MemoryRateLimiter, RateLimiter
from webapp.errors import UNAVAILABLE_ERRORS, register_error_handlers
from webapp.extensions import EXTENSION_KEY, AppState, app_state, db
from webapp.group_commit import GroupCommit
from webapp.live_reactions import LiveReactionBuffer
from webapp.metrics import Metrics
from webapp.posting import PendingComment, insert_pending
from webapp.publisher import MemoryPublisher, MqttPublisher, Publisher

__all__ = ["MemoryPublisher", "MqttPublisher", "Publisher", "close_app", "create_app"]

log = logging.getLogger("livecomments.webapp")

MAX_BODY_BYTES = 8 * 1024
POST_COMMENT_ENDPOINT = "comments.post_comment"


def _config(settings: Settings, test_config: Mapping[str, Any] | None) -> dict[str, Any]:
    url = settings.effective_database_url
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": core_db.engine_options(url),
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
    }
    config.update(test_config or {})
    return config


def _init_database(app: Flask, settings: Settings) -> None:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    with app.app_context():
        core_db.prepare_engine(db.engine)
        core_db.create_schema(db.engine)


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
    from webapp import moderation_views, reactions

    for module in (moderation_views, reactions):
        app.register_blueprint(module.bp)


def _rate_limiter(settings: Settings) -> RateLimiter:
    """Redis when configured (shared by every web process), else this process's own store."""
    if settings.redis_url:
        import redis

        from moderation.ratelimit_redis import RedisRateLimiter

        log.info("rate limits in Redis at %s", make_url(settings.redis_url).render_as_string(hide_password=True))
        return RedisRateLimiter(redis.Redis.from_url(settings.redis_url))
    return MemoryRateLimiter()


def _post_committer(app: Flask) -> GroupCommit[PendingComment, bool]:
    with app.app_context():
        engine = db.engine
    # insert_pending is one statement on the driver's cursor: a lone post on PostgreSQL is its own
    # transaction (one round trip instead of BEGIN, INSERT, COMMIT).
    return GroupCommit(engine, insert_pending, unavailable=UNAVAILABLE_ERRORS, name="post-commit", lone_autocommit=True)


def create_app(
    settings: Settings | None = None,
    *,
    publisher: Publisher | None = None,
    test_config: Mapping[str, Any] | None = None,
) -> Flask:
    """Build the web app. Without a publisher, one MQTT client for this process is started."""
    settings = settings if settings is not None else Settings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(_config(settings, test_config))
    _init_database(app, settings)
    if publisher is None:
        publisher = MqttPublisher(settings)
    state = AppState(
        settings=settings,
        publisher=publisher,
        metrics=Metrics(),
        tokens=VerifiedTokens(credentials.hs256_secret(settings), settings.jwt_public_key),
        posts=_post_committer(app),
        limiter=_rate_limiter(settings),
        live_reactions=LiveReactionBuffer(publisher),
        recent_cache=RecentCache.from_url(settings.redis_url),
    )
    app.extensions[EXTENSION_KEY] = state
    register_error_handlers(app)
    app.before_request(_start_timer)
    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite":
        app.before_request(_reads_only)
    app.after_request(_observe)
    _register_blueprints(app)
    log.info(
        "web app: database %s, publisher %s",
        make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True),
        type(publisher).__name__,
    )
    return app


def close_app(app: Flask) -> None:
    """Release what create_app opened: the publisher's connection and the database pool."""
    state = app_state(app)
    state.posts.close()
    if state.live_reactions is not None:
        state.live_reactions.close()
    state.publisher.close()
    with app.app_context():
        db.engine.dispose()
