"""Each video's events on their way to the wire, held in memory between the commit that
assigned their seq and the broker's PUBACK (pure bookkeeping, no IO).

The database outbox (`live_events`) stays the recovery path: an event is marked
published only once the broker has confirmed the message that carried it, so whatever
a crash leaves unconfirmed is found there by the next bridge and published again, in
seq order. Within one process the events are encoded once (the bytes stored in the
outbox row are the bytes sent) and published straight from here.

`known` holds at most `held` videos (VIDEOS_HELD by default, Settings.bridge_videos_held): past
it, the videos whose events went out longest ago, and of which nothing is queued, in flight or
confirmed but not yet marked, are forgotten. Forgetting one is what a new process does: the
next batch of that video (bridge.apply's `known`) or the next outbox scan reads its unpublished
events from the database, which are none, so its seq goes on from the database's last_seq
without a gap or a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from bridge.apply import Event
from livecomments.config import BRIDGE_VIDEOS_HELD

log = logging.getLogger("livecomments.bridge")

MAX_EVENTS_PER_MESSAGE = 1000
# Videos whose last seq is held (about 200 bytes each): beyond, the least recently published are
# forgotten, an eighth of the table at a time (a forgotten video costs one indexed query later).
VIDEOS_HELD = BRIDGE_VIDEOS_HELD


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

    def __init__(self, held: int = VIDEOS_HELD) -> None:
        if held < 1:
            raise ValueError("held must be at least 1")
        self.held = held
        self._trim_above = held  # past this, trim(); more only while too many videos are busy to go
        # video -> the highest seq whose event this process holds or sent; in the order their
        # events last came (the least recent first)
        self.known: dict[str, int] = {}
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
        if added and known is not None:
            held = self.known
            fresh = held.pop(video_id, None) is None  # and put back: the most recent last
            held[video_id] = known
            if fresh and len(held) > self._trim_above:
                self.trim()
        return added

    def trim(self) -> int:
        """Over `held` videos: forget the least recent until the table holds 7/8 of `held`, all but
        those with events queued, in flight or confirmed and not yet marked published (the bridge
        calls it again at its upkeep's cadence, for when they are done). Returns how many went."""
        if len(self.known) <= self.held:
            return 0
        excess = len(self.known) - (self.held - self.held // 8)
        busy = set(self.queued)
        busy.update(f.video_id for f in self.inflight.values())
        busy.update(c.video_id for c in self.confirmed)
        gone = []
        for video_id in self.known:
            if video_id not in busy:
                gone.append(video_id)
                if len(gone) == excess:
                    break
        for video_id in gone:
            del self.known[video_id]
        # if busy videos kept it over `keep`, the next try waits for another eighth: no scan per new video
        self._trim_above = max(self.held, len(self.known) + self.held // 8)
        return len(gone)

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
