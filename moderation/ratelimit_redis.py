"""The rate limiter shared by every web process, in Redis: one Lua script per post, so
the check and the record are atomic. Same rule as moderation.ratelimit.admit."""

from __future__ import annotations

import os
from typing import Any

from moderation.ratelimit import ALLOWED, Allowance, Limits

# KEYS[1]: sorted set of post times (ms). ARGV: now_ms, limit, window_ms, slow_ms, member.
_SCRIPT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local slow = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local wait = 0
if slow > 0 then
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] and now - tonumber(last[2]) < slow then
    wait = tonumber(last[2]) + slow - now
  end
end
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  local w = tonumber(oldest[2]) + window - now
  if w > wait then wait = w end
end
if wait > 0 then return wait end
redis.call('ZADD', key, now, ARGV[5])
redis.call('PEXPIRE', key, math.max(window, slow))
return 0
"""


def new_member(now_ms: int) -> str:
    """A sorted-set member no other post has: 96 random bits from the kernel, so two threads,
    two processes (forked from one parent or not) or two hosts never make the same one, even
    in the same millisecond (a shared member would make ZADD count two posts as one)."""
    return f"{now_ms}:{os.urandom(12).hex()}"


class RedisRateLimiter:
    def __init__(self, client: Any, prefix: str = "livecomments:rl:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_SCRIPT)

    def hit(self, key: str, limits: Limits, now_ms: int) -> Allowance:
        args = [now_ms, limits.limit, limits.window_ms, limits.slow_ms, new_member(now_ms)]
        wait = int(self._script(keys=[self._prefix + key], args=args))
        return ALLOWED if wait <= 0 else Allowance(False, wait)
