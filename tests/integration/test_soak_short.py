"""The soak's short version (the long one is `livecomments bench soak`): a Bridge in this process
on a real amqtt broker and SQLite, over three times as many videos as its per-video tables hold.
The tables stay within their bounds, and what was forgotten is rebuilt from the database: every
video's seq runs gapless and without a duplicate across evictions (events the web app appended
included), a video's changed blocked terms apply, and its retained `recent` is complete."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker
from ulid import ULID

from bridge.deps import BridgeDeps
from bridge.metrics import BridgeMetrics
from bridge.paho_bus import PahoIngestBus
from bridge.service import Bridge
from broker.embedded import BrokerThread
from infra.db import create_schema, make_engine
from infra.event_log import append_event, lock_video
from infra.mqtt_client import service_address
from livecomments.config import Settings
from livecomments.models import Comment, CommentStatus, Video
from livecomments.wire import Submission, delete_event
from tests.support.mqtt import Collector
from tests.support.waiting import eventually
from webapp.publisher import MqttPublisher
from wiring.bridge import bridge_client_id

HELD = 30  # the bridge's per-video tables (last seq, blocked terms)
WINDOW_COMMENTS_HELD = 40  # the comments its recent windows hold in all
VIDEOS = 3 * HELD
RETERMED = range(0, VIDEOS, 10)  # videos whose blocked terms change before the second round
DELETED = range(3, VIDEOS, 7)  # videos whose first comment the web app deletes (an event it appends)


def vid(i: int) -> str:
    return f"soak-{i:03d}"


@dataclass
class Sizes:
    """The largest size each table of the bridge was seen at, once each round was delivered."""

    settled: dict[str, int] = field(default_factory=dict)

    def take(self, bridge: Bridge) -> None:
        now = {"known": len(bridge._streams.known), "terms": len(bridge._terms),
               "window comments": bridge._windows.comments}
        for name, n in now.items():
            self.settled[name] = max(self.settled.get(name, 0), n)


@dataclass
class System:
    engine: Engine
    bridge: Bridge
    publisher: MqttPublisher
    live: Collector
    port: int
    sizes: Sizes = field(default_factory=Sizes)

    def post(self, video_id: str, text: str) -> str:
        sub = Submission(str(ULID()), video_id, f"u-{video_id}", "Soak", text, None, int(time.time() * 1000))
        self.publisher.publish_submission(sub)
        return sub.id

    def seqs(self, video_id: str) -> list[int]:
        return [e["seq"] for e in self.live.events(f"live/videos/{video_id}/comments")]

    def wait_for(self, expected: dict[str, int], what: str) -> None:
        """Until every video's events are in; then until the last seqs held are back within their
        bound (past it only while the videos over it have events on their way: within the upkeep's
        second once they are done)."""

        eventually(lambda: all(len(self.seqs(v)) >= n for v, n in expected.items()), 20, what, interval=0.02)
        eventually(lambda: len(self.bridge._streams.known) <= HELD, 10, "the last seqs held stayed over the bound")
        self.sizes.take(self.bridge)


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    data = tmp_path / "data"
    broker = BrokerThread(Settings(data_dir=data, mqtt_port=0, ws_port=0))
    broker.start()
    settings = Settings(data_dir=data, mqtt_port=broker.mqtt_port, bridge_videos_held=HELD,
                        bridge_window_comments_held=WINDOW_COMMENTS_HELD)
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    create_schema(engine)
    with sessionmaker(engine).begin() as s:
        s.add_all(Video(id=vid(i), title=f"Video {i}", created_ts=0) for i in range(VIDEOS))
    bus = PahoIngestBus.factory(bridge_client_id(settings), service_address(settings, "bridge"))
    bridge = Bridge(settings, BridgeDeps(engine=engine, bus=bus, metrics=BridgeMetrics()))
    live = Collector(broker.mqtt_port, "live/videos/+/comments")
    publisher = MqttPublisher(settings)
    try:
        bridge.start()
        publisher.start()
        eventually(lambda: publisher.is_connected() and bridge.is_connected(), 20, "not connected")
        yield System(engine, bridge, publisher, live, broker.mqtt_port)
    finally:
        publisher.stop()
        bridge.stop()
        live.client.disconnect()
        live.client.loop_stop()
        broker.stop()
        engine.dispose()


def change_terms(engine: Engine, video_id: str, terms: list[str]) -> None:
    """As a moderator's settings change does (webapp.moderation_store.update_settings)."""
    with sessionmaker(engine).begin() as s:
        video = s.get(Video, video_id)
        assert video is not None
        video.blocked_terms = terms
        video.rules_version += 1


