"""The rate limiter's cases (tests/unit/test_ratelimit.py) against a real Redis: the same
functions, collected here with this module's `limiter`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from moderation.ratelimit import RateLimiter
from moderation.ratelimit_redis import RedisRateLimiter
from tests.unit.test_ratelimit import (  # noqa: F401 - collected here, run with the Redis limiter
    test_atomic_under_concurrency,
    test_refusals_are_not_counted,
    test_sliding_window,
    test_slow_mode,
)


@pytest.fixture
def limiter(redis_url: str) -> Iterator[RateLimiter]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield RedisRateLimiter(client)
    client.close()
