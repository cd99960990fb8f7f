"""The client rules as pure functions: ordering, de-duplication, gap repair, the reconnect schedule.
No IO, no clock: every input is a plain dict as it comes off the wire."""

from __future__ import annotations

from typing import Any

import pytest

from viewer.backoff import Attempt, Backoff, ReconnectPlan, full_jitter
from viewer.sequencer import Event, EventType, Fetch, Sequencer, Source, Step


def comment(seq: int, cid: str | None = None, parent: str | None = None) -> dict[str, Any]:
    return {
        "id": cid or f"c{seq}", "video_id": "v1", "seq": seq, "parent_id": parent,
        "user": {"id": "u1", "name": "Alice"}, "text": f"text {seq}", "ts": 1764000000000 + seq,
        "reply_count": 0, "reactions": {},
    }


def ev(seq: int, cid: str | None = None) -> dict[str, Any]:
    return {"type": "comment", "seq": seq, "comment": comment(seq, cid)}


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    return {"video_id": "v1", "events": list(events)}


def snapshot(seq: int, *seqs: int) -> dict[str, Any]:
    return {"video_id": "v1", "seq": seq, "comments": [comment(s) for s in seqs]}


def seeded(last: int = 0, **kwargs: Any) -> Sequencer:
    s = Sequencer(**kwargs)
    step = s.recent(snapshot(last))
    assert step.emit == [] and step.fetch is None
    return s


def seqs(events: list[Event]) -> list[int | None]:
    return [e.seq for e in events]


def run(s: Sequencer, batches: list[list[int]]) -> list[Event]:
    out: list[Event] = []
    for b in batches:
        out += s.batch(batch(*(ev(n) for n in b))).emit
    return out


# -- ordering ---------------------------------------------------------------------------


def test_in_order_events_are_emitted_at_once() -> None:
    s = seeded()
    first = s.batch(batch(ev(1), ev(2)))
    assert seqs(first.emit) == [1, 2] and first.fetch is None
    second = s.batch(batch(ev(3)))
    assert seqs(second.emit) == [3] and second.fetch is None
    assert [e.source for e in first.emit + second.emit] == [Source.LIVE] * 3
    assert first.emit[0].id == "c1" and first.emit[0].comment == comment(1)
    assert s.last_seq == 3 and not s.has_gap


@pytest.mark.parametrize(
    "batches",
    [
        [[3, 1, 2]],  # out of order within a batch
        [[2, 1], [3]],
        [[2], [1], [3]],  # across batches
        [[1], [3, 2]],
        [[3], [1, 2]],
        [[2, 3], [1]],
        [[3], [2], [1]],
    ],
    ids=str,
)
def test_out_of_order_events_come_out_in_seq_order(batches: list[list[int]]) -> None:
    s = seeded()
    assert seqs(run(s, batches)) == [1, 2, 3]
    assert s.last_seq == 3 and s.wanted() is None


def test_a_held_back_event_asks_for_the_gap() -> None:
    s = seeded()
    step = s.batch(batch(ev(2)))
    assert step.emit == []
    assert step.fetch is not None
    assert (step.fetch.after_seq, step.fetch.known_to, step.fetch.query()) == (0, 2, {"after_seq": 0, "limit": 200})
    assert s.has_gap
    assert seqs(s.batch(batch(ev(1))).emit) == [1, 2]  # the late one came after all
    assert not s.has_gap and s.wanted() is None


# -- duplicates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "want_seqs", "want_ids"),
    [
        ([[ev(1)], [ev(1)], [ev(2)]], [1, 2], ["c1", "c2"]),  # same seq twice, across batches
        ([[ev(1), ev(1), ev(2)]], [1, 2], ["c1", "c2"]),  # same seq twice, in one batch
        ([[ev(2)], [ev(2)], [ev(1)]], [1, 2], ["c1", "c2"]),  # same seq twice while held back
        ([[ev(1, "a")], [ev(2, "a")], [ev(3)]], [1, 3], ["a", "c3"]),  # same id twice
        ([[ev(1, "a"), ev(2, "a")]], [1], ["a"]),  # same id twice, in one batch
    ],
    ids=["seq-across", "seq-within", "seq-held", "id-across", "id-within"],
)
def test_duplicates_are_dropped(events: list[list[dict[str, Any]]], want_seqs: list[int], want_ids: list[str]) -> None:
    s = seeded()
    out: list[Event] = []
    for b in events:
        out += s.batch(batch(*b)).emit
    assert seqs(out) == want_seqs
    assert [e.id for e in out] == want_ids
    assert s.last_seq == max(e["seq"] for b in events for e in b)


