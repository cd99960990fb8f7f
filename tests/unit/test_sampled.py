"""Following the sampled feed (viewer.sampled) and how `livecomments watch --sample` shows what was
left out. Pure."""

from __future__ import annotations

from typing import Any

from viewer.sampled import SKIPPED, SampleSequencer
from viewer.sequencer import Event, EventType, Sequencer
from viewer.watch import Renderer


def comment(seq: int) -> dict[str, Any]:
    return {"type": "comment", "seq": seq, "comment": {"id": f"c{seq}", "seq": seq, "user": {"id": "u", "name": "U"},
                                                       "text": f"t{seq}", "ts": 0, "parent_id": None}}


def batch(*events: dict[str, Any], skipped: int = 0) -> dict[str, Any]:
    return {"video_id": "v1", "events": list(events), "skipped": skipped}


def test_seq_jumps_are_expected_nothing_is_held_or_fetched() -> None:
    seq = SampleSequencer()
    seq.recent({"seq": 2, "comments": [comment(1)["comment"], comment(2)["comment"]]})
    step = seq.batch(batch(comment(5), comment(9), {"type": "delete", "seq": 12, "id": "c5"}, skipped=6))
    assert [(e.type, e.seq) for e in step.emit] == [(SKIPPED, None), ("comment", 5), ("comment", 9), ("delete", 12)]
    assert step.emit[0].data == {"skipped": 6}
    assert step.fetch is None and not seq.has_gap and seq.last_seq == 12
    assert seq.reconnected().fetch is None and seq.wanted(use_hint=True) is None


def test_a_plain_sequencer_would_repair_those_gaps() -> None:
    plain = Sequencer()
    plain.recent({"seq": 2, "comments": []})
    step = plain.batch(batch(comment(5)))
    assert step.emit == [] and step.fetch is not None  # what the sample must not do


def test_duplicates_and_old_events_are_dropped_and_order_is_kept() -> None:
    seq = SampleSequencer()
    seq.recent({"seq": 3, "comments": []})
    assert [e.seq for e in seq.batch(batch(comment(8), comment(6))).emit] == [6, 8]
    assert seq.batch(batch(comment(8), comment(2))).emit == []  # sent again after a reconnect, or behind recent
    assert [e.type for e in seq.batch(batch(skipped=4)).emit] == [SKIPPED]  # a count alone
    assert seq.batch(batch(skipped=0)).emit == [] and seq.batch({"events": [], "skipped": True}).emit == []


def test_events_before_the_seed_wait_for_it() -> None:
    seq = SampleSequencer()
    assert [e.type for e in seq.batch(batch(comment(4), skipped=1)).emit] == [SKIPPED]
    assert [e.seq for e in seq.recent({"seq": 1, "comments": []}).emit] == [4]


def test_watch_shows_the_count_left_out() -> None:
    r = Renderer()
    assert r.render(Event(SKIPPED, data={"skipped": 7})) == ["[… 7 comments not shown]"]
    assert r.render(Event(SKIPPED, data={"skipped": 1})) == ["[… 1 comment not shown]"]
    assert r.render(Event(SKIPPED, data={"skipped": "x"})) == []
    assert r.render(Event(EventType.UNPIN, seq=3)) == []
