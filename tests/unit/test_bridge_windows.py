"""The per-video recent windows the bridge publishes `recent` from (bridge.windows), with a fake clock."""

from __future__ import annotations

from typing import Any

from bridge.windows import IDLE_S, RecentWindows


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def comment(n: int, video: str = "v1", replies: int = 0) -> dict[str, Any]:
    return {"id": f"c{n}", "video_id": video, "text": f"#{n}", "reply_count": replies}


def test_a_commit_extends_the_loaded_windows_only() -> None:
    windows = RecentWindows(3, FakeClock())
    windows.load("v1", [comment(1), comment(2)])
    windows.take([comment(3), comment(4), comment(9, video="v2")], {})
    v1 = windows.get("v1")
    assert v1 is not None and [c["id"] for c in v1.comments()] == ["c2", "c3", "c4"]  # the last 3
    assert windows.get("v2") is None and "v2" not in windows  # loaded from the database when first used


def test_reply_counts_reach_the_parent_in_its_window() -> None:
    windows = RecentWindows(5, FakeClock())
    windows.load("v1", [comment(1), comment(2)])
    windows.load("v2", [comment(7, video="v2")])
    windows.take([], {"c2": 4})
    v1, v2 = windows.get("v1"), windows.get("v2")
    assert v1 is not None and v2 is not None
    assert [c["reply_count"] for c in v1.comments()] == [0, 4]
    assert [c["reply_count"] for c in v2.comments()] == [0]


def test_windows_not_read_for_a_while_are_forgotten() -> None:
    clock = FakeClock()
    windows = RecentWindows(5, clock)
    windows.load("quiet", [comment(1, video="quiet")])
    windows.load("busy", [comment(2, video="busy")])
    clock.now += IDLE_S / 2
    assert windows.get("busy") is not None  # read: in use
    windows.take([comment(3, video="quiet")], {})  # extending a window is not reading it
    assert windows.forget_idle(clock.now) == 0
    clock.now += IDLE_S / 2
    assert windows.forget_idle(clock.now) == 1
    assert "quiet" not in windows and "busy" in windows and len(windows) == 1
    windows.take([comment(4, video="quiet")], {})  # no window: skipped, nothing grows back
    assert "quiet" not in windows


def test_drop_and_clear_make_the_next_use_load_again() -> None:
    windows = RecentWindows(5, FakeClock())
    windows.load("v1", [comment(1)])
    windows.load("v2", [comment(2, video="v2")])
    windows.drop("v1")
    windows.drop("nope")
    assert windows.get("v1") is None and windows.get("v2") is not None
    windows.clear()
    assert len(windows) == 0 and windows.forget_idle(10_000.0) == 0


def test_the_windows_hold_at_most_held_comments_the_least_recently_used_go() -> None:
    clock = FakeClock()
    windows = RecentWindows(5, clock, held=6)
    for i in range(10):  # 10 videos of 2 comments: 3.3 times the bound
        clock.now += 1
        windows.load(f"v{i}", [comment(2 * i, video=f"v{i}"), comment(2 * i + 1, video=f"v{i}")])
        assert windows.get("v0") is not None or i >= 3  # read each time: v0 stays in use
        assert windows.comments <= 6 and len(windows) <= 3
    assert "v0" in windows and "v9" in windows and "v1" not in windows
    windows.take([comment(100, video="v9")], {})  # a commit's comments count too
    assert windows.comments <= 6 and "v9" in windows


def test_a_long_tail_of_small_windows_fits_where_few_full_ones_do() -> None:
    windows = RecentWindows(5, FakeClock(), held=10)
    windows.load("full", [comment(i, video="full") for i in range(5)])
    for i in range(5):
        windows.load(f"tail{i}", [comment(10 + i, video=f"tail{i}")])
    assert len(windows) == 6 and windows.comments == 10
    windows.load("another", [comment(20 + i, video="another") for i in range(5)])  # the least recent go first
    assert "full" not in windows and windows.comments <= 10
    windows.drop("another")
    windows.clear()
    assert windows.comments == 0


def test_a_dropped_window_is_loaded_again_with_what_the_database_holds() -> None:
    windows = RecentWindows(5, FakeClock(), held=1)  # one comment in all: one window
    windows.load("v1", [comment(1)])
    windows.load("v2", [comment(2, video="v2")])  # v1 goes
    windows.take([comment(3)], {})  # v1 has no window: skipped
    assert windows.get("v1") is None
    again = windows.load("v1", [comment(1), comment(3)])  # what bridge.service reads from the database
    assert [c["id"] for c in again.comments()] == ["c1", "c3"] and "v2" not in windows


def test_a_reply_bumps_its_parent_in_the_window_of_its_own_video_only() -> None:
    windows = RecentWindows(5, FakeClock())
    windows.load("v1", [comment(1)])
    windows.load("v2", [comment(1, video="v2")])  # the same id elsewhere: never looked at
    reply = {**comment(2), "parent_id": "c1"}
    windows.take([reply], {"c1": 1})
    v1, v2 = windows.get("v1"), windows.get("v2")
    assert v1 is not None and v2 is not None
    assert [c["reply_count"] for c in v1.comments()] == [1, 0]
    assert [c["reply_count"] for c in v2.comments()] == [0]
