"""A whole Bridge in this process: a real SQLite database in tmp_path, and an in-memory bus in
place of the MQTT connection (exactly bridge.bus.IngestBus, nothing more). Submissions go in,
rows are persisted with gapless per-video seq, events come out on the bus in seq order, and
each ingest message is acked only after its batch's commit."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker
from ulid import ULID

from bridge.bus import BusHandlers
from bridge.deps import BridgeDeps
from bridge.metrics import BridgeMetrics
from bridge.service import Bridge
from infra.db import create_schema, make_engine
from livecomments.config import Settings
from livecomments.models import Comment, CommentStatus, LiveEvent, Video
from livecomments.service import Service
from livecomments.wire import Submission, submissions_to_json
from tests.support.waiting import eventually

TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Info:
    rc: int
    mid: int


class MemoryBus:
    """The broker side of the bridge's connection, in memory. Ingest messages are delivered by
    the test (as paho's thread would); publishes are recorded and confirmed at once."""

    def __init__(self, handlers: BusHandlers, on_ack: Callable[[list[int]], None] | None = None) -> None:
        self.handlers = handlers
        self.on_ack = on_ack
        self.connected = False
        self.closed = False
        self.subscriptions: list[str] = []
        self.published: list[tuple[str, bytes, bool]] = []
        self.acked: list[int] = []
        self._lock = threading.Lock()
        self._in_mids = itertools.count(1)
        self._out_mids = itertools.count(1)

    # -- IngestBus ----------------------------------------------------------------------

    def connect(self) -> None:
        self.connected = True
        self.handlers.connected()

    def close(self) -> None:
        self.connected, self.closed = False, True

    def is_connected(self) -> bool:
        return self.connected

    def subscribe(self, topic_filter: str) -> None:
        self.subscriptions.append(topic_filter)
        self.handlers.subscribed()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> Info:
        with self._lock:
            mid = next(self._out_mids)
            self.published.append((topic, payload, retain))
        self.handlers.published(mid)  # the broker's PUBACK
        return Info(0, mid)

    def ack_all(self, mids: Iterable[int]) -> None:
        mids = list(mids)
        if self.on_ack is not None:
            self.on_ack(mids)
        with self._lock:
            self.acked += mids

    # -- the test's side ----------------------------------------------------------------

    def deliver(self, topic: str, payload: bytes, qos: int = 1) -> int:
        mid = next(self._in_mids)
        if qos == 1:
            self.handlers.ingest(mid, topic.encode(), payload)
        else:
            self.handlers.message(mid, qos, topic.encode(), payload)
        return mid

    def on(self, topic: str) -> list[tuple[bytes, bool]]:
        with self._lock:
            return [(p, r) for t, p, r in self.published if t == topic]

    def events(self, video_id: str) -> list[dict[str, Any]]:
        return [e for p, _r in self.on(f"live/videos/{video_id}/comments") for e in orjson.loads(p)["events"]]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    create_schema(engine)  # the wiring's job: the bridge runs no migrations
    with sessionmaker(engine).begin() as s:
        s.add(Video(id="v1", title="One", created_ts=0))
        s.add(Video(id="v2", title="Two", created_ts=0))
    yield engine
    engine.dispose()


class Harness:
    def __init__(self, tmp_path: Path, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine)
        self.buses: list[MemoryBus] = []
        self.delivered: dict[int, list[str]] = {}  # mid -> the submission ids it carried
        self.early_acks: list[str] = []  # ids acked before their row was decided: must stay empty
        self.settings = Settings(data_dir=tmp_path)
        self.bridge = Bridge(self.settings, BridgeDeps(engine=engine, bus=self._bus, metrics=BridgeMetrics()))

    def _bus(self, handlers: BusHandlers) -> MemoryBus:
        bus = MemoryBus(handlers, on_ack=self._check_committed)
        self.buses.append(bus)
        return bus

    @property
    def bus(self) -> MemoryBus:
        return self.buses[-1]

    def _check_committed(self, mids: list[int]) -> None:
        """At ack time, on the bridge's thread: every submission the acked messages carried is decided."""
        ids = [i for mid in mids for i in self.delivered.get(mid, [])]
        with self.sessions() as s:
            decided = set(s.scalars(select(Comment.id).where(Comment.id.in_(ids),
                                                             Comment.status != CommentStatus.PENDING)))
        self.early_acks += [i for i in ids if i not in decided]

    def send(self, *subs: Submission) -> int:
        video = subs[0].video_id
        payload = orjson.dumps(subs[0].to_doc()) if len(subs) == 1 else submissions_to_json(subs)
        mid = self.bus.deliver(f"ingest/videos/{video}/comments", payload)
        self.delivered[mid] = [s.id for s in subs]
        return mid


def sub(video: str, text: str) -> Submission:
    return Submission(str(ULID()), video, "u1", "Alice", text, None, int(time.time() * 1000))


@pytest.fixture
def harness(tmp_path: Path, engine: Engine) -> Iterator[Harness]:
    h = Harness(tmp_path, engine)
    yield h
    h.bridge.stop()


def test_submissions_are_persisted_with_gapless_seq_published_in_order_and_acked_after_commit(
        harness: Harness) -> None:
    bridge = harness.bridge
    assert isinstance(bridge, Service) and not bridge.is_alive()
    bridge.start()
    assert bridge.is_alive()
    bus = harness.bus
    assert bus.subscriptions == [bridge.topics.ingest_filter]
    sent: dict[str, list[Submission]] = {"v1": [], "v2": []}
    mids = []
    for n in range(60):  # interleaved videos, single objects and arrays
        video = "v1" if n % 3 else "v2"
        batch = [sub(video, f"{video} #{n}.{i}") for i in range(1 + n % 4)]
        sent[video] += batch
        mids.append(harness.send(*batch))
    everything = {s.id for subs in sent.values() for s in subs}

    eventually(lambda: set(bus.acked) >= set(mids), TIMEOUT_S, "every ingest message is acked", interval=0.01)
    counts = {video: len(subs) for video, subs in sent.items()}
    eventually(lambda: all(len(bus.events(v)) >= n for v, n in counts.items()), TIMEOUT_S, "every event is published",
               interval=0.01)
    assert harness.early_acks == []  # never acked before its commit
    assert sorted(bus.acked) == sorted(mids)  # each once

    with harness.sessions() as s:
        rows = s.execute(select(Comment.video_id, Comment.seq, Comment.id, Comment.status)).all()
    assert {r.id for r in rows} == everything
    assert {r.status for r in rows} == {CommentStatus.APPROVED}
    for video, subs in sent.items():
        stored = sorted((r.seq, r.id) for r in rows if r.video_id == video)
        assert [seq for seq, _ in stored] == list(range(1, len(subs) + 1))  # gapless, from 1
        events = bus.events(video)
        assert [e["seq"] for e in events] == list(range(1, len(subs) + 1))  # in seq order, each once
        assert [(e["seq"], e["comment"]["id"]) for e in events] == stored  # the stored numbering
        assert [e["comment"]["id"] for e in events] == [s.id for s in subs]  # in the order sent

    def recent_at(video: str) -> int:
        return max([orjson.loads(p)["seq"] for p, retain in bus.on(f"live/videos/{video}/recent") if retain] or [-1])

    eventually(lambda: all(recent_at(v) == n for v, n in counts.items()), TIMEOUT_S,
               "each retained recent is at its last seq", interval=0.01)
    for video, subs in sent.items():
        latest = orjson.loads(bus.on(f"live/videos/{video}/recent")[-1][0])
        assert [c["id"] for c in latest["comments"]] == [s.id for s in subs][-harness.settings.recent_size:]

    def all_marked() -> bool:
        with harness.sessions() as s:
            return all(s.scalars(select(LiveEvent.published)))

    eventually(all_marked, TIMEOUT_S, "the confirmed events are marked published in the outbox", interval=0.01)
    assert harness.bridge.metrics.value("livecomments_bridge_submissions_total", outcome="approved",
                                        source="ingest") == len(everything)
    bridge.stop()
    assert not bridge.is_alive() and bus.closed and bridge.failure is None


def test_a_bad_message_is_acked_and_counted_and_the_bridge_goes_on(harness: Harness) -> None:
    harness.bridge.start()
    bus = harness.bus
    bad = bus.deliver("ingest/videos/v1/comments", b"{not json")
    elsewhere = bus.deliver("ingest/nothing", b"{}")
    good = harness.send(sub("v1", "still here"))
    eventually(lambda: {bad, elsewhere, good} <= set(bus.acked), TIMEOUT_S, "all three are acked", interval=0.01)
    eventually(lambda: len(bus.events("v1")) == 1, TIMEOUT_S, "the good one is published", interval=0.01)
    assert bus.events("v1")[0]["comment"]["text"] == "still here"
    assert harness.bridge.metrics.value("livecomments_bridge_ingest_messages_total", result="invalid") == 2
    assert harness.bridge.is_alive()


def test_a_duplicate_delivery_is_acked_and_changes_nothing(harness: Harness) -> None:
    harness.bridge.start()
    one = sub("v1", "once")
    first = harness.send(one)
    eventually(lambda: first in harness.bus.acked, TIMEOUT_S, "the first delivery is acked", interval=0.01)
    again = harness.send(one)
    eventually(lambda: again in harness.bus.acked, TIMEOUT_S, "the second delivery is acked", interval=0.01)
    with harness.sessions() as s:
        assert s.scalars(select(Comment.seq).where(Comment.video_id == "v1")).all() == [1]
    assert [e["seq"] for e in harness.bus.events("v1")] == [1]
    assert harness.early_acks == []


def test_stop_is_safe_before_start_and_twice(harness: Harness) -> None:
    harness.bridge.stop()  # before start: nothing to do
    assert not harness.bridge.is_alive() and harness.buses == []  # it opened nothing
    harness.bridge.start()
    harness.bridge.stop()
    harness.bridge.stop()
    assert not harness.bridge.is_alive() and harness.bus.closed
    with pytest.raises(RuntimeError):
        harness.bridge.start()  # one run per Bridge


def test_the_bridge_runs_no_migrations_and_start_says_so(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no schema
    try:
        buses: list[MemoryBus] = []

        def bus(handlers: BusHandlers) -> MemoryBus:
            buses.append(MemoryBus(handlers))
            return buses[-1]

        bridge = Bridge(Settings(data_dir=tmp_path), BridgeDeps(engine=engine, bus=bus))
        with pytest.raises(RuntimeError, match="did not start"):
            bridge.start()
        assert not bridge.is_alive() and bridge.failure is not None
        assert buses and buses[0].closed  # what it had made is released
    finally:
        engine.dispose()
