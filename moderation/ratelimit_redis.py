"""The rate limiter shared by every web process, in Redis: one Lua script per post, so
the check and the record are atomic. Same rule as moderation.ratelimit.decide."""

from __future__ import annotations

from typing import Any

from moderation.ratelimit import Limits, Verdict

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


class RedisRateLimiter:
    def __init__(self, client: Any, prefix: str = "livecomments:rl:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_SCRIPT)
        self._counter = 0

    def hit(self, key: str, limits: Limits, now_ms: int) -> Verdict:
        self._counter += 1
        member = f"{now_ms}:{id(self)}:{self._counter}"  # unique even for two posts in one ms
        args = [now_ms, limits.limit, limits.window_ms, limits.slow_ms, member]
        wait = int(self._script(keys=[self._prefix + key], args=args))
        return Verdict(True) if wait <= 0 else Verdict(False, wait)
