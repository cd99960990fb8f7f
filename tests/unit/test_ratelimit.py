"""Rate limits and slow mode: the pure rule (`admit`), and the cases every RateLimiter passes,
here against the in-process one. tests/integration/test_ratelimit_redis.py runs the same
`test_*(limiter)` cases against a real Redis."""

from __future__ import annotations

import threading

import pytest

from moderation.ratelimit import ALLOWED, Allowance, Limits, MemoryRateLimiter, RateLimiter, admit


@pytest.fixture
def limiter() -> RateLimiter:
    return MemoryRateLimiter()


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


@pytest.mark.parametrize(
    ("posts", "limits", "now", "allowance", "kept"),
    [
        ((), Limits(3, 30_000), 0, ALLOWED, (0,)),
        ((0, 1000), Limits(3, 30_000), 2000, ALLOWED, (0, 1000, 2000)),
        ((0, 1000, 2000), Limits(3, 30_000), 5000, Allowance(False, 25_000), (0, 1000, 2000)),
        ((0, 1000, 2000), Limits(3, 30_000), 30_000, ALLOWED, (1000, 2000, 30_000)),  # the first left the window
        ((0, 1000, 2000), Limits(3, 1000), 5000, ALLOWED, (5000,)),
        ((0,), Limits(20, 30_000, slow_ms=10_000), 2500, Allowance(False, 7500), (0,)),
        ((0,), Limits(20, 30_000, slow_ms=10_000), 10_000, ALLOWED, (0, 10_000)),
        ((0, 9000), Limits(2, 10_000, slow_ms=5000), 9500, Allowance(False, 4500), (0, 9000)),  # the longer wait
    ],
)
def test_admit_is_pure_and_returns_the_state_to_keep(
    posts: tuple[int, ...], limits: Limits, now: int, allowance: Allowance, kept: tuple[int, ...]
) -> None:
    before = tuple(posts)
    assert admit(posts, limits, now) == (allowance, kept)
    assert posts == before


def test_the_in_process_table_holds_only_the_users_of_the_last_window() -> None:
    """10,000 users post once each, a second apart in tens: a key goes once it can refuse no post."""
    limiter = MemoryRateLimiter()
    limits = Limits(limit=20, window_ms=30_000, slow_ms=5_000)
    for i in range(10_000):
        assert limiter.hit(f"u{i}:v{i % 97}", limits, i * 100).allowed
        assert len(limiter) <= 302  # the posts of the last 30 s (300 users), and at most two late to go
    assert not limiter.hit("u9999:v8", limits, 999_950).allowed  # a key still in its slow mode is held


def test_a_key_that_went_starts_over_as_a_new_one() -> None:
    limiter = MemoryRateLimiter()
    limits = Limits(limit=1, window_ms=1000)
    assert limiter.hit("u", limits, 0).allowed
    assert not limiter.hit("u", limits, 999).allowed
    for t in range(1000, 1010):  # others post after u's window: u's key goes
        limiter.hit(f"other{t}", limits, t)
    assert len(limiter) <= 10
    assert limiter.hit("u", limits, 1010).allowed
