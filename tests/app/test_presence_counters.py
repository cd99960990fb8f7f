"""The two viewer counters (bridge.presence_memory, bridge.presence_redis on a real Redis), the
same cases over both: distinct ids over the window, exact up to the limit, within 2 % beyond,
back to exact when the audience shrinks, nothing left once a video is idle."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from bridge.presence_counter import PresenceCounter
from bridge.presence_memory import MemoryPresenceCounter
from bridge.presence_redis import KEY_PREFIX, RedisPresenceCounter
from infra import redis_client
from livecomments.presence import EXACT_LIMIT, Window

WINDOW = Window(75.0)
T0 = 1_800_000_000.0  # any time: both counters are told the time
_prefixes = itertools.count()


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Iterator[type]:
    def factory(exact_limit: int = EXACT_LIMIT, window: Window = WINDOW) -> PresenceCounter:
        if request.param == "memory":
            return MemoryPresenceCounter(window, exact_limit)
        url = request.getfixturevalue("redis_url")
        return RedisPresenceCounter(redis_client.connect(url), window, exact_limit,
                                    key_prefix=f"{KEY_PREFIX}t{next(_prefixes)}-")

    yield factory  # type: ignore[misc]


def ids(n: int, tag: str = "c") -> list[str]:
    return [f"lcv-{tag}{i:07d}" for i in range(n)]


def test_five_clients_announcing_three_times_count_five(make) -> None:  # type: ignore[no-untyped-def]
    counter = make()
    for round_ in range(3):
        counter.add([("v1", c) for c in ids(5)], T0 + 30 * round_)
    assert counter.counts(T0 + 60) == {"v1": 5}


def test_an_announcement_counts_for_its_own_video_only(make) -> None:  # type: ignore[no-untyped-def]
    counter = make()
    counter.add([("v1", "a"), ("v1", "b"), ("v2", "a"), ("v1", "a")], T0)
    counter.add([("v3", "c")], T0 + 1)
    assert counter.counts(T0 + 2) == {"v1": 2, "v2": 1, "v3": 1}


def test_viewers_stop_counting_after_the_window(make) -> None:  # type: ignore[no-untyped-def]
    counter = make()
    counter.add([("v1", c) for c in ids(4)], T0)
    counter.add([("v1", "late")], T0 + 40)
    assert counter.counts(T0 + 74) == {"v1": 5}
    assert counter.counts(T0 + 76) == {"v1": 1}  # the first four announced more than 75 s ago
    assert counter.counts(T0 + 40 + 75 + 1) == {"v1": 0}
    # its last announcement is a window and a bucket old: reported 0 once, then forgotten
    assert counter.counts(T0 + 40 + 75 + WINDOW.bucket_s + 1) == {"v1": 0}
    assert counter.counts(T0 + 40 + 75 + WINDOW.bucket_s + 2) == {}


def test_exact_up_to_the_limit(make) -> None:  # type: ignore[no-untyped-def]
    counter = make()
    everyone = ids(EXACT_LIMIT)
    for i in range(0, EXACT_LIMIT, 2500):
        counter.add([("big", c) for c in everyone[i:i + 2500]], T0 + i / 1000)
    counter.add([("big", c) for c in everyone[:100]], T0 + 20)  # again: still once each
    assert counter.counts(T0 + 30) == {"big": EXACT_LIMIT}


@pytest.mark.parametrize("n", [3_000, 25_000])
def test_within_two_percent_beyond_the_limit(make, n: int) -> None:  # type: ignore[no-untyped-def]
    counter = make(exact_limit=1_000)
    everyone = ids(n, tag=f"n{n}-")
    for i in range(0, n, 5000):  # spread over several buckets, each id twice
        batch = [("big", c) for c in everyone[i:i + 5000]]
        counter.add(batch, T0 + i / 1000)
        counter.add(batch, T0 + 20 + i / 1000)
    first = counter.counts(T0 + 40)["big"]
    assert abs(first - n) <= 0.02 * n, first
    counter.add([("big", c) for c in everyone[:10]], T0 + 45)  # the record is gone: the estimate counts
    second = counter.counts(T0 + 50)["big"]
    assert abs(second - n) <= 0.02 * n, second


def test_back_to_exact_a_window_after_the_audience_shrinks(make) -> None:  # type: ignore[no-untyped-def]
    counter = make(exact_limit=1_000)
    crowd, stayers = ids(5_000, "crowd"), ids(300, "stay")
    counter.add([("v1", c) for c in crowd + stayers], T0)
    over = counter.counts(T0 + 1)["v1"]
    assert abs(over - 5_300) <= 0.02 * 5_300
    # the crowd leaves; the stayers announce every 30 s
    for t in range(30, 241, 30):
        counter.add([("v1", c) for c in stayers], T0 + t)
        counts = counter.counts(T0 + t + 1)
    assert counts == {"v1": 300}  # exact again: the new record covers a whole window
    counter.add([("v1", "one-more")], T0 + 245)
    assert counter.counts(T0 + 246) == {"v1": 301}


def test_a_short_window(make) -> None:  # type: ignore[no-untyped-def]
    window = Window(3.0)
    counter = make(window=window)
    counter.add([("v1", c) for c in ids(7)], T0)
    assert counter.counts(T0 + 2.9) == {"v1": 7}
    assert counter.counts(T0 + 3.1) == {"v1": 0}


def test_redis_keys_expire_with_the_window(redis_url: str) -> None:
    """An idle video leaves nothing behind: every key has a TTL of the window and two buckets."""
    client = redis_client.connect(redis_url)
    prefix = f"{KEY_PREFIX}ttl{next(_prefixes)}-"
    counter = RedisPresenceCounter(client, WINDOW, 1_000, key_prefix=prefix)
    counter.add([("v1", c) for c in ids(1_500)], T0)
    counter.counts(T0 + 1)  # over the limit: the record is dropped, the tier key says so
    keys = client.keys(f"{prefix}*")
    assert keys and client.get(f"{prefix}v1:t") == b"off" and not client.exists(f"{prefix}v1:x")
    for key in keys:
        ttl = client.pttl(key)
        assert 0 < ttl <= WINDOW.keep_s * 1000, (key, ttl)


def test_a_redis_that_fails_loses_the_round_and_the_counter_carries_on() -> None:
    from infra.ports import free_port

    counter = RedisPresenceCounter(redis_client.connect(f"redis://127.0.0.1:{free_port()}/0"), WINDOW)
    counter.add([("v1", "a")], T0)  # refused: logged, not raised
    assert counter.counts(T0 + 1) == {}
    assert counter.errors == 2


def test_which_record_counts_memory() -> None:
    """The switch itself (in the counter's own state): the record dropped past the limit, the
    sketches dropped once a new record covers the window."""
    counter = MemoryPresenceCounter(WINDOW, 1_000)
    counter.add([("v1", c) for c in ids(300)], T0)
    counter.counts(T0 + 1)
    audience = counter._audiences["v1"]
    assert audience.exact is not None and audience.sketches is None  # small: no sketch at all
    counter.add([("v1", c) for c in ids(1_200, "more")], T0 + 2)
    counter.counts(T0 + 3)
    assert audience.exact is None and audience.sketches  # over the limit: the estimate only
    counter.counts(T0 + 80)  # the estimate fell to 0: a new record starts, the sketches still fed
    assert audience.exact == {} and audience.sketches is not None
    counter.add([("v1", "x")], T0 + 100)
    counter.counts(T0 + 156)
    assert audience.exact == {"x": T0 + 100} and audience.sketches is None


def test_which_record_counts_redis(redis_url: str) -> None:
    client = redis_client.connect(redis_url)
    prefix = f"{KEY_PREFIX}sw{next(_prefixes)}-"
    counter = RedisPresenceCounter(client, WINDOW, 1_000, key_prefix=prefix)
    counter.add([("v1", c) for c in ids(300)], T0)
    counter.counts(T0 + 1)
    assert client.zcard(f"{prefix}v1:x") == 300 and client.get(f"{prefix}v1:t") is None
    counter.add([("v1", c) for c in ids(1_200, "more")], T0 + 2)
    counter.counts(T0 + 3)
    assert not client.exists(f"{prefix}v1:x") and client.get(f"{prefix}v1:t") == b"off"
    counter.counts(T0 + 80)
    assert client.get(f"{prefix}v1:t") == str(int((T0 + 80) * 1000)).encode()
    counter.add([("v1", "x")], T0 + 100)
    assert counter.counts(T0 + 156) == {"v1": 1}
    assert client.get(f"{prefix}v1:t") is None and client.zcard(f"{prefix}v1:x") == 1
