"""What the web app is given: everything that opens a connection, a pool or a thread, built once
per process by the wiring (wiring/web.py) and handed to `create_app`, which opens nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from infra.recent_cache import RecentCache
from livecomments.tokens import VerifiedTokens
from moderation.ratelimit import RateLimiter
from webapp.group_commit import GroupCommit
from webapp.live_reactions import LiveReactionBuffer
from webapp.posting import PendingComment
from webapp.publisher import Publisher


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class WebDeps:
    engine: Engine  # prepared (infra.db.prepare_engine); the schema is already current
    publisher: Publisher  # hands submissions to the bridge
    tokens: VerifiedTokens  # the keys resolved once, and the tokens already checked
    token_secret: str | None  # HS256, for development sign-in (POST /api/dev/token); None: sign nothing
    posts: GroupCommit[PendingComment, bool]  # records pending comments, concurrent ones in one transaction
    limiter: RateLimiter  # Redis when configured (shared by every web process), else this process's
    live_reactions: LiveReactionBuffer
    recent_cache: RecentCache | None = None
    clock: Callable[[], int] = now_ms  # wall clock, ms
