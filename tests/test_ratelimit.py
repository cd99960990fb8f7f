"""Rate limits and slow mode: the same cases against the in-process store and a real Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from moderation.ratelimit import Limits, MemoryRateLimiter, RateLimiter
from moderation.ratelimit_redis import RedisRateLimiter


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    client.flushdb()
    yield RedisRateLimiter(client)
    client.close()


def test_sliding_window(limiter: RateLimiter) -> None:
    limits = Limits(limit=3, window_ms=30_000)
    assert [limiter.hit("u", limits, t).allowed for t in (0, 1000, 2000)] == [True] * 3
    refused = limiter.hit("u", limits, 5000)
    assert not refused.allowed and refused.retry_after_ms == 25_000 and refused.retry_after_s == 25
    assert not limiter.hit("u", limits, 29_999).allowed
    assert limiter.hit("u", limits, 30_000).allowed  # the first post left the window
    assert not limiter.hit("u", limits, 30_001).allowed
    assert limiter.hit("other", limits, 30_001).allowed  # keys are independent


def test_slow_mode(limiter: RateLimiter) -> None:
    limits = Limits(limit=20, window_ms=30_000, slow_ms=10_000)
    assert limiter.hit("u", limits, 0).allowed
    refused = limiter.hit("u", limits, 2500)
    assert not refused.allowed and refused.retry_after_ms == 7500 and refused.retry_after_s == 8
    assert limiter.hit("u", limits, 10_000).allowed


def test_refusals_are_not_counted(limiter: RateLimiter) -> None:
    limits = Limits(limit=1, window_ms=1000)
    assert limiter.hit("u", limits, 0).allowed
    for t in range(1, 1000, 100):
        assert not limiter.hit("u", limits, t).allowed
    assert limiter.hit("u", limits, 1000).allowed


def test_atomic_under_concurrency(limiter: RateLimiter) -> None:
    limits = Limits(limit=20, window_ms=60_000)
    results: list[bool] = []
    lock = threading.Lock()

    def post() -> None:
        verdict = limiter.hit("hot", limits, 1000)
        with lock:
            results.append(verdict.allowed)

    threads = [threading.Thread(target=post) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 20 and len(results) == 50


def test_limits_validate() -> None:
    with pytest.raises(ValueError):
        Limits(limit=0, window_ms=1)
