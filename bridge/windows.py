"""The recent window (bridge.recent.RecentWindow) of each video the bridge publishes: the
comments its retained `recent` carries, kept current from each commit's approved comments.

A window is a copy of what the database holds, loaded on first use; dropping one costs only
the query that loads it again. So the windows of videos not published for IDLE_S are dropped
(`forget_idle`), and the windows hold at most `held` comments in all (COMMENTS_HELD by default,
Settings.bridge_window_comments_held): past it the least recently used windows go. The bound is
in comments, not windows, because a comment is what takes the memory (~1.3 KB): a long tail of
videos with a comment or two costs little, a full window (recent_size, 50) fifty times more."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bridge.recent import RecentWindow
from livecomments.config import BRIDGE_WINDOW_COMMENTS_HELD

IDLE_S = 60.0
# Comments the windows hold in all, at most: ~65 MB; 1,000 full windows, or many more small ones.
COMMENTS_HELD = BRIDGE_WINDOW_COMMENTS_HELD


class RecentWindows:
    def __init__(self, size: int, clock: Callable[[], float], idle_s: float = IDLE_S,
                 held: int = COMMENTS_HELD) -> None:
        if held < 1:
            raise ValueError("held must be at least 1")
        self.size = size
        self.held = held
        self._clock = clock
        self._idle_s = idle_s
        self._windows: dict[str, RecentWindow] = {}
        self._used: dict[str, float] = {}  # video -> when its window was last read, the least recent first
        self.comments = 0  # in all the windows

    def get(self, video_id: str) -> RecentWindow | None:
        """The video's window, if one is loaded."""
        window = self._windows.get(video_id)
        if window is not None:
            self._touch(video_id)
        return window

    def load(self, video_id: str, comments: Iterable[Mapping[str, Any]]) -> RecentWindow:
        """A window for the video from its last `size` approved comments (oldest first); past
        `held` comments in all, the least recently used windows are dropped (never this one)."""
        self.drop(video_id)
        window = self._windows[video_id] = RecentWindow(self.size, comments)
        self.comments += len(window)
        self._touch(video_id)
        self._trim()
        return window

    def _trim(self) -> None:
        used = self._used
        while self.comments > self.held and len(used) > 1:  # the most recently read one stays
            self.drop(next(iter(used)))

    def _touch(self, video_id: str) -> None:
        used = self._used
        used.pop(video_id, None)  # and put back: the most recent last
        used[video_id] = self._clock()

    def take(self, approved: Iterable[Mapping[str, Any]], reply_counts: Mapping[str, int]) -> None:
        """A commit's approved comments (in seq order per video) and its parents' reply counts.
        A video without a window is skipped: its window is loaded, with them, when first used.
        A parent is looked for in the window of the video of its approved reply (a parent whose
        reply is not among `approved`, in every window)."""
        windows = self._windows
        video_of: dict[str, str] = {}
        added = 0
        for comment in approved:
            video_id = comment["video_id"]
            window = windows.get(video_id)
            if window is not None:
                before = len(window)
                window.add(comment)
                added += len(window) - before
            parent_id = comment.get("parent_id")
            if parent_id is not None:
                video_of[parent_id] = video_id
        for parent_id, count in reply_counts.items():
            video_id = video_of.get(parent_id)
            if video_id is None:
                for window in windows.values():
                    window.bump_replies(parent_id, count)
            elif (window := windows.get(video_id)) is not None:
                window.bump_replies(parent_id, count)
        if added:
            self.comments += added
            self._trim()

    def drop(self, video_id: str) -> None:
        """The video's window changed in the database (a delete, an approval, a restore): reload it."""
        window = self._windows.pop(video_id, None)
        if window is not None:
            self.comments -= len(window)
        self._used.pop(video_id, None)

    def clear(self) -> None:
        self._windows.clear()
        self._used.clear()
        self.comments = 0

    def forget_idle(self, now: float) -> int:
        """Drop the windows not read for IDLE_S (the least recently read come first); returns how many went."""
        idle = []
        for video_id, at in self._used.items():
            if now - at < self._idle_s:
                break
            idle.append(video_id)
        for video_id in idle:
            self.drop(video_id)
        return len(idle)

    def __contains__(self, video_id: str) -> bool:
        return video_id in self._windows

    def __len__(self) -> int:
        return len(self._windows)