def test_a_comment_deleted_and_approved_again_is_emitted_again() -> None:
    """docs/contract.md, Moderation: a held comment gets a `delete` event; approving it publishes
    it again with a new seq, and clients that dropped its id as deleted must accept it again."""
    s = seeded()
    out = run(s, [[1, 2]])
    out += s.batch(batch({"type": "delete", "seq": 3, "id": "c1"})).emit
    out += s.batch(batch(ev(4, "c1"))).emit
    out += s.batch(batch(ev(1), ev(4, "c1"))).emit  # the old event and the new one republished: dropped
    assert [(e.type, e.seq, e.id) for e in out] == [
        (EventType.COMMENT, 1, "c1"),
        (EventType.COMMENT, 2, "c2"),
        (EventType.DELETE, 3, "c1"),
        (EventType.COMMENT, 4, "c1"),
    ]


def test_ids_remembered_are_bounded() -> None:
    s = seeded(max_ids=2)
    run(s, [[1, 2, 3]])
    again = s.batch(batch(ev(4, "c1"), ev(5, "c3"))).emit  # c1 forgotten, c3 still known
    assert [e.id for e in again] == ["c1"]


# -- gaps -------------------------------------------------------------------------------


def test_gap_is_fetched_and_filled_from_history() -> None:
    s = seeded()
    assert seqs(s.batch(batch(ev(1))).emit) == [1]
    step = s.batch(batch(ev(4)))
    assert step.emit == [] and step.fetch is not None
    fetch = step.fetch
    assert (fetch.after_seq, fetch.known_to) == (1, 4)
    filled = s.backfill(fetch, [comment(2), comment(3), comment(4)])
    assert seqs(filled.emit) == [2, 3, 4]
    assert [e.source for e in filled.emit] == [Source.HISTORY, Source.HISTORY, Source.LIVE]
    assert filled.fetch is None and s.last_seq == 4 and not s.has_gap


def test_seqs_history_cannot_have_are_skipped_up_to_what_was_known() -> None:
    # 2 was a pin and 4 a comment deleted since: history has neither, and never will.
    s = seeded()
    s.batch(batch(ev(1)))
    fetch = s.batch(batch({"type": "delete", "seq": 5, "id": "c1"})).fetch
    assert fetch is not None and fetch.known_to == 5
    step = s.backfill(fetch, [comment(3)])
    assert [(e.type, e.seq) for e in step.emit] == [("comment", 3), ("delete", 5)]
    assert step.fetch is None and s.last_seq == 5


def test_a_seq_in_the_answer_proves_the_lower_ones_existed() -> None:
    # After a reconnect nothing is known beyond 1, but history answers 2 and 4: 3 was
    # numbered before 4 was, and history does not have it, so it is not coming.
    s = seeded()
    s.batch(batch(ev(1)))
    fetch = s.reconnected().fetch
    assert fetch is not None and fetch.known_to == 1
    step = s.backfill(fetch, [comment(2), comment(4)])
    assert seqs(step.emit) == [2, 4] and step.fetch is None and s.last_seq == 4


def test_what_arrives_during_a_fetch_is_not_skipped() -> None:
    s = seeded()
    first = s.batch(batch(ev(3))).fetch
    assert first is not None and first.known_to == 3
    assert s.batch(batch(ev(6))).emit == []  # while the request is out
    step = s.backfill(first, [comment(1), comment(2)])  # the answer predates 4 and 5
    assert seqs(step.emit) == [1, 2, 3]
    assert step.fetch is not None and (step.fetch.after_seq, step.fetch.known_to) == (3, 6)
    done = s.backfill(step.fetch, [comment(4)])
    assert seqs(done.emit) == [4, 6] and done.fetch is None and s.last_seq == 6


def test_full_pages_ask_for_the_next_page() -> None:
    s = seeded(page_size=2)
    fetch = s.batch(batch(ev(6))).fetch
    assert fetch is not None and fetch.limit == 2
    pages = [[comment(1), comment(2)], [comment(3), comment(4)], [comment(5)]]
    emitted: list[Event] = []
    asked: list[int] = []
    while fetch is not None:
        asked.append(fetch.after_seq)
        step = s.backfill(fetch, pages.pop(0))
        emitted += step.emit
        fetch = step.fetch
    assert asked == [0, 2, 4]
    assert seqs(emitted) == [1, 2, 3, 4, 5, 6]


def test_history_overlapping_live_events_emits_each_once() -> None:
    s = seeded()
    s.batch(batch(ev(1)))
    fetch = s.batch(batch(ev(3), ev(4))).fetch
    assert fetch is not None
    step = s.backfill(fetch, [comment(2), comment(3), comment(4), comment(5)])
    assert seqs(step.emit) == [2, 3, 4, 5]
    assert s.batch(batch(ev(5), ev(6))).emit[0].seq == 6  # 5 came from history already


