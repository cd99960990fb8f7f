"""The Redis rate limiter counts every post when two processes (forked from one, as web workers
are) and many threads in each post at once, all in the same millisecond, against a real Redis."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier

import pytest
import redis

from moderation.ratelimit import Limits
from moderation.ratelimit_redis import RedisRateLimiter

PROCESSES = 2
THREADS = 8
POSTS = 50  # per thread
TOTAL = PROCESSES * THREADS * POSTS
NOW_MS = 1_764_000_000_000  # one millisecond for every post: only the member tells them apart
LIMITS = Limits(limit=TOTAL, window_ms=60_000)
KEY = "v1:hot"
PREFIX = "test:rl:"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


def _worker(limiter: RedisRateLimiter, start: Barrier, allowed: multiprocessing.SimpleQueue[int]) -> None:
    counts: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        start.wait(30)  # every thread of both processes goes at once
        n = sum(limiter.hit(KEY, LIMITS, NOW_MS).allowed for _ in range(POSTS))
        with lock:
            counts.append(n)

    threads = [threading.Thread(target=post) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    allowed.put(sum(counts))


def test_two_forked_processes_of_many_threads_count_every_post(client: redis.Redis) -> None:
    limiter = RedisRateLimiter(client, prefix=PREFIX)  # built once, then forked, as a web server's workers
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(PROCESSES * THREADS)
    allowed: multiprocessing.SimpleQueue[int] = ctx.SimpleQueue()
    procs = [ctx.Process(target=_worker, args=(limiter, start, allowed)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(90)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    assert sum(allowed.get() for _ in procs) == TOTAL  # every post was within the limit
    assert client.zcard(PREFIX + KEY) == TOTAL  # and each one is its own entry
    refused = limiter.hit(KEY, LIMITS, NOW_MS + 1)  # so the limit is reached exactly
    assert not refused.allowed and refused.retry_after_ms == LIMITS.window_ms - 1
