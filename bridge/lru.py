"""A dict that keeps at most `held` keys, the most recently put (pure).

For the bridge's per-video copies of what the database holds (each video's blocked terms): a
key that goes is read again from the database with the video's next batch, so the bound costs
nothing in correctness. Reading does not refresh a key; putting it does."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruDict(dict[K, V]):
    def __init__(self, held: int) -> None:
        if held < 1:
            raise ValueError("held must be at least 1")
        super().__init__()
        self.held = held

    def put_all(self, items: Mapping[K, V]) -> None:
        """Put every item, each then the most recent; past `held`, the least recent go first."""
        for key, value in items.items():
            self.pop(key, None)  # and put back: the most recent last
            self[key] = value
        excess = len(self) - self.held
        if excess > 0:
            for key in list(itertools.islice(self, excess)):
                del self[key]
