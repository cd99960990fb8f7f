"""Each video's events on their way to the wire, held in memory between the commit that
assigned their seq and the broker's PUBACK (pure bookkeeping, no IO).

The database outbox (`live_events`) stays the recovery path: an event is marked
published only once the broker has confirmed the message that carried it, so whatever
a crash leaves unconfirmed is found there by the next bridge and published again, in
seq order. Within one process the events are encoded once (the bytes stored in the
outbox row are the bytes sent) and published straight from here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from bridge.apply import Event

log = logging.getLogger("livecomments.bridge")

MAX_EVENTS_PER_MESSAGE = 1000


def encode_raw_batch(video_id: str, payloads: Sequence[bytes]) -> bytes:
    """An event batch from events already encoded: the bytes livecomments.wire.encode_batch makes."""
    return b'{"video_id":' + orjson.dumps(video_id) + b',"events":[' + b",".join(payloads) + b"]}"


@dataclass
class InFlight:
    video_id: str
    first: int  # seq range the message carries
    last: int
    events: int
    sent: float  # perf_counter at publish


class Streams:
    """Per video: the last seq held (`known`) and the events not yet handed to the client."""

    def __init__(self) -> None:
        self.known: dict[str, int] = {}  # video -> the highest seq whose event this process holds or sent
        self.queued: dict[str, list[Event]] = {}  # video -> events not yet published, in seq order
        self.inflight: dict[int, InFlight] = {}  # mid -> what the message carried
        self.confirmed: list[InFlight] = []  # PUBACKed, to be marked published in the database

    def extend(self, video_id: str, events: Iterable[Event]) -> int:
        """Take events in seq order; those at or below `known` are already held and skipped."""
        known = self.known.get(video_id)
        queue = self.queued.get(video_id)
        added = 0
        for seq, payload in events:
            if known is not None and seq <= known:
                continue
            if known is not None and seq != known + 1:
                log.error("video %s: event seq %d follows %d (a gap in the outbox?)", video_id, seq, known)
            if queue is None:
                queue = self.queued[video_id] = []
            queue.append((seq, payload))
            known = seq
            added += 1
        if known is not None:
            self.known[video_id] = known
        return added

    def forget(self, video_id: str) -> None:
        """Drop what is held for a video (its database went back in time): rebuilt from the outbox."""
        self.known.pop(video_id, None)
        self.queued.pop(video_id, None)

    def take(self, video_id: str) -> list[Event]:
        """The next message's worth of the video's queued events (at most MAX_EVENTS_PER_MESSAGE)."""
        queue = self.queued.get(video_id)
        if not queue:
            return []
        if len(queue) <= MAX_EVENTS_PER_MESSAGE:
            del self.queued[video_id]
            return queue
        head, self.queued[video_id] = queue[:MAX_EVENTS_PER_MESSAGE], queue[MAX_EVENTS_PER_MESSAGE:]
        return head

    def put_back(self, video_id: str, events: list[Event]) -> None:
        """The client did not take them (its queue is full): they go first next time."""
        self.queued[video_id] = events + self.queued.get(video_id, [])

    def sent(self, mid: int, video_id: str, events: list[Event], at: float) -> None:
        self.inflight[mid] = InFlight(video_id, events[0][0], events[-1][0], len(events), at)

    def acked(self, mid: int) -> InFlight | None:
        done = self.inflight.pop(mid, None)
        if done is not None:
            self.confirmed.append(done)
        return done

    def take_confirmed(self) -> list[InFlight]:
        done, self.confirmed = self.confirmed, []
        return done

    def has_queued(self, video_id: str) -> bool:
        return bool(self.queued.get(video_id))
