"""The client rules for one video's stream, as a pure state machine (no IO, no clock).

Feed it what arrives: the retained `recent` snapshot, event batches from the `comments`
topic, and pages of HTTP history. Each call returns a `Step`: the events to hand to the
application, in `seq` order, each comment once, and the history to fetch next, if any.

The rules it keeps (contract: "Gaps mean a client missed something"):

- `recent` seeds the view: its comments are emitted once, and its `seq` is where the
  live stream takes over. Live events that arrived first and are covered by it are dropped.
- Events are emitted in `seq` order. One ahead of the next expected `seq` is held back
  while the gap is repaired from history (`GET …/comments?after_seq=N`, oldest first).
- History holds approved, not deleted comments only. So once an answer is in, any `seq`
  it lacks below what is known to exist was a `delete`, `pin` or `unpin`, or a comment
  deleted since: it is skipped, never waited for. Known to exist: whatever was seen before
  the request was made, and whatever is below a `seq` in the answer itself (a video's
  events are numbered under a per-video lock, one transaction after the other, so a
  committed `seq` means every lower one was committed before it).
- A `seq` is emitted at most once, and so is a comment id, until a `delete` of it: a comment
  held and approved again comes back with a new `seq` and is emitted again (contract: clients
  that dropped its id as deleted must accept it again).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

HISTORY_PAGE = 200  # the API's largest `limit`


class EventType(StrEnum):
    """What an `Event` is. The first four are the contract's stream events (they carry a `seq`)."""

    COMMENT = "comment"
    DELETE = "delete"
    PIN = "pin"
    UNPIN = "unpin"
    STATE = "state"  # the retained chat state (data: the `state` payload)
    REACTIONS = "reactions"  # the retained reaction totals (data: the `reactions` payload)
    CONNECTED = "connected"  # subscribed through a broker (data: {"url"})
    DISCONNECTED = "disconnected"  # lost it; the client reconnects by itself (data: {"url", "reason"})


class Source(StrEnum):
    """Where an event came from."""

    RECENT = "recent"  # the snapshot that seeded the view
    LIVE = "live"  # the live `comments` topic
    HISTORY = "history"  # HTTP history, repairing a gap


@dataclass(frozen=True)
class Event:
    """One thing for the application to show.

    `type` is an `EventType` value, or a newer type this client does not know (passed on
    as it came, as the contract may add some). `comment` is the comment of `comment` and
    `pin` events; `id` is the comment it is about (for `delete`, the deleted one); `data`
    is the event or payload as received.
    """

    type: str
    seq: int | None = None
    comment: dict[str, Any] | None = None
    id: str | None = None
    source: Source = Source.LIVE
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def is_reply(self) -> bool:
        return self.comment is not None and self.comment.get("parent_id") is not None


@dataclass(frozen=True)
class Fetch:
    """A history request: comments after `after_seq`, oldest first, at most `limit`.

    `known_to`: every `seq` up to it existed when the request was decided, so whatever a
    complete answer lacks below it is not coming. `epoch` ties the answer to the request.
    """

    after_seq: int
    known_to: int
    limit: int = HISTORY_PAGE
    epoch: int = 0

    def query(self) -> dict[str, int]:
        return {"after_seq": self.after_seq, "limit": self.limit}


@dataclass
class Step:
    emit: list[Event] = field(default_factory=list)
    fetch: Fetch | None = None


def event_from_wire(raw: Mapping[str, Any], source: Source = Source.LIVE) -> Event | None:
    """A stream event as the contract shapes it, or None when it is malformed."""
    seq = raw.get("seq")
    kind = raw.get("type")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1 or not isinstance(kind, str):
        return None
    comment = raw.get("comment")
    if comment is not None and not (isinstance(comment, dict) and isinstance(comment.get("id"), str)):
        return None
    if kind in (EventType.COMMENT, EventType.PIN) and comment is None:
        return None
    ident = comment["id"] if comment is not None else raw.get("id")
    if kind == EventType.DELETE and not isinstance(ident, str):
        return None
    return Event(
        type=kind,
        seq=seq,
        comment=dict(comment) if comment is not None else None,
        id=ident if isinstance(ident, str) else None,
        source=source,
        data=dict(raw),
    )


def comment_event(comment: Mapping[str, Any], source: Source) -> Event | None:
    """A comment from `recent` or history, as a `comment` event."""
    return event_from_wire({"type": EventType.COMMENT.value, "seq": comment.get("seq"), "comment": comment}, source)


