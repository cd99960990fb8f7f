"""Per-process resources the web app shares between requests: the database handle and
the app state kept in ``app.extensions`` (settings, publisher, metrics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine

from infra.recent_cache import RecentCache
from livecomments.config import Settings
from livecomments.models import Base
from livecomments.tokens import VerifiedTokens
from moderation.ratelimit import MemoryRateLimiter, RateLimiter
from webapp.deps import now_ms
from webapp.group_commit import GroupCommit
from webapp.live_reactions import LiveReactionBuffer
from webapp.metrics import Metrics
from webapp.posting import PendingComment, RulesCache
from webapp.publisher import Publisher

EXTENSION_KEY = "livecomments"

ENGINE_KEY = "LIVECOMMENTS_ENGINE"  # app.config: the engine the wiring made (webapp.deps.WebDeps.engine)


class _GivenEngine(SQLAlchemy):
    """Flask-SQLAlchemy using the engine the wiring made instead of making one of its own."""

    def _make_engine(self, bind_key: str | None, options: dict[str, Any], app: Flask) -> Engine:
        engine = app.config.get(ENGINE_KEY)
        if bind_key is None and isinstance(engine, Engine):
            return engine
        return super()._make_engine(bind_key, options, app)  # pragma: no cover - no other binds


# One handle for every app this process creates; engines are per app (init_app).
# expire_on_commit=False: a row stays readable after COMMIT without a new transaction.
db = _GivenEngine(model_class=Base, session_options={"expire_on_commit": False})


@dataclass
class AppState:
    """What ``app.extensions["livecomments"]`` holds."""

    settings: Settings
    publisher: Publisher
    metrics: Metrics
    tokens: VerifiedTokens  # the keys resolved once, and the tokens already checked
    posts: GroupCommit[PendingComment, bool]  # records pending comments, concurrent ones in one transaction
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    live_reactions: LiveReactionBuffer | None = None
    recent_cache: RecentCache | None = None
    clock: Callable[[], int] = now_ms
    token_secret: str | None = None  # HS256, for development sign-in
    rules: RulesCache = field(default_factory=RulesCache)  # each video's screening rules, per process
    openapi: dict[str, Any] | None = field(default=None, repr=False)


def app_state(app: Flask | None = None) -> AppState:
    target = app if app is not None else current_app
    state = target.extensions[EXTENSION_KEY]
    assert isinstance(state, AppState)
    return state
