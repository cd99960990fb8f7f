"""What counts the viewers' announcements: one interface, two counters.

- bridge.presence_memory: in this process (the embedded default, no Redis);
- bridge.presence_redis: in Redis (LIVECOMMENTS_REDIS_URL set), shared by every bridge process.

Both keep, per video, an exact record (each client id and the time of its last announcement)
while the audience is at most `exact_limit`, and HyperLogLog sketches per time bucket of the
window beyond it; `livecomments.presence.settle` decides which one counts. The tests run the
same cases over both (tests/app/test_presence_counters.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Announcement = tuple[str, str]  # (video id, client id)


class PresenceCounter(Protocol):
    def add(self, announcements: Sequence[Announcement], now: float) -> None:
        """Record these announcements, made at `now` (seconds since the epoch)."""

    def counts(self, now: float) -> dict[str, int]:
        """Each video's `viewers` now: every video announced within the window, and, once more,
        each whose last announcement just left it (its count then is 0)."""
