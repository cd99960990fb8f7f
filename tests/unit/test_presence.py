"""The pure rules of presence (livecomments.presence): topics, what an announcement is, the
announcer's schedule, the window's buckets, the exact/estimate switch, the videos to report."""

from __future__ import annotations

import math

import pytest

from livecomments import presence
from livecomments.presence import NEVER, ActiveVideos, Window, settle


def test_topics() -> None:
    assert presence.presence_topic("v1", "lcv-abc") == "presence/videos/v1/lcv-abc"
    assert presence.parse_presence_topic("presence/videos/v1/lcv-abc") == ("v1", "lcv-abc")
    assert presence.PRESENCE_FILTER == "presence/videos/+/+"
    for bad in ("presence/videos/v1", "presence/videos/v1/a/b", "presence/x/v1/a", "live/videos/v1/a",
                "presence/videos/v.1/a", "presence/videos/v1/a b", "presence/videos//a", "presence/videos/v1/",
                f"presence/videos/v1/{'a' * 65}", "presence/videos/+/a"):
        assert presence.parse_presence_topic(bad) is None, bad


def test_may_announce_names_its_own_client_id_only() -> None:
    assert presence.may_announce("lcv-1", "presence/videos/v1/lcv-1")
    assert not presence.may_announce("lcv-2", "presence/videos/v1/lcv-1")
    assert not presence.may_announce(None, "presence/videos/v1/lcv-1")
    assert not presence.may_announce("a/b", "presence/videos/v1/a/b")  # not an id


@pytest.mark.parametrize(
    ("qos", "retain", "size", "ok"),
    [(0, False, 0, True), (0, False, 64, True), (0, False, 65, False), (1, False, 0, False), (2, False, 0, False),
     (0, True, 0, False)],
)
def test_what_an_announcement_is(qos: int, retain: bool, size: int, ok: bool) -> None:
    assert presence.is_announcement(qos, retain, size) is ok


def test_announcements_come_every_30_s_give_or_take_5() -> None:
    assert presence.next_announcement_in(lambda: 0.0) == 25.0
    assert presence.next_announcement_in(lambda: 0.5) == 30.0
    assert presence.next_announcement_in(lambda: 0.999999) == pytest.approx(35.0)


def test_window_buckets() -> None:
    w = Window(75.0)
    assert w.bucket_s == 5.0 and w.keep_s == 85.0
    assert w.bucket_of(0) == 0 and w.bucket_of(4.99) == 0 and w.bucket_of(5) == 1
    assert w.live_buckets(100.0) == range(5, 21)  # (25, 100]: buckets 5 (25-30) to 20 (100-105)
    assert w.cutoff(100.0) == 25.0
    with pytest.raises(ValueError):
        Window(0)


def test_settle_counts_the_complete_record_exactly() -> None:
    w = Window(75.0)
    never_asked = lambda: pytest.fail("the estimate is not needed")  # noqa: E731
    s = settle(NEVER, 42, never_asked, 1000.0, w, 100)
    assert (s.count, s.exact, s.exact_since) == (42, True, NEVER) and not s.needs_estimate(w, 1000.0)
    s = settle(100.0, 100, never_asked, 1000.0, w, 100)  # a record older than the window, at the limit
    assert s.count == 100 and s.exact


def test_settle_drops_a_record_past_the_limit() -> None:
    s = settle(NEVER, 101, lambda: 99, 1000.0, Window(75.0), 100)
    assert (s.count, s.exact, s.exact_since, s.dropped_exact) == (99, False, None, True)


def test_settle_resumes_a_record_under_the_limit_and_trusts_it_after_a_window() -> None:
    w = Window(75.0)
    assert settle(None, 0, lambda: 95, 1000.0, w, 100).exact_since is None  # not under 90 %
    s = settle(None, 0, lambda: 89, 1000.0, w, 100)
    assert (s.count, s.exact_since, s.resumed_exact) == (89, 1000.0, True) and s.needs_estimate(w, 1000.0)
    s = settle(1000.0, 80, lambda: 81, 1074.0, w, 100)  # not a whole window yet: the estimate
    assert (s.count, s.exact) == (81, False)
    s = settle(1000.0, 80, lambda: 81, 1075.0, w, 100)
    assert (s.count, s.exact) == (80, True) and not s.needs_estimate(w, 1075.0)


def test_active_videos_report_once_more_then_forget() -> None:
    w = Window(10.0, buckets=10)
    active = ActiveVideos(w)
    active.seen("v1", 0.0)
    active.seen("v2", 5.0)
    assert active.due(10.0) == ["v1", "v2"]
    assert active.due(11.5) == ["v1", "v2"]  # v1's last is 11.5 s old: reported, then forgotten
    assert active.due(11.6) == ["v2"] and "v1" not in active and len(active) == 1
    assert math.isinf(NEVER)
