"""When each video's events and retained views may go (bridge.pacing), with a fake clock."""

from __future__ import annotations

import pytest

from bridge.pacing import EVENTS_INTERVAL_S, FORGET_EVERY_S, LATER, RETAINED_INTERVAL_S, RETRY_S, Pacer


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_quiet_videos_events_go_at_once_and_a_busy_ones_once_per_interval(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    now = pacer.begin()
    assert pacer.events_due("v1", now)  # never sent: at once
    pacer.events_sent("v1", now)
    clock.advance(0.01)
    now = pacer.begin()
    assert not pacer.events_due("v1", now)  # 10 ms after a batch: the next one grows
    assert pacer.wake_at == pytest.approx(1000.0 + EVENTS_INTERVAL_S)
    assert pacer.events_due("v2", now)  # another video is not held back by v1
    clock.advance(EVENTS_INTERVAL_S)
    now = pacer.begin()
    assert pacer.wake_at == LATER
    assert pacer.events_due("v1", now)


def test_the_round_wakes_at_the_earliest_video_due(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    now = pacer.begin()
    pacer.events_sent("v1", now)
    clock.advance(0.02)
    pacer.events_sent("v2", clock())
    clock.advance(0.01)
    now = pacer.begin()
    assert not pacer.events_due("v2", now) and not pacer.events_due("v1", now)
    assert pacer.wake_at == pytest.approx(1000.0 + EVENTS_INTERVAL_S)  # v1's, the earlier
    assert pacer.wait(1.0) == pytest.approx(EVENTS_INTERVAL_S - 0.03)
    assert pacer.wait(0.001) == 0.001  # never longer than asked
    clock.advance(1.0)
    assert pacer.wait(1.0) == 0.0  # overdue: no waiting


def test_wait_is_the_timeout_when_nothing_is_left_for_later(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    pacer.begin()
    assert pacer.wait(0.05) == 0.05
    pacer.events_sent("v1", clock())
    assert not pacer.events_due("v1", clock())
    pacer.idle()
    assert pacer.wait(0.05) == 0.05


def test_recent_and_reactions_are_each_republished_at_most_once_per_interval(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    now = pacer.begin()
    assert pacer.retained_due("v1", now) == (True, True)
    pacer.retained_sent("v1", now, recent=True, reactions=False)
    clock.advance(0.125)
    now = pacer.begin()
    assert pacer.retained_due("v1", now) == (False, True)  # reactions never went: due
    pacer.retained_sent("v1", now, recent=False, reactions=True)
    pacer.retained_later("v1", now)
    assert pacer.wake_at == pytest.approx(1000.0 + RETAINED_INTERVAL_S)  # recent's, the earlier
    clock.advance(RETAINED_INTERVAL_S - 0.125)
    now = pacer.begin()
    assert pacer.retained_due("v1", now) == (True, False)
    pacer.retained_later("v1", now)
    assert pacer.wake_at == pytest.approx(1000.125 + RETAINED_INTERVAL_S)  # reactions', still ahead


def test_events_and_retained_views_are_paced_apart(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    now = pacer.begin()
    pacer.events_sent("v1", now)
    assert pacer.retained_due("v1", now) == (True, True)  # a batch just went; recent may go with it
    pacer.retained_sent("v1", now, recent=True, reactions=True)
    clock.advance(EVENTS_INTERVAL_S)
    now = pacer.begin()
    assert pacer.events_due("v1", now) and pacer.retained_due("v1", now) == (False, False)


def test_retry_soon_ends_the_round_with_a_short_wait(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    now = pacer.begin()
    pacer.events_sent("v1", now)
    clock.advance(0.01)
    now = pacer.begin()
    assert not pacer.events_due("v1", now)
    pacer.retry_soon(now)
    assert pacer.wake_at == pytest.approx(now + RETRY_S)  # replaces what was due
    pacer.begin()
    assert pacer.wake_at == LATER  # a new round starts afresh


def test_idle_videos_are_forgotten_without_changing_any_answer(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    now = pacer.begin()
    for n in range(100):
        pacer.events_sent(f"v{n}", now)
        pacer.retained_sent(f"v{n}", now, recent=True, reactions=True)
    clock.advance(RETAINED_INTERVAL_S / 2)
    pacer.events_sent("busy", clock())
    assert pacer.forget_idle(clock()) == 0  # every one of them still within an interval
    clock.advance(RETAINED_INTERVAL_S / 2)
    now = clock()
    before = [(pacer.events_due(v, now), pacer.retained_due(v, now)) for v in ("v0", "v99", "busy")]
    assert pacer.forget_idle(now) == 100  # the hundred: every interval has passed; "busy" is kept
    assert len(pacer) == 1
    after = [(pacer.events_due(v, now), pacer.retained_due(v, now)) for v in ("v0", "v99", "busy")]
    assert after == before == [(True, (True, True))] * 3


def test_begin_forgets_idle_videos_now_and_then(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    pacer.begin()  # the first round tidies (nothing to drop)
    pacer.events_sent("v1", clock())
    clock.advance(1.0)
    pacer.begin()
    assert len(pacer) == 1  # idle, but the last tidy was less than FORGET_EVERY_S ago
    clock.advance(FORGET_EVERY_S)
    pacer.begin()
    assert len(pacer) == 0


def test_past_held_videos_the_idle_ones_go_at_once(clock: FakeClock) -> None:
    pacer = Pacer(clock, held=5)
    for i in range(40):  # 40 videos, 8 times the bound, one after another
        clock.advance(RETAINED_INTERVAL_S)
        now = pacer.begin()
        pacer.events_sent(f"v{i}", now)
        pacer.retained_sent(f"v{i}", now, recent=True, reactions=True)
        assert len(pacer) <= 5
    assert not pacer.events_due("v39", pacer.begin())  # the last one's interval still runs: kept


def test_videos_within_an_interval_are_kept_past_held(clock: FakeClock) -> None:
    pacer = Pacer(clock, held=2)
    now = pacer.begin()
    for i in range(6):  # all at once: every one of them is being paced
        pacer.events_sent(f"v{i}", now)
    assert len(pacer) == 6
    clock.advance(0.01)
    now = pacer.begin()
    assert not any(pacer.events_due(f"v{i}", now) for i in range(6))  # the bound never lets one go early
