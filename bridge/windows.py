"""The recent window (bridge.recent.RecentWindow) of each video the bridge publishes: the
comments its retained `recent` carries, kept current from each commit's approved comments.

A window is a copy of what the database holds, loaded on first use; dropping one costs only
the query that loads it again. So the windows of videos not published for IDLE_S are dropped
(`forget_idle`), and the table holds only the videos in use."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bridge.recent import RecentWindow

IDLE_S = 60.0


class RecentWindows:
    def __init__(self, size: int, clock: Callable[[], float], idle_s: float = IDLE_S) -> None:
        self.size = size
        self._clock = clock
        self._idle_s = idle_s
        self._windows: dict[str, RecentWindow] = {}
        self._used: dict[str, float] = {}  # video -> when its window was last read

    def get(self, video_id: str) -> RecentWindow | None:
        """The video's window, if one is loaded."""
        window = self._windows.get(video_id)
        if window is not None:
            self._used[video_id] = self._clock()
        return window

    def load(self, video_id: str, comments: Iterable[Mapping[str, Any]]) -> RecentWindow:
        """A window for the video from its last `size` approved comments (oldest first)."""
        window = self._windows[video_id] = RecentWindow(self.size, comments)
        self._used[video_id] = self._clock()
        return window

    def take(self, approved: Iterable[Mapping[str, Any]], reply_counts: Mapping[str, int]) -> None:
        """A commit's approved comments (in seq order per video) and its parents' reply counts.
        A video without a window is skipped: its window is loaded, with them, when first used."""
        windows = self._windows
        for comment in approved:
            window = windows.get(comment["video_id"])
            if window is not None:
                window.add(comment)
        for parent_id, count in reply_counts.items():
            for window in windows.values():
                window.bump_replies(parent_id, count)

    def drop(self, video_id: str) -> None:
        """The video's window changed in the database (a delete, an approval, a restore): reload it."""
        self._windows.pop(video_id, None)
        self._used.pop(video_id, None)

    def clear(self) -> None:
        self._windows.clear()
        self._used.clear()

    def forget_idle(self, now: float) -> int:
        """Drop the windows not read for IDLE_S; returns how many went."""
        idle = [v for v, at in self._used.items() if now - at >= self._idle_s]
        for video_id in idle:
            self.drop(video_id)
        return len(idle)

    def __contains__(self, video_id: str) -> bool:
        return video_id in self._windows

    def __len__(self) -> int:
        return len(self._windows)
