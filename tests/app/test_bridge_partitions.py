"""bridge.partitions in this process on a real SQLite and PostgreSQL, its Bridges on an in-memory
bus: instances share the partitions in fair shares, a joining one gets its share handed over,
one that stops hands everything back, and a bridge whose lease was taken commits nothing more."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import sessionmaker
from ulid import ULID

from bridge.bus import BusHandlers
from bridge.deps import BridgeDeps, Fence, LeaseLost
from bridge.metrics import BridgeMetrics
from bridge.partitions import PartitionBridges
from bridge.service import Bridge
from infra.db import create_schema, make_engine
from livecomments.config import Partition, Settings
from livecomments.models import BridgeLease, Comment, Video
from livecomments.service import Service
from livecomments.wire import Submission
from tests.support.waiting import eventually

TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Info:
    rc: int
    mid: int


class Bus:
    """Connects at once, confirms every publish at once, records the acks."""

    def __init__(self, handlers: BusHandlers) -> None:
        self.handlers = handlers
        self.connected = False
        self.acked: list[int] = []
        self.published: list[tuple[str, bytes]] = []
        self._mids = itertools.count(1)
        self._lock = threading.Lock()

    def connect(self) -> None:
        self.connected = True
        self.handlers.connected()

    def close(self) -> None:
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    def subscribe(self, topic_filter: str) -> None:
        self.handlers.subscribed()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> Info:
        with self._lock:
            mid = next(self._mids)
            self.published.append((topic, payload))
        self.handlers.published(mid)
        return Info(0, mid)

    def ack_all(self, mids: Iterable[int]) -> None:
        self.acked += list(mids)

    def deliver(self, sub: Submission) -> int:
        mid = 10_000 + next(self._mids)
        self.handlers.ingest(mid, f"ingest/videos/{sub.video_id}/comments".encode(), orjson.dumps(sub.to_doc()))
        return mid


class Instance:
    """One bridge process's PartitionBridges, its Bridges' buses by partition."""

    def __init__(self, settings: Settings, engine: Engine, name: str) -> None:
        self.buses: dict[int, Bus] = {}
        self.bridges: dict[int, Bridge] = {}
        self.metrics = BridgeMetrics()

        def make(partition: Partition, fence: Fence) -> Bridge:
            def bus(handlers: BusHandlers) -> Bus:
                self.buses[partition.index] = Bus(handlers)
                return self.buses[partition.index]

            own = settings.with_overrides(bridge_partition=str(partition))
            self.bridges[partition.index] = Bridge(own, BridgeDeps(engine=engine, bus=bus, metrics=self.metrics,
                                                                   fence=fence))
            return self.bridges[partition.index]

        self.leases = PartitionBridges(settings, engine, make, self.metrics, me=name)

    def held(self) -> set[int]:
        return set(self.leases.held())


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_schema(engine)
    with sessionmaker(engine).begin() as s:
        s.add(Video(id="v1", title="One", created_ts=0))
    yield engine
    engine.dispose()


def fast(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, bridge_lease_ttl_s=1.5, bridge_lease_renew_s=0.1).with_overrides(**overrides)


def test_instances_share_the_partitions_fairly_and_hand_them_over(tmp_path: Path, engine: Engine) -> None:
    settings = fast(tmp_path, bridge_partitions=4)
    a = Instance(settings, engine, "a")
    b = Instance(settings, engine, "b")
    assert isinstance(a.leases, Service)
    try:
        a.leases.start()
        assert a.held() == {0, 1, 2, 3}  # alone: every partition, running when start() returns
        assert all(bus.connected for bus in a.buses.values())
        b.leases.start()
        eventually(lambda: len(a.held()) == 2 and len(b.held()) == 2, TIMEOUT_S, "2 and 2 after b joins")
        assert a.held().isdisjoint(b.held())
        assert a.metrics.value("livecomments_bridge_lease_changes_total", change="released") == 2
        a.leases.stop()  # hands its partitions back: b takes them at its next round
        assert not a.leases.is_alive()
        eventually(lambda: b.held() == {0, 1, 2, 3}, TIMEOUT_S, "b holds everything once a stopped")
        with sessionmaker(engine)() as s:
            holders = set(s.scalars(select(BridgeLease.holder)))
        assert holders == {"b"}
    finally:
        a.leases.stop()
        b.leases.stop()


def test_a_fixed_partition_is_a_standby_until_its_holder_goes(tmp_path: Path, engine: Engine) -> None:
    settings = fast(tmp_path, bridge_partition="1/2")
    first, standby = Instance(settings, engine, "first"), Instance(settings, engine, "standby")
    try:
        first.leases.start()
        standby.leases.start()
        assert first.held() == {1} and standby.held() == set()
        first.leases.stop()
        eventually(lambda: standby.held() == {1}, TIMEOUT_S, "the standby takes partition 1")
    finally:
        first.leases.stop()
        standby.leases.stop()


def test_a_bridge_whose_lease_was_taken_commits_nothing_more_and_stops(tmp_path: Path, engine: Engine) -> None:
    # renewals far apart: it is the batch's fence that finds the lease gone
    settings = Settings(data_dir=tmp_path, bridge_lease_ttl_s=60, bridge_lease_renew_s=20)
    a = Instance(settings, engine, "a")
    try:
        a.leases.start()
        assert a.held() == {0}
        bridge_bus = a.buses[0]
        first = Submission(str(ULID()), "v1", "u1", "Alice", "before", None, int(time.time() * 1000))
        mid = bridge_bus.deliver(first)
        eventually(lambda: mid in bridge_bus.acked, TIMEOUT_S, "the first comment is committed and acked")
        with sessionmaker(engine).begin() as s:  # another instance took the partition over
            s.execute(update(BridgeLease).where(BridgeLease.partition_index == 0)
                      .values(holder="thief", epoch=BridgeLease.epoch + 1))
        late = Submission(str(ULID()), "v1", "u2", "Bob", "after", None, int(time.time() * 1000))
        late_mid = bridge_bus.deliver(late)
        eventually(lambda: a.held() == set(), TIMEOUT_S, "its bridge stopped and the partition is no longer held")
        assert late_mid not in bridge_bus.acked  # left for the new holder's session
        with sessionmaker(engine)() as s:
            stored = set(s.scalars(select(Comment.id)))
        assert first.id in stored and late.id not in stored  # the fence rolled the batch back
        assert isinstance(a.bridges[0].failure, LeaseLost)
        assert a.leases.is_alive()  # the instance goes on: it may take another partition later
    finally:
        a.leases.stop()

