"""The sampled feed on its way out (bridge.sample_feed): what is published on `sample` for each
batch the bridge publishes on `comments`, the counts left waiting, a full bus queue, and how many
videos' samplers are held. Pure: the bus is a function that records, the clocks are numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from paho.mqtt.enums import MQTTErrorCode

from bridge.sample_feed import HELD_MAX, IDLE_S, TICK_S, WAITING_S, SampleFeeds
from livecomments.topics import Topics
from livecomments.wire import comment_event, delete_event

NOW_MS = 1_764_000_000_000


def comment(seq: int, ts: int) -> tuple[int, bytes]:
    """A comment event encoded as bridge.apply encodes it."""
    view = {"id": f"01JDQ3{seq:020d}", "video_id": "v1", "seq": seq, "parent_id": None,
            "user": {"id": "u1", "name": "Alice"}, "text": "hi", "ts": ts, "reply_count": 0, "reactions": {}}
    return seq, orjson.dumps(comment_event(seq, view))


def delete(seq: int) -> tuple[int, bytes]:
    return seq, orjson.dumps(delete_event(seq, "01JDQ3AAAAAAAAAAAAAAAAAAAA"))


@dataclass(frozen=True)
class Info:
    rc: int
    mid: int = 1


class Bus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.full = False

    def publish(self, topic: str, payload: bytes) -> Info:
        if self.full:
            return Info(MQTTErrorCode.MQTT_ERR_QUEUE_SIZE)
        self.sent.append((topic, orjson.loads(payload)))
        return Info(MQTTErrorCode.MQTT_ERR_SUCCESS)

    def docs(self) -> list[dict[str, Any]]:
        return [doc for _t, doc in self.sent]


def feeds(cap: int = 2, **kwargs: Any) -> SampleFeeds:
    return SampleFeeds(cap, Topics(), lambda: NOW_MS, **kwargs)


def seqs(doc: dict[str, Any]) -> list[int]:
    return [e["seq"] for e in doc["events"]]


def test_each_batch_gets_its_sample_message_with_the_count_left_out() -> None:
    bus, f = Bus(), feeds(cap=2)
    f.batch("v1", [comment(1, NOW_MS), comment(2, NOW_MS), comment(3, NOW_MS), delete(4)], 0.0, bus.publish)
    assert bus.sent[0][0] == "live/videos/v1/sample"
    assert bus.docs() == [{"video_id": "v1", "events": bus.docs()[0]["events"], "skipped": 1}]
    assert seqs(bus.docs()[0]) == [1, 2, 4]
    f.batch("v1", [comment(5, NOW_MS + 1000)], 0.05, bus.publish)
    assert (seqs(bus.docs()[1]), bus.docs()[1]["skipped"]) == ([5], 0)


def test_a_batch_left_out_whole_waits_then_its_count_goes_alone() -> None:
    bus, f = Bus(), feeds(cap=1)
    f.batch("v1", [comment(1, NOW_MS)], 0.0, bus.publish)
    f.batch("v1", [comment(2, NOW_MS + 10), comment(3, NOW_MS + 20)], 0.05, bus.publish)
    assert len(bus.sent) == 1  # nothing to carry: no message
    f.tick(WAITING_S - TICK_S - 0.01, bus.publish)
    assert len(bus.sent) == 1  # not yet
    f.tick(WAITING_S, bus.publish)
    assert bus.docs()[1] == {"video_id": "v1", "events": [], "skipped": 2}
    f.tick(WAITING_S + TICK_S, bus.publish)
    assert len(bus.sent) == 2  # once


def test_a_waiting_count_rides_on_the_next_message_if_one_comes_first() -> None:
    bus, f = Bus(), feeds(cap=1)
    f.batch("v1", [comment(1, NOW_MS)], 0.0, bus.publish)
    f.batch("v1", [comment(2, NOW_MS + 10)], 0.05, bus.publish)
    f.batch("v1", [delete(3)], 0.1, bus.publish)
    assert (seqs(bus.docs()[1]), bus.docs()[1]["skipped"]) == ([3], 1)
    f.tick(5.0, bus.publish)
    assert len(bus.sent) == 2


def test_nothing_goes_while_not_connected() -> None:
    bus, f = Bus(), feeds(cap=1)
    f.batch("v1", [comment(1, NOW_MS), comment(2, NOW_MS)], 0.0, bus.publish)
    bus.sent.clear()
    f.batch("v1", [comment(3, NOW_MS)], 0.05, bus.publish)
    f.tick(5.0, None)
    assert bus.sent == []
    f.tick(5.0 + TICK_S, bus.publish)
    assert bus.docs() == [{"video_id": "v1", "events": [], "skipped": 1}]


def test_messages_the_bus_refused_go_first_and_in_order_when_it_takes_them_again() -> None:
    bus, f = Bus(), feeds(cap=5)
    bus.full = True
    f.batch("v1", [comment(1, NOW_MS)], 0.0, bus.publish)
    f.batch("v1", [delete(2)], 0.05, bus.publish)
    bus.full = False
    f.batch("v1", [comment(3, NOW_MS + 10)], 0.1, bus.publish)
    assert [seqs(d) for d in bus.docs()] == [[1], [2], [3]]
    bus.full = True
    f.batch("v1", [delete(4)], 0.2, bus.publish)
    bus.full = False
    f.tick(0.2 + TICK_S, bus.publish)  # or a tick tries again
    assert seqs(bus.docs()[-1]) == [4]


def test_held_messages_are_bounded() -> None:
    bus, f = Bus(), feeds(cap=5)
    bus.full = True
    for seq in range(1, HELD_MAX + 11):
        f.batch("v1", [delete(seq)], seq * 0.05, bus.publish)
    bus.full = False
    f.tick(100.0, bus.publish)
    assert [seqs(d)[0] for d in bus.docs()] == list(range(11, HELD_MAX + 11))  # the newest HELD_MAX


def test_idle_videos_are_dropped_and_the_table_is_bounded() -> None:
    bus, f = Bus(), feeds(cap=5, max_videos=3)
    for i, video in enumerate(["a", "b", "c"]):
        f.batch(video, [comment(1, NOW_MS)], i * 0.1, bus.publish)
    assert len(f) == 3
    f.batch("a", [comment(2, NOW_MS)], 0.5, bus.publish)  # a is the most recent now
    f.batch("d", [comment(1, NOW_MS)], 0.6, bus.publish)
    assert len(f) == 3  # b, the least recently active, went
    f.tick(0.5 + IDLE_S, bus.publish)
    assert len(f) == 1  # only d has had events in the last IDLE_S
    f.tick(0.6 + IDLE_S + TICK_S, bus.publish)
    assert len(f) == 0


def test_a_video_with_a_count_waiting_is_not_dropped_before_it_went() -> None:
    bus, f = Bus(), feeds(cap=1)
    f.batch("v1", [comment(1, NOW_MS), comment(2, NOW_MS)], 0.0, bus.publish)
    bus.full = True
    f.batch("v1", [comment(3, NOW_MS)], 0.05, bus.publish)
    f.tick(IDLE_S + 1, bus.publish)
    assert len(f) == 1  # its count's message is held
    bus.full = False
    f.tick(IDLE_S + 2, bus.publish)
    assert bus.docs()[-1] == {"video_id": "v1", "events": [], "skipped": 1}
    f.tick(IDLE_S + 3, bus.publish)
    assert len(f) == 0
