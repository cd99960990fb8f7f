"""The bridge's in-memory event streams between commit and PUBACK (pure bookkeeping)."""

from __future__ import annotations

import orjson
import pytest

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


def publish_all(s: Streams, mid: int = 1) -> int:
    """What the bridge does with what is queued: send it, get the PUBACK, hand it to a transaction."""
    for video_id in list(s.queued):
        while events := s.take(video_id):
            s.sent(mid, video_id, events, at=0.0)
            s.acked(mid)
            mid += 1
    s.take_confirmed()
    return mid


def test_known_holds_at_most_held_videos_and_the_least_recent_go() -> None:
    s = Streams(held=8)
    mid = 1
    for i in range(30):  # 30 videos, each published and confirmed in turn: 3.75 times the bound
        s.extend(f"v{i}", [ev(1)])
        mid = publish_all(s, mid)
        assert len(s.known) <= 8
        s.extend("hot", [ev(i + 1)])  # one video with events all along stays
        mid = publish_all(s, mid)
    assert "hot" in s.known and s.known["hot"] == 30
    assert "v29" in s.known and "v0" not in s.known


def test_a_forgotten_video_goes_on_from_the_database_without_a_gap_or_a_duplicate() -> None:
    s = Streams(held=2)
    s.extend("old", [ev(1), ev(2)])
    publish_all(s)
    for video_id in ("a", "b", "c"):
        s.extend(video_id, [ev(1)])
        publish_all(s)
    assert "old" not in s.known
    # as bridge.apply reports it for a video missing from `known`: its unpublished events (none) and the batch's
    assert s.extend("old", [ev(3)]) == 1
    assert s.known["old"] == 3 and [seq for seq, _p in s.take("old")] == [3]


def test_a_video_with_events_queued_in_flight_or_not_yet_marked_is_never_forgotten() -> None:
    s = Streams(held=2)
    s.extend("queued", [ev(1)])  # not taken yet
    s.extend("in-flight", [ev(1)])
    s.sent(1, "in-flight", s.take("in-flight"), at=0.0)  # no PUBACK yet
    s.extend("confirmed", [ev(1)])
    s.sent(2, "confirmed", s.take("confirmed"), at=0.0)
    s.acked(2)  # PUBACKed, not yet marked published in the database
    for i in range(6):
        s.extend(f"idle{i}", [ev(1)])
        s.sent(10 + i, f"idle{i}", s.take(f"idle{i}"), at=0.0)
        s.acked(10 + i)
        s.confirmed = [c for c in s.confirmed if c.video_id == "confirmed"]  # the idle ones: marked
    assert {"queued", "in-flight", "confirmed"} <= s.known.keys()
    assert len(s.known) <= 3 + 2  # the busy three, and what the bound leaves of the idle ones
    s.acked(1)
    publish_all(s, 100)  # nothing is busy any more: the next new video brings the table back under the bound
    s.extend("last", [ev(1)])
    assert len(s.known) <= 2 and "last" in s.known


def test_the_bound_must_hold_something() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Streams(held=0)
