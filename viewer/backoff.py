"""When and where to reconnect: exponential backoff with full jitter over several broker URLs.

Pure: the random source is injected, nothing sleeps here. Full jitter (a delay drawn
uniformly from [0, min(cap, base * 2**attempt))) keeps a crowd of viewers that lost the
same broker from coming back in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Random = Callable[[], float]  # returns a float in [0, 1), like random.random


def full_jitter(attempt: int, base: float, cap: float, rand: Random) -> float:
    """The delay before retry number `attempt` (0 for the first retry)."""
    ceiling = min(cap, base * (1 << min(attempt, 62)))
    return rand() * ceiling


class Backoff:
    """Successive delays for one kind of retry; `reset()` once it worked."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rand: Random = random.random) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.rand = rand
        self.attempt = 0

    def next_delay(self) -> float:
        delay = full_jitter(self.attempt, self.base, self.cap, self.rand)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


@dataclass(frozen=True)
class Attempt:
    url: str
    delay: float  # seconds to wait before trying it


class ReconnectPlan:
    """Which broker URL to try next and after how long.

    The first connection goes to the first URL at once. After a failed attempt or a lost
    connection the next URL in the list is tried (round robin), after a jittered delay that
    grows until a connection works again.
    """

    def __init__(self, urls: Sequence[str], base: float = 0.5, cap: float = 30.0, rand: Random = random.random) -> None:
        if not urls:
            raise ValueError("at least one broker URL is needed")
        self.urls = list(urls)
        self.index = 0
        self.backoff = Backoff(base, cap, rand)

    @property
    def current(self) -> str:
        return self.urls[self.index]

    def first(self) -> Attempt:
        return Attempt(self.current, 0.0)

    def next(self) -> Attempt:
        """After a failure: the next URL, and how long to wait before trying it."""
        self.index = (self.index + 1) % len(self.urls)
        return Attempt(self.current, self.backoff.next_delay())

    def succeeded(self) -> None:
        """Connected and subscribed: stay on this URL, start the delays afresh next time."""
        self.backoff.reset()
