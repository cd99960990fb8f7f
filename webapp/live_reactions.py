"""Live video reactions (floating hearts): counted in this process and handed to the
bridge as one aggregated message per video every 250 ms, never one message per click."""

from __future__ import annotations

import logging
import threading
from collections import Counter

from webapp.publisher import Publisher, PublishError

log = logging.getLogger("livecomments.webapp.live_reactions")

FLUSH_INTERVAL_S = 0.25


class LiveReactionBuffer:
    """A Service (livecomments.service): `start()` runs the flusher thread, `stop()` flushes
    what is left and stops it. Between flushes `add` only counts."""

    name = "live-reactions"

    def __init__(self, publisher: Publisher, interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._publisher = publisher
        self._interval = interval_s
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def add(self, video_id: str, kind: str) -> None:
        with self._lock:
            self._counts.setdefault(video_id, Counter())[kind] += 1

    def flush(self) -> None:
        with self._lock:
            pending, self._counts = self._counts, {}
        for video_id, counts in pending.items():
            try:
                self._publisher.publish_reactions(video_id, dict(counts))
            except PublishError as exc:
                log.warning("live reactions for %s not handed over now (%s); kept for the next flush", video_id, exc)
                with self._lock:
                    self._counts.setdefault(video_id, Counter()).update(counts)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        self.flush()