def test_give_up_skips_the_gap() -> None:
    s = seeded()
    s.batch(batch(ev(1)))
    s.batch(batch(ev(4), ev(5)))
    step = s.give_up()
    assert seqs(step.emit) == [4, 5] and step.fetch is None and s.last_seq == 5


def test_too_much_held_back_gives_up_by_itself() -> None:
    s = seeded(max_pending=2)
    assert s.batch(batch(ev(3))).emit == []
    assert s.batch(batch(ev(4))).emit == []
    assert seqs(s.batch(batch(ev(5))).emit) == [3, 4, 5]


# -- recent ---------------------------------------------------------------------------


def test_recent_seeds_the_view() -> None:
    s = Sequencer()
    assert not s.seeded and s.wanted() is None
    step = s.recent(snapshot(3, 1, 2, 3))
    assert seqs(step.emit) == [1, 2, 3] and step.fetch is None
    assert {e.source for e in step.emit} == {Source.RECENT}
    assert seqs(s.batch(batch(ev(4))).emit) == [4]


@pytest.mark.parametrize(
    ("live_first", "recent", "want"),
    [
        ([3], snapshot(3, 1, 2, 3), [(1, "recent"), (2, "recent"), (3, "recent")]),
        ([3, 4], snapshot(3, 1, 2, 3), [(1, "recent"), (2, "recent"), (3, "recent"), (4, "live")]),
        ([2, 3], snapshot(3, 1, 2, 3), [(1, "recent"), (2, "recent"), (3, "recent")]),
        ([4], snapshot(3, 2, 3), [(2, "recent"), (3, "recent"), (4, "live")]),
    ],
    ids=["covered", "one-beyond", "all-covered", "window"],
)
def test_recent_after_live_events_emits_nothing_twice(
    live_first: list[int], recent: dict[str, Any], want: list[tuple[int, str]]
) -> None:
    s = Sequencer()
    assert s.batch(batch(*(ev(n) for n in live_first))).emit == []  # held until seeded, nothing fetched
    step = s.recent(recent)
    assert [(e.seq, e.source.value) for e in step.emit] == want
    assert step.fetch is None


def test_recent_behind_held_events_asks_for_the_gap() -> None:
    s = Sequencer()
    s.batch(batch(ev(6)))
    step = s.recent(snapshot(3, 1, 2, 3))
    assert seqs(step.emit) == [1, 2, 3]
    assert step.fetch is not None and (step.fetch.after_seq, step.fetch.known_to) == (3, 6)


def test_later_recent_snapshots_emit_nothing_and_hint_where_the_stream_is() -> None:
    s = Sequencer()
    s.recent(snapshot(2, 1, 2))
    assert s.recent(snapshot(2, 1, 2)) == Step()  # the same again (a reconnect)
    assert s.recent(snapshot(4, 1, 2, 3, 4)) == Step()  # ahead: the live events should follow
    assert s.wanted() is None
    fetch = s.wanted(use_hint=True)  # they did not: the last live message was lost
    assert fetch is not None and (fetch.after_seq, fetch.known_to) == (2, 4)
    assert seqs(s.backfill(fetch, [comment(3)]).emit) == [3]
    assert s.last_seq == 4 and s.wanted(use_hint=True) is None


# -- reconnects ---------------------------------------------------------------------------


def test_reconnect_backfills_what_was_missed() -> None:
    s = seeded()
    s.batch(batch(ev(1)))
    step = s.reconnected()
    assert step.emit == [] and step.fetch is not None
    assert (step.fetch.after_seq, step.fetch.known_to) == (1, 1)
    assert s.batch(batch(ev(4))).emit == []  # live again before history answered
    done = s.backfill(step.fetch, [comment(2), comment(3), comment(4)])
    assert seqs(done.emit) == [2, 3, 4]
    assert done.fetch is None and s.wanted() is None


def test_an_answer_to_a_request_older_than_the_reconnect_does_not_count() -> None:
    s = seeded()
    old = s.batch(batch(ev(2))).fetch
    assert old is not None
    s.reconnected()
    step = s.backfill(old, [comment(1)])
    assert seqs(step.emit) == [1, 2]
    assert step.fetch is not None and step.fetch.epoch > old.epoch  # the reconnect still wants its backfill
    assert s.backfill(step.fetch, []).fetch is None


def test_seed_lazily_starts_at_the_first_event() -> None:
    s = Sequencer()
    s.batch(batch(ev(7), ev(8)))
    assert seqs(s.seed_lazily().emit) == [7, 8]
    lazy = Sequencer()
    assert lazy.seed_lazily() == Step()
    assert seqs(lazy.batch(batch(ev(9))).emit) == [9]


# -- other events ---------------------------------------------------------------------------


