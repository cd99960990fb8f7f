"""`eventually`: the one polling loop of the tests, for conditions no event announces.

Wait on an event (a threading.Event, a Condition, Collector.wait_for) where there is one; poll
with `eventually` where there is not (a row in the database, a port, a process's output).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T],
    timeout: float = 10.0,
    what: str = "the condition never held",
    *,
    interval: float = 0.05,
    pause: Callable[[float], None] = time.sleep,
) -> T:
    """Call `check` until it returns something truthy, and return that; TimeoutError(`what`)
    after `timeout` seconds. An exception from `check` is not retried: it ends the wait.
    `pause` sleeps between calls (a page's wait_for_timeout, so that its handlers run)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (after {timeout:g}s)")
        pause(interval)
    return result
