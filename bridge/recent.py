"""The recent-comments window of each video: what the retained `recent` topic carries."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any


class RecentWindow:
    """The last `size` approved comments of one video, oldest first."""

    def __init__(self, size: int, comments: Iterable[Mapping[str, Any]] = ()) -> None:
        self._items: deque[dict[str, Any]] = deque((dict(c) for c in comments), maxlen=size)

    def add(self, comment: Mapping[str, Any]) -> None:
        self._items.append(dict(comment))

    def bump_replies(self, parent_id: str, reply_count: int) -> None:
        for item in self._items:
            if item["id"] == parent_id:
                item["reply_count"] = reply_count

    def comments(self) -> list[dict[str, Any]]:
        return list(self._items)

    def latest(self) -> dict[str, Any] | None:
        return self._items[-1] if self._items else None

    def __len__(self) -> int:
        return len(self._items)