class _SeenIds:
    """Comment ids already emitted, the most recent `size` of them."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, ident: str) -> bool:
        """Record it; False if it was already there."""
        if ident in self._ids:
            self._ids.move_to_end(ident)
            return False
        self._ids[ident] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True

    def forget(self, ident: str) -> None:
        self._ids.pop(ident, None)


class Sequencer:
    """Orders, de-duplicates and repairs one video's stream. Not thread-safe: feed it from one thread."""

    def __init__(self, *, page_size: int = HISTORY_PAGE, max_pending: int = 10_000, max_ids: int = 10_000) -> None:
        self.page_size = page_size
        self.max_pending = max_pending
        self.last_seq: int | None = None  # everything up to here is emitted or resolved; None until seeded
        self.head_hint = 0  # the highest `seq` a `recent` snapshot said exists
        self._pending: dict[int, Event] = {}
        self._heap: list[int] = []
        self._seen = _SeenIds(max_ids)
        self._epoch = 0
        self._resync_epoch = -1  # a fetch of at least this epoch must complete (after a reconnect)
        self._lazy_seed = False

    # -- state ----------------------------------------------------------------------

    @property
    def seeded(self) -> bool:
        return self.last_seq is not None

    @property
    def has_gap(self) -> bool:
        """Events are held back waiting for earlier ones."""
        return self.seeded and bool(self._pending)

    def wanted(self, *, use_hint: bool = False) -> Fetch | None:
        """The history to fetch now, if anything is missing.

        Missing means: events are held back behind a gap, a reconnect has not been backfilled
        yet, or (with `use_hint`) a `recent` snapshot named a `seq` the stream never reached.
        """
        if self.last_seq is None:
            return None
        hint = use_hint and self.head_hint > self.last_seq
        if not (self._pending or self._resync_epoch >= 0 or hint):
            return None
        known = max(self.last_seq, self.head_hint, max(self._pending, default=0))
        self._epoch += 1
        return Fetch(after_seq=self.last_seq, known_to=known, limit=self.page_size, epoch=self._epoch)

    # -- inputs ---------------------------------------------------------------------

    def recent(self, snapshot: Mapping[str, Any], source: Source = Source.RECENT) -> Step:
        """The retained `recent` payload: `{"seq", "comments": [oldest first]}`.

        The first one seeds the view; later ones (after a reconnect, after every batch) only
        say how far the stream has gone.
        """
        seq = snapshot.get("seq")
        comments = snapshot.get("comments")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(comments, list):
            return Step()
        if self.last_seq is not None:
            self.head_hint = max(self.head_hint, seq)
            return Step(fetch=self.wanted())
        out: list[Event] = []
        for raw in comments:
            event = comment_event(raw, source) if isinstance(raw, dict) else None
            if event is not None and event.seq is not None and event.seq <= seq:
                self._emit(event, out)
        self.last_seq = seq
        self.head_hint = max(self.head_hint, seq)
        self._drain(out)
        return Step(out, self.wanted())

    def batch(self, payload: Mapping[str, Any]) -> Step:
        """One message of the `comments` topic: `{"video_id", "events": [...]}`."""
        events = payload.get("events")
        if not isinstance(events, list):
            return Step()
        return self.events(e for e in events if isinstance(e, dict))

    def events(self, raws: Iterable[Mapping[str, Any]], source: Source = Source.LIVE) -> Step:
        for raw in raws:
            event = event_from_wire(raw, source)
            if event is not None:
                self._hold(event)
        out: list[Event] = []
        if self.last_seq is None and self._lazy_seed and self._pending:
            self.last_seq = min(self._pending) - 1
        if self.last_seq is None:
            return Step()
        self._drain(out)
        if len(self._pending) > self.max_pending:
            return self._give_up(out)
        return Step(out, self.wanted())

    def backfill(self, fetch: Fetch, comments: Sequence[Mapping[str, Any]]) -> Step:
        """One page of history answering `fetch` (comments oldest first).

        A full page asks for the next one; a short page completes the request.
        """
        top = fetch.after_seq
        for raw in comments:
            event = comment_event(raw, Source.HISTORY)
            if event is not None and event.seq is not None:
                top = max(top, event.seq)
                self._hold(event)
        out: list[Event] = []
        if self.last_seq is None:
            return Step()
        if len(comments) >= fetch.limit:  # more may follow
            self._drain(out, skip_to=top)
            return Step(out, Fetch(top, fetch.known_to, fetch.limit, fetch.epoch))
        self._drain(out, skip_to=max(fetch.known_to, top))
        if fetch.epoch >= self._resync_epoch:
            self._resync_epoch = -1
        return Step(out, self.wanted())

    def reconnected(self) -> Step:
        """Subscribed again after a lost connection: what was missed meanwhile must be fetched."""
        self._resync_epoch = self._epoch + 1
        return Step(fetch=self.wanted())

    def give_up(self) -> Step:
        """History cannot be had (no HTTP, or it keeps failing): skip the gap, go on with what is here."""
        return self._give_up([])

    def seed_lazily(self) -> Step:
        """No `recent` and no history to seed from: start at the first event there is."""
        self._lazy_seed = True
        if self.last_seq is None and self._pending:
            self.last_seq = min(self._pending) - 1
            out: list[Event] = []
            self._drain(out)
            return Step(out)
        return Step()

    # -- internals ------------------------------------------------------------------

    def _hold(self, event: Event) -> None:
        assert event.seq is not None
        if self.last_seq is not None and event.seq <= self.last_seq:
            return  # already emitted or resolved
        if event.seq in self._pending:
            return  # the same seq again
        self._pending[event.seq] = event
        heapq.heappush(self._heap, event.seq)

    def _emit(self, event: Event, out: list[Event]) -> None:
        if event.type == EventType.COMMENT and event.id is not None and not self._seen.add(event.id):
            return  # that comment was already shown
        if event.type == EventType.DELETE and event.id is not None:
            # A held comment approved again comes back as a comment event with a new seq, and must be
            # accepted (docs/contract.md, Moderation); its old seq is behind last_seq, so a republished
            # copy of the first event is still dropped by seq.
            self._seen.forget(event.id)
        out.append(event)

    def _drain(self, out: list[Event], skip_to: int = 0) -> None:
        """Emit held events while they follow on; those at or below `skip_to` follow on regardless."""
        assert self.last_seq is not None
        while self._heap:
            seq = self._heap[0]
            if seq <= self.last_seq:
                heapq.heappop(self._heap)
                self._pending.pop(seq, None)
                continue
            if seq != self.last_seq + 1 and seq > skip_to:
                break
            heapq.heappop(self._heap)
            self.last_seq = seq
            self._emit(self._pending.pop(seq), out)
        self.last_seq = max(self.last_seq, skip_to)  # what was known to exist and is not here: skipped

    def _give_up(self, out: list[Event]) -> Step:
        self._resync_epoch = -1
        if self.last_seq is not None and self._heap:
            self._drain(out, skip_to=self._heap[0])
        return Step(out, self.wanted())
