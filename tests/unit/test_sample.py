"""The sampled feed's rule (livecomments.sample): examples, then properties over generated streams
(Hypothesis). Pure."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livecomments.sample import (
    WINDOW_MS,
    SampleRule,
    comment_ts,
    encode_sample,
    sample_events,
)
from livecomments.wire import comment_event, delete_event, pin_event, unpin_event

SETTINGS = settings(database=None, deadline=None, max_examples=300)


def comment(seq: int, ts: int, text: str = "hello", name: str = "Alice", user: str = "u1") -> tuple[int, bytes]:
    """A comment event encoded as the bridge encodes it (bridge.apply: orjson.dumps of comment_event)."""
    view = {"id": f"01JDQ3{seq:020d}", "video_id": "v1", "seq": seq, "parent_id": None,
            "user": {"id": user, "name": name}, "text": text, "ts": ts, "reply_count": 0, "reactions": {}}
    return seq, orjson.dumps(comment_event(seq, view))


def delete(seq: int) -> tuple[int, bytes]:
    return seq, orjson.dumps(delete_event(seq, "01JDQ3AAAAAAAAAAAAAAAAAAAA"))


def kept_times(cap: int, times: Sequence[int]) -> list[int]:
    rule = SampleRule(cap)
    return [t for t in times if rule.offer(t)]


# -- examples ---------------------------------------------------------------------------------


def test_up_to_the_cap_in_a_second_every_comment_is_kept() -> None:
    assert kept_times(5, [0, 0, 0, 0, 0]) == [0, 0, 0, 0, 0]
    assert kept_times(5, [0, 1, 2, 3, 4, 5, 999]) == [0, 1, 2, 3, 4]  # the 6th and 7th are in (t - 1 s, t]
    assert kept_times(5, [0, 1, 2, 3, 4, 1000]) == [0, 1, 2, 3, 4, 1000]  # 1000 ms later: a new second


def test_the_window_slides_it_is_not_fixed_seconds() -> None:
    # Fixed seconds [0, 1000) and [1000, 2000) would keep all ten: five at 900 and five at 1100,
    # ten comments within 200 ms. Any 1-second interval means (t - 1 s, t] for every t.
    times = [900] * 5 + [1100] * 5 + [1899, 1900]
    assert kept_times(5, times) == [900] * 5 + [1900]


def test_over_the_cap_the_kept_comments_are_spread_evenly() -> None:
    times = list(range(0, 5000, 20))  # 50 a second for 5 s
    kept = kept_times(5, times)
    assert kept[:5] == [0, 20, 40, 60, 80]  # the first second is the stream's, until the cap
    later = kept[5:]
    assert later[0] == 1000
    assert all(b - a == 200 for a, b in zip(later, later[1:], strict=False)), later  # then one every 1/5 s
    assert len(kept) == 5 + 20


def test_the_stream_time_never_goes_back() -> None:
    rule = SampleRule(2)
    assert rule.offer(10_000) and rule.offer(10_001)
    assert not rule.offer(500)  # an old ts (approved late, re-driven) counts as now: the second is full
    assert rule.clock == 10_001 and rule.skipped == 1
    assert rule.offer(None) is False  # no ts: the stream's time too
    assert rule.offer(11_001)


def test_a_ts_far_ahead_counts_as_the_ceiling() -> None:
    rule = SampleRule(1)
    assert rule.offer(10**12, ceiling=5000)
    assert rule.clock == 5000
    assert rule.offer(6000, ceiling=8000)  # honest comments a second later are sampled again


def test_every_other_event_passes_and_skipped_counts_what_was_left_out() -> None:
    rule = SampleRule(1)
    events = [comment(1, 0), comment(2, 1), delete(3), comment(4, 2),
              (5, orjson.dumps(pin_event(5, {"id": "01JDQ3AAAAAAAAAAAAAAAAAAAA"}))), (6, orjson.dumps(unpin_event(6)))]
    kept = sample_events(rule, events)
    assert [orjson.loads(p)["seq"] for p in kept] == [1, 3, 5, 6]
    assert rule.skipped == 2
    doc = orjson.loads(encode_sample("v1", kept, rule.skipped))
    assert doc == {"video_id": "v1", "events": [orjson.loads(p) for p in kept], "skipped": 2}
    assert orjson.loads(encode_sample("v1", [], 7)) == {"video_id": "v1", "events": [], "skipped": 7}


@pytest.mark.parametrize("text", ['x,"ts":1,', 'a "quoted" ,"ts":99}', "\\", ',\\"ts\\":3,', "é" * 50, "line\nbreak"])
@pytest.mark.parametrize("name", ['Bob,"ts":2,', "Ana"])
def test_the_fast_read_of_ts_agrees_with_the_json(text: str, name: str) -> None:
    _seq, payload = comment(7, 1_764_000_000_123, text=text, name=name)
    assert comment_ts(payload) == (True, 1_764_000_000_123)
    assert comment_ts(orjson.dumps(orjson.loads(payload), option=orjson.OPT_INDENT_2)) == (True, 1_764_000_000_123)


def test_events_encoded_otherwise_are_read_the_slow_way() -> None:
    assert comment_ts(b'{"seq": 3, "type": "comment", "comment": {"ts": 42}}') == (True, 42)
    assert comment_ts(b'{"seq": 3, "type": "delete", "id": "x"}') == (False, None)
    assert comment_ts(b'{"type": "comment", "seq": 3, "comment": {"ts": "soon"}}') == (True, None)
    assert comment_ts(b"not json") == (False, None)
    assert comment_ts(delete(4)[1]) == (False, None)


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        SampleRule(0)


# -- properties -------------------------------------------------------------------------------

KINDS = st.sampled_from(["comment"] * 6 + ["delete", "pin", "unpin"])


@st.composite
def streams(draw: st.DrawFn, max_gap: int = 400) -> tuple[int, list[tuple[str, int]], list[int]]:
    """(cap, [(kind, ts)], batch sizes): ts mostly rising, sometimes back (late approvals, other web
    processes), bursts (gap 0) and pauses; cut into batches as the bridge's rounds would."""
    cap = draw(st.integers(1, 12))
    start = draw(st.integers(0, 10**13))
    deltas = draw(st.lists(st.one_of(st.integers(0, max_gap), st.integers(-3000, 0), st.integers(0, 5000)),
                           max_size=300))
    kinds = draw(st.lists(KINDS, min_size=len(deltas), max_size=len(deltas)))
    ts, out = start, []
    for kind, delta in zip(kinds, deltas, strict=True):
        ts = max(0, ts + delta)
        out.append((kind, ts))
    sizes = draw(st.lists(st.integers(1, 40), max_size=len(out)))
    return cap, out, sizes