def test_delete_pin_unpin_and_unknown_events_are_passed_on_in_order() -> None:
    s = seeded()
    step = s.batch(batch(
        {"type": "unpin", "seq": 4},
        ev(1),
        {"type": "pin", "seq": 3, "comment": comment(1)},
        {"type": "delete", "seq": 2, "id": "c1"},
        {"type": "edit", "seq": 5, "id": "c1", "text": "a newer kind of event"},
    ))
    assert [(e.type, e.seq, e.id) for e in step.emit] == [
        (EventType.COMMENT, 1, "c1"),
        (EventType.DELETE, 2, "c1"),
        (EventType.PIN, 3, "c1"),  # the pinned comment was shown already: a pin is not a duplicate
        (EventType.UNPIN, 4, None),
        ("edit", 5, "c1"),
    ]
    pin = step.emit[2]
    assert pin.comment == comment(1) and pin.data["type"] == "pin"
    assert step.emit[4].data["text"] == "a newer kind of event"


def test_replies_are_comments_with_a_parent() -> None:
    s = seeded()
    reply = {"type": "comment", "seq": 2, "comment": comment(2, parent="c1")}
    out = s.batch(batch(ev(1), reply)).emit
    assert [e.is_reply for e in out] == [False, True]


@pytest.mark.parametrize(
    "payload",
    [
        {"events": "nope"},
        {"video_id": "v1"},
        batch({"type": "comment", "comment": comment(1)}),  # no seq
        batch({"type": "comment", "seq": "1", "comment": comment(1)}),
        batch({"type": "comment", "seq": True, "comment": comment(1)}),
        batch({"type": "comment", "seq": 0, "comment": comment(1)}),
        batch({"type": "comment", "seq": 1}),  # no comment
        batch({"type": "comment", "seq": 1, "comment": {"text": "no id"}}),
        batch({"type": "delete", "seq": 1}),  # no id
        batch({"seq": 1}),  # no type
        batch("not an object"),  # type: ignore[arg-type]
    ],
)
def test_malformed_input_is_ignored(payload: dict[str, Any]) -> None:
    s = seeded()
    assert s.batch(payload) == Step()
    assert s.last_seq == 0 and not s.has_gap
    assert seqs(s.batch(batch(ev(1))).emit) == [1]


@pytest.mark.parametrize("bad", [{"seq": "3", "comments": []}, {"seq": 3}, {"seq": -1, "comments": []}, {}])
def test_malformed_recent_does_not_seed(bad: dict[str, Any]) -> None:
    s = Sequencer()
    assert s.recent(bad) == Step() and not s.seeded


def test_fetch_query_is_what_the_history_api_takes() -> None:
    assert Fetch(after_seq=41, known_to=45, limit=200).query() == {"after_seq": 41, "limit": 200}


# -- reconnect schedule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (10_000, 8.0)]
)
def test_full_jitter_grows_exponentially_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert full_jitter(attempt, 0.5, 8.0, lambda: 1.0) == ceiling
    assert full_jitter(attempt, 0.5, 8.0, lambda: 0.0) == 0.0
    assert full_jitter(attempt, 0.5, 8.0, lambda: 0.25) == ceiling / 4


def test_backoff_draws_from_the_injected_source_and_resets() -> None:
    draws = iter([0.5, 0.5, 0.5, 0.1])
    b = Backoff(base=1.0, cap=10.0, rand=lambda: next(draws))
    assert [b.next_delay(), b.next_delay(), b.next_delay()] == [0.5, 1.0, 2.0]
    b.reset()
    assert b.next_delay() == pytest.approx(0.1)


def test_reconnect_plan_fails_over_round_robin_and_stays_where_it_works() -> None:
    plan = ReconnectPlan(["mqtt://a:1883", "ws://b:8083/mqtt", "mqtt://c:1883"], base=1.0, cap=4.0,
                         rand=lambda: 1.0)
    assert plan.first() == Attempt("mqtt://a:1883", 0.0)
    assert [plan.next(), plan.next(), plan.next(), plan.next()] == [
        Attempt("ws://b:8083/mqtt", 1.0),
        Attempt("mqtt://c:1883", 2.0),
        Attempt("mqtt://a:1883", 4.0),
        Attempt("ws://b:8083/mqtt", 4.0),  # capped
    ]
    plan.succeeded()
    assert plan.current == "ws://b:8083/mqtt"
    assert plan.next() == Attempt("mqtt://c:1883", 1.0)  # delays start afresh after a success


def test_reconnect_plan_needs_urls_and_sane_delays() -> None:
    with pytest.raises(ValueError):
        ReconnectPlan([])
    with pytest.raises(ValueError):
        Backoff(base=0.0)
    with pytest.raises(ValueError):
        Backoff(base=2.0, cap=1.0)
