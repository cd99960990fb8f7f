"""Rate limits and slow mode, per user per video.

A post is allowed when both hold: fewer than `limit` posts in the last `window_ms`
(a sliding window), and at least `slow_ms` since the user's last post. A refusal says
honestly how long to wait. Checking and recording is one atomic step, so two web
processes (or threads) can never both take the last slot.

`MemoryRateLimiter` serves the single-process embedded default; `RedisRateLimiter`
(moderation/ratelimit_redis.py) shares the limits across processes. The same tests
run against both.
"""

from __future__ import annotations

import math
import threading
from collections import deque
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
class Verdict:
    allowed: bool
    retry_after_ms: int = 0

    @property
    def retry_after_s(self) -> int:
        """For the Retry-After header: whole seconds, rounded up, at least 1 when refused."""
        return max(1, math.ceil(self.retry_after_ms / 1000)) if not self.allowed else 0


class RateLimiter(Protocol):
    def hit(self, key: str, limits: Limits, now_ms: int) -> Verdict:
        """Record a post under `key` if allowed; say how long to wait if not."""


def decide(times: deque[int], limits: Limits, now_ms: int) -> Verdict:
    """The rule itself, over the posts still in the window (oldest first). Pure."""
    while times and times[0] <= now_ms - limits.window_ms:
        times.popleft()
    waits = []
    if times and limits.slow_ms and now_ms - times[-1] < limits.slow_ms:
        waits.append(times[-1] + limits.slow_ms - now_ms)
    if len(times) >= limits.limit:
        waits.append(times[len(times) - limits.limit] + limits.window_ms - now_ms)
    if waits:
        return Verdict(False, max(waits))
    return Verdict(True)


class MemoryRateLimiter:
    """In-process store: only for a single process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: dict[str, deque[int]] = {}

    def hit(self, key: str, limits: Limits, now_ms: int) -> Verdict:
        with self._lock:
            times = self._posts.setdefault(key, deque())
            verdict = decide(times, limits, now_ms)
            if verdict.allowed:
                times.append(now_ms)
            elif not times:
                del self._posts[key]
            return verdict