def encode(stream: list[tuple[str, int]]) -> list[tuple[int, bytes]]:
    return [comment(i + 1, ts) if kind == "comment" else delete(i + 1) if kind == "delete" else
            (i + 1, orjson.dumps(unpin_event(i + 1) if kind == "unpin" else pin_event(i + 1, {"id": "x"})))
            for i, (kind, ts) in enumerate(stream)]


def run(cap: int, events: list[tuple[int, bytes]], sizes: list[int]) -> tuple[list[tuple[int, bytes]], int]:
    """The sample of the stream fed in batches of these sizes (the rest in one): (kept events, skipped)."""
    rule = SampleRule(cap)
    kept: list[bytes] = []
    at = 0
    for size in [*sizes, len(events)]:
        kept += sample_events(rule, events[at:at + size])
        at += size
    by_payload = {p: seq for seq, p in events}
    return [(by_payload[p], p) for p in kept], rule.skipped


def stream_times(stream: list[tuple[str, int]]) -> dict[int, int]:
    """seq -> the comment's time as the rule defines it (its ts, or the latest before it if later)."""
    clock, out = -1, {}
    for i, (kind, ts) in enumerate(stream):
        if kind == "comment":
            clock = max(clock, ts)
            out[i + 1] = clock
    return out


def most_in_a_second(times: Sequence[int]) -> int:
    """The largest number of these times in any interval [a, a + 1 s) (it is enough to try a = each time)."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - WINDOW_MS:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@SETTINGS
@given(streams())
def test_no_second_of_the_sample_carries_more_than_the_cap(case: tuple[int, list[tuple[str, int]], list[int]]) -> None:
    cap, stream, sizes = case
    kept, _skipped = run(cap, encode(stream), sizes)
    times = stream_times(stream)
    assert most_in_a_second([times[seq] for seq, _p in kept if seq in times]) <= cap


@SETTINGS
@given(streams())
def test_rising_ts_no_second_of_the_sample_by_ts_carries_more_than_the_cap(
        case: tuple[int, list[tuple[str, int]], list[int]]) -> None:
    cap, stream, sizes = case
    rising = [(kind, ts) for kind, ts in zip([k for k, _ in stream], sorted(t for _, t in stream), strict=True)]
    kept, _skipped = run(cap, encode(rising), sizes)
    ts_of = dict(enumerate((ts for _k, ts in rising), start=1))
    comments = {i + 1 for i, (kind, _ts) in enumerate(rising) if kind == "comment"}
    assert most_in_a_second([ts_of[seq] for seq, _p in kept if seq in comments]) <= cap


@SETTINGS
@given(streams())
def test_sampled_plus_skipped_is_the_stream_and_every_other_event_passes(
        case: tuple[int, list[tuple[str, int]], list[int]]) -> None:
    cap, stream, sizes = case
    events = encode(stream)
    kept, skipped = run(cap, events, sizes)
    comments = {i + 1 for i, (kind, _ts) in enumerate(stream) if kind == "comment"}
    kept_seqs = [seq for seq, _p in kept]
    assert kept_seqs == sorted(kept_seqs)  # in order, each once, with their real seq
    assert len([s for s in kept_seqs if s in comments]) + skipped == len(comments)
    assert [s for s in kept_seqs if s not in comments] == [seq for seq, _p in events if seq not in comments]
    assert all(p == dict(events)[seq] for seq, p in kept)  # the bytes as they are on `comments`


@SETTINGS
@given(streams())
def test_the_sample_is_deterministic_whatever_the_batches(case: tuple[int, list[tuple[str, int]], list[int]]) -> None:
    cap, stream, sizes = case
    events = encode(stream)
    assert run(cap, events, sizes) == run(cap, events, []) == run(cap, events, [1] * len(events))


@SETTINGS
@given(streams(max_gap=1000))
def test_at_or_below_the_cap_the_sample_is_the_whole_stream(case: tuple[int, list[tuple[str, int]], list[int]]) -> None:
    cap, stream, sizes = case
    times = stream_times(stream)
    stream = [(k, times.get(i + 1, ts)) for i, (k, ts) in enumerate(stream)]  # as rising as the rule sees it
    if most_in_a_second(list(times.values())) > cap:  # thin it to a stream at or below the cap
        keep: set[int] = set()
        last: list[int] = []
        for seq, t in times.items():
            if len([x for x in last if x > t - WINDOW_MS]) < cap:
                keep.add(seq)
                last.append(t)
        stream = [(k, ts) for i, (k, ts) in enumerate(stream) if k != "comment" or i + 1 in keep]
    assert most_in_a_second(list(stream_times(stream).values())) <= cap
    events = encode(stream)
    kept, skipped = run(cap, events, sizes)
    assert skipped == 0 and kept == events


@SETTINGS
@given(st.integers(1, 20), st.integers(0, 10**12), st.lists(st.integers(0, 3), min_size=1, max_size=200))
def test_a_steady_rate_at_the_cap_is_kept_whole(cap: int, start: int, jitter: list[int]) -> None:
    """cap comments a second, evenly (each at least 1/cap s after the one before): nothing left out."""
    step = -(-WINDOW_MS // cap)  # ceil
    times, t = [], start
    for extra in jitter:
        times.append(t)
        t += step + extra
    assert kept_times(cap, times) == times
