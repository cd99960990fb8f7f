"""The stop signal of a foreground process: SIGTERM or SIGINT sets one Event."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger("livecomments")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> threading.Event:
    """An Event set when this process gets one of `signals` (installs their handlers; main thread only)."""
    stop = threading.Event()

    def _handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    for signum in signals:
        signal.signal(signum, _handler)
    return stop