def delete_first(engine: Engine, video_id: str) -> None:
    """As the web app deletes a comment: status, and a `delete` event appended to the stream."""
    with sessionmaker(engine).begin() as s:
        video = lock_video(s, video_id)
        assert video is not None
        first = s.scalars(select(Comment).where(Comment.video_id == video_id, Comment.seq == 1)).one()
        first.status = CommentStatus.DELETED.value
        append_event(s, video, lambda seq: delete_event(seq, first.id))


def test_the_bridge_over_three_times_the_videos_it_holds(system: System) -> None:
    expected = dict.fromkeys((vid(i) for i in range(VIDEOS)), 0)
    for i in range(VIDEOS):  # round 1: one comment each; the tables fill and overflow
        system.post(vid(i), f"first on {i}")
        expected[vid(i)] += 1
    system.wait_for(expected, "round 1 was not all delivered")

    for i in RETERMED:
        change_terms(system.engine, vid(i), ["forbidden"])
    for i in DELETED:
        delete_first(system.engine, vid(i))
        system.publisher.nudge(vid(i), "events")
        expected[vid(i)] += 1
    rejected = []
    for i in range(VIDEOS):  # round 2: each video again, long after its first batch was forgotten
        if i in RETERMED:
            rejected.append(system.post(vid(i), f"a forbidden word on {i}"))
        else:
            system.post(vid(i), f"second on {i}")
            expected[vid(i)] += 1
    system.wait_for(expected, "round 2 was not all delivered")
    for i in range(VIDEOS):  # round 3
        system.post(vid(i), f"third on {i}")
        expected[vid(i)] += 1
    system.wait_for(expected, "round 3 was not all delivered")

    for video_id, n in expected.items():  # gapless from 1, no duplicate, across every eviction
        assert system.seqs(video_id) == list(range(1, n + 1)), video_id
    with sessionmaker(system.engine)() as s:
        stored = {v: n for v, n in s.execute(select(Video.id, Video.last_seq))}
        statuses = {c: st for c, st in s.execute(select(Comment.id, Comment.status).where(Comment.id.in_(rejected)))}
    assert stored == expected
    assert set(statuses.values()) == {CommentStatus.REJECTED.value}  # the changed terms applied

    settled = system.sizes.settled
    assert HELD - HELD // 8 <= settled["known"] <= HELD  # each bound was reached, and held
    assert settled["terms"] == HELD and WINDOW_COMMENTS_HELD // 2 <= settled["window comments"] <= WINDOW_COMMENTS_HELD
    eventually(lambda: not system.bridge._dirty and not system.bridge._streams.queued, 10, "work left behind")

    # a video whose window went long ago: its retained `recent` is rebuilt, complete and current
    for i in (0, DELETED[0], VIDEOS - 1):
        video_id = vid(i)
        recent = Collector(system.port, f"live/videos/{video_id}/recent")
        try:
            [message] = recent.wait_for(lambda got: len(got) >= 1, 10)
        finally:
            recent.client.disconnect()
            recent.client.loop_stop()
        doc = orjson.loads(message.payload)
        with sessionmaker(system.engine)() as s:
            approved = list(s.scalars(select(Comment.text).where(
                Comment.video_id == video_id, Comment.status == CommentStatus.APPROVED.value).order_by(Comment.seq)))
        assert doc["seq"] == expected[video_id] and [c["text"] for c in doc["comments"]] == approved
