"""The bridge's in-memory event streams between commit and PUBACK (pure bookkeeping)."""

from __future__ import annotations

import orjson

from bridge.stream import MAX_EVENTS_PER_MESSAGE, Streams, encode_raw_batch
from livecomments.wire import comment_event, delete_event, encode_batch


def ev(seq: int) -> tuple[int, bytes]:
    return seq, orjson.dumps(delete_event(seq, f"id{seq}"))


def test_the_raw_batch_is_the_batch_encode_batch_makes() -> None:
    events = [comment_event(1, {"id": "a", "text": "é \"q\""}), delete_event(2, "b")]
    raw = encode_raw_batch("v-1", [orjson.dumps(e) for e in events])
    assert raw == encode_batch("v-1", events)


def test_events_already_held_are_skipped_and_order_kept() -> None:
    s = Streams()
    assert s.extend("v1", [ev(3), ev(4)]) == 2  # a fresh stream starts where the outbox does
    assert s.extend("v1", [ev(4), ev(5)]) == 1  # a redelivered gap load
    assert s.known == {"v1": 5}
    assert [seq for seq, _p in s.take("v1")] == [3, 4, 5]
    assert s.take("v1") == [] and not s.has_queued("v1")


def test_take_splits_big_backlogs_and_put_back_goes_first() -> None:
    s = Streams()
    s.extend("v1", [ev(i) for i in range(1, MAX_EVENTS_PER_MESSAGE + 6)])
    first = s.take("v1")
    assert len(first) == MAX_EVENTS_PER_MESSAGE and first[0][0] == 1
    s.put_back("v1", first)
    assert s.take("v1") == first
    assert [seq for seq, _p in s.take("v1")] == list(range(MAX_EVENTS_PER_MESSAGE + 1, MAX_EVENTS_PER_MESSAGE + 6))


def test_pubacks_become_ranges_to_mark_and_unknown_mids_are_ignored() -> None:
    s = Streams()
    s.extend("v1", [ev(1), ev(2)])
    s.sent(7, "v1", s.take("v1"), at=0.0)
    assert s.acked(8) is None  # a retained message
    done = s.acked(7)
    assert done is not None and (done.first, done.last, done.events) == (1, 2, 2)
    assert s.acked(7) is None  # once
    assert [(c.video_id, c.first, c.last) for c in s.take_confirmed()] == [("v1", 1, 2)]
    assert s.take_confirmed() == []


def test_forget_starts_the_video_over() -> None:
    s = Streams()
    s.extend("v1", [ev(10)])
    s.forget("v1")
    assert s.extend("v1", [ev(2)]) == 1 and s.known["v1"] == 2


def test_a_message_carries_no_more_events_than_the_broker_is_sized_for() -> None:
    from broker.mosquitto import BRIDGE_EVENTS_PER_MESSAGE

    assert MAX_EVENTS_PER_MESSAGE == BRIDGE_EVENTS_PER_MESSAGE
