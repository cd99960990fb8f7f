"""Watching running Services (livecomments.service) in the foreground, and stopping them: one
loop for `livecomments up`'s list of parts and for the single part of `bridge` and `broker`."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence

from livecomments.service import Service

log = logging.getLogger("livecomments")

WATCH_INTERVAL_S = 1.0


def supervise(services: Sequence[Service], stop: threading.Event, *, who: str,
              interval_s: float = WATCH_INTERVAL_S) -> int:
    """Watch running services until `stop` is set (0) or one of them stops on its own (1, said on
    stderr as `<who>: the <name> stopped for good`)."""
    while not stop.wait(interval_s):
        for service in services:
            if not service.is_alive():
                print(f"{who}: the {service.name} stopped for good", file=sys.stderr, flush=True)
                return 1
    return 0


def stop_all(services: Sequence[Service]) -> None:
    """Stop in reverse order of start; one part failing to stop does not keep the others running."""
    for service in reversed(services):
        try:
            service.stop()
        except Exception:  # noqa: BLE001 - logged; the rest still stop
            log.exception("stopping the %s failed", service.name)
