"""The pure lease decisions (livecomments.leases): who takes which partition, who hands one over,
and whether every partition has a live, connected holder."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livecomments.leases import Lease, Plan, View, coverage, fair_shares, plan, preference

NOW = 1_000_000
LIVE = NOW + 2_000
EXPIRED = NOW - 1


def leases(holders: dict[int, str | None], count: int, expires: int = LIVE, connected: bool = True) -> list[Lease]:
    return [Lease(p, count, h, 1, expires if h else 0, connected) for p, h in holders.items()]


def view(rows: Iterable[Lease], members: Iterable[str]) -> View:
    return View(NOW, list(rows), list(members))


def test_a_lone_instance_takes_every_free_partition() -> None:
    decided = plan(view(leases({p: None for p in range(4)}, 4), ["a"]), "a", 4)
    assert sorted(decided.take) == [0, 1, 2, 3] and decided.release == ()


def test_rows_not_yet_written_count_as_free() -> None:
    assert sorted(plan(view([], []), "a", 3).take) == [0, 1, 2]


def test_an_instance_takes_only_its_fair_share_when_others_are_short_too() -> None:
    rows = leases({p: None for p in range(4)}, 4)
    a, b = plan(view(rows, ["a", "b"]), "a", 4), plan(view(rows, ["a", "b"]), "b", 4)
    assert len(a.take) == 2 and len(b.take) == 2


def test_expired_leases_are_free_and_taken_over() -> None:
    rows = leases({0: "dead", 1: "dead", 2: "b", 3: "b"}, 4, expires=LIVE)
    rows = [Lease(r.partition, 4, r.holder, 1, EXPIRED if r.holder == "dead" else LIVE, True) for r in rows]
    decided = plan(view(rows, ["b"]), "b", 4)  # the dead one's heartbeat expired as well
    assert sorted(decided.take) == [0, 1]


def test_availability_first_a_free_partition_nobody_else_is_short_of_is_taken_anyway() -> None:
    # b is at its share (2 of 4 with a), a holds 1: one partition is free and only a is short of it,
    # so b leaves it; but when a is not short (the heartbeat says a, the leases say otherwise) b takes it.
    rows = leases({0: "a", 1: "b", 2: "b", 3: None}, 4)
    assert plan(view(rows, ["a", "b"]), "b", 4).take == ()
    assert plan(view(rows, ["a", "b"]), "a", 4).take == (3,)
    rows = leases({0: "a", 1: "a", 2: "b", 3: None}, 4)
    assert plan(view(rows, ["a", "b"]), "b", 4).take == (3,)  # shares 2/2, a is not short: b takes it


def test_a_joining_instance_makes_the_one_over_its_share_hand_one_over_at_a_time() -> None:
    rows = leases({p: "a" for p in range(4)}, 4)
    a = plan(view(rows, ["a", "b"]), "a", 4)
    assert len(a.release) == 1 and a.take == ()
    assert plan(view(rows, ["a", "b"]), "b", 4) == Plan()  # nothing free yet: it waits for the hand-over


def test_nobody_hands_over_when_nobody_is_short() -> None:
    rows = leases({0: "a", 1: "a", 2: "b"}, 3)  # 3 over 2: shares 2 and 1
    assert plan(view(rows, ["a", "b"]), "a", 3).release == ()
    assert plan(view(rows, ["a", "b"]), "b", 3).release == ()


def test_the_extra_partition_stays_with_whoever_holds_more() -> None:
    assert fair_shares(["a", "b", "c"], {"c": 2, "a": 1, "b": 1}, 4) == {"c": 2, "a": 1, "b": 1}
    assert fair_shares(["b", "a"], {}, 3) == {"a": 2, "b": 1}
    assert fair_shares([], {}, 3) == {}


def test_instances_prefer_different_free_partitions() -> None:
    assert sorted(preference("x", 8)) == list(range(8))
    starts = {preference(f"host-{i}", 8)[0] for i in range(20)}
    assert len(starts) > 1


def test_a_fixed_partition_takes_that_one_only_and_never_hands_it_over() -> None:
    rows = leases({0: None, 1: None}, 2)
    assert plan(view(rows, []), "a", 2, only=1).take == (1,)
    held = leases({0: None, 1: "a"}, 2)
    assert plan(view(held, ["a", "b", "c"]), "a", 2, only=1) == Plan()  # over any share: kept
    taken = leases({1: "other"}, 2)
    assert plan(view(taken, []), "a", 2, only=1).take == ()  # a standby for it


def test_a_bridge_with_another_partition_count_takes_nothing_while_theirs_are_live() -> None:
    rows = leases({0: "a", 1: "a"}, 2)
    decided = plan(view(rows, ["a"]), "b", 4)
    assert decided.take == () and decided.conflict is not None and "2 partitions" in decided.conflict
    stale = leases({0: "a", 1: "a"}, 2, expires=EXPIRED)  # theirs expired: the new count goes ahead
    assert sorted(plan(view(stale, []), "b", 4).take) == [0, 1, 2, 3]


def test_a_partition_avoided_after_a_failure_is_left_alone() -> None:
    assert sorted(plan(view([], ["a"]), "a", 3, avoid={1}).take) == [0, 2]


@settings(max_examples=200, deadline=None)
@given(count=st.integers(1, 12), instances=st.integers(1, 6), rng=st.randoms(use_true_random=False))
def test_rounds_converge_to_every_partition_held_once_in_fair_shares(count: int, instances: int,
                                                                    rng: random.Random) -> None:
    """Instances taking turns in any order, each claim atomic: after a few rounds every partition
    has one holder and each instance holds its fair share (within one)."""
    members = [f"i{n}" for n in range(instances)]
    holders: dict[int, str | None] = {p: None for p in range(count)}

    def turn(me: str) -> bool:
        decided = plan(view(leases(holders, count), members), me, count)
        for p in decided.release:
            holders[p] = None
        for p in decided.take:
            if holders[p] is None:  # the claim is a conditional UPDATE: one wins
                holders[p] = me
        return bool(decided.release or decided.take)

    for _ in range(5 * (count + instances)):  # turns in a random order
        turn(rng.choice(members))
    for _ in range(4 * (count + instances)):  # then rounds of everyone, until one changes nothing
        if not any([turn(m) for m in rng.sample(members, len(members))]):
            break
    else:
        pytest.fail(f"no stable state: {holders}")
    assert all(h is not None for h in holders.values())
    held = [sum(1 for h in holders.values() if h == m) for m in members]
    assert max(held) - min(held) <= 1 and sum(held) == count


def test_coverage_is_ok_only_when_every_partition_has_a_live_connected_holder() -> None:
    assert not coverage([], NOW).ok
    assert "no bridge" in coverage([], NOW).detail
    assert coverage(leases({0: "a", 1: "b"}, 2), NOW).ok
    missing = coverage(leases({0: "a", 1: None}, 2), NOW)
    assert not missing.ok and "partition 1 of 2" in missing.detail
    expired = coverage(leases({0: "a", 1: "b"}, 2, expires=EXPIRED), NOW)
    assert not expired.ok
    offline = coverage(leases({0: "a"}, 1, connected=False), NOW)
    assert not offline.ok and "not connected" in offline.detail


def test_coverage_ignores_stale_rows_of_an_older_count_and_flags_disagreement() -> None:
    rows = leases({0: "a", 1: "a"}, 2) + [Lease(2, 4, "old", 3, EXPIRED), Lease(3, 4, None, 3, 0)]
    assert coverage(rows, NOW).ok
    mixed = leases({0: "a"}, 2) + [Lease(1, 4, "b", 1, LIVE, True)]
    assert not coverage(mixed, NOW).ok and "disagree" in coverage(mixed, NOW).detail


@pytest.mark.parametrize("count", [1, 2, 7])
def test_a_lone_instance_ends_holding_everything_and_releases_nothing(count: int) -> None:
    rows = leases({p: "a" for p in range(count)}, count)
    assert plan(view(rows, ["a"]), "a", count) == Plan()
