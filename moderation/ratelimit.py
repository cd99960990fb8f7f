"""Rate limits and slow mode, per user per video.

A post is allowed when both hold: fewer than `limit` posts in the last `window_ms`
(a sliding window), and at least `slow_ms` since the user's last post. A refusal says
honestly how long to wait. Checking and recording is one atomic step, so two web
processes (or threads) can never both take the last slot.

`MemoryRateLimiter` serves the single-process embedded default; `RedisRateLimiter`
(moderation/ratelimit_redis.py) shares the limits across processes. The same tests
run against both. `admit` is the rule itself, pure: the Lua script in ratelimit_redis.py
is the same rule written for Redis.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limits:
    limit: int  # posts per window
    window_ms: int
    slow_ms: int = 0  # slow mode: minimum gap between two posts of one user

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_ms < 1 or self.slow_ms < 0:
            raise ValueError("limits must be positive")


@dataclass(frozen=True)
class Allowance:
    """A rate limiter's answer: allowed, or how long to wait."""

    allowed: bool
    retry_after_ms: int = 0

    @property
    def retry_after_s(self) -> int:
        """For the Retry-After header: whole seconds, rounded up, at least 1 when refused."""
        return max(1, math.ceil(self.retry_after_ms / 1000)) if not self.allowed else 0


class RateLimiter(Protocol):
    def hit(self, key: str, limits: Limits, now_ms: int) -> Allowance:
        """Record a post under `key` if allowed; say how long to wait if not."""


ALLOWED = Allowance(True)


def admit(posts: tuple[int, ...], limits: Limits, now_ms: int) -> tuple[Allowance, tuple[int, ...]]:
    """The rule itself, pure: the answer for a post at `now_ms` given the user's earlier posts
    (their times, oldest first), and the times to keep (those still in the window, and this
    post's if it is allowed). `posts` is not changed."""
    first = 0
    while first < len(posts) and posts[first] <= now_ms - limits.window_ms:
        first += 1  # left the window
    kept = posts[first:]
    wait = 0
    if kept and limits.slow_ms and now_ms - kept[-1] < limits.slow_ms:
        wait = kept[-1] + limits.slow_ms - now_ms
    if len(kept) >= limits.limit:
        wait = max(wait, kept[len(kept) - limits.limit] + limits.window_ms - now_ms)
    if wait > 0:
        return Allowance(False, wait), kept
    return ALLOWED, (*kept, now_ms)


class MemoryRateLimiter:
    """In-process store: only for a single process.

    A key is kept while it can still refuse a post: until max(window, slow mode) after its last
    post, under the limits it was last checked with (as RedisRateLimiter's PEXPIRE). The keys are
    in the order of their last post, and each hit drops up to two keys at the front whose time
    has passed, so the table holds about the users who posted in the last window, never every
    user who ever posted, for no more than O(1) work per post."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (when it stops mattering, in ms; its posts still in the window); the oldest hit first
        self._posts: OrderedDict[str, tuple[int, tuple[int, ...]]] = OrderedDict()

    def hit(self, key: str, limits: Limits, now_ms: int) -> Allowance:
        with self._lock:
            posts = self._posts
            _until, earlier = posts.pop(key, (0, ()))
            allowance, kept = admit(earlier, limits, now_ms)
            if kept:
                posts[key] = (kept[-1] + max(limits.window_ms, limits.slow_ms), kept)
            for _ in range(2):
                if not posts:
                    break
                oldest = next(iter(posts))
                if posts[oldest][0] > now_ms:
                    break
                del posts[oldest]
            return allowance

    def __len__(self) -> int:
        """How many keys are held."""
        return len(self._posts)
