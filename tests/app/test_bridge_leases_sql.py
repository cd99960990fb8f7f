"""The leases' SQL (infra.leases) on a real SQLite and PostgreSQL: one holder per partition, a new
epoch at each takeover, the fence, and on PostgreSQL which statement waits for a batch in flight."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from infra import leases as table
from infra.db import create_schema, make_engine
from livecomments.leases import coverage
from livecomments.models import BridgeLease

TTL_MS = 60_000
T = TypeVar("T")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_schema(engine)
    with sessionmaker(engine).begin() as s:
        table.ensure_partitions(s, 4)
        table.ensure_partitions(s, 4)  # every instance runs it at start: the second time adds nothing
    yield engine
    engine.dispose()


def run(engine: Engine, fn: Callable[..., T], *args: Any) -> T:
    """`fn(session, *args)` in a transaction of its own."""
    with sessionmaker(engine).begin() as s:
        return fn(s, *args)


def expire(engine: Engine, partition: int) -> None:
    with sessionmaker(engine).begin() as s:
        s.execute(update(BridgeLease).where(BridgeLease.partition_index == partition).values(expires_at=0))


def test_a_free_partition_is_claimed_once_and_renewed_by_its_holder_only(engine: Engine) -> None:
    view = run(engine, table.read_view, 4)
    assert sorted(lease.partition for lease in view.leases) == [0, 1, 2, 3]
    assert all(lease.holder is None for lease in view.leases) and list(view.members) == []
    assert run(engine, table.claim, "a", 0, 4, TTL_MS) == 1
    assert run(engine, table.claim, "b", 0, 4, TTL_MS) is None  # live: not b's to take
    assert run(engine, table.renew, "b", {0: (1, True)}, TTL_MS) == set()
    assert run(engine, table.renew, "a", {0: (1, True)}, TTL_MS) == {0}
    assert run(engine, table.holds, "a", 0, 1) and not run(engine, table.holds, "b", 0, 1)
    lease = next(lease for lease in run(engine, table.read_leases) if lease.partition == 0)
    assert lease.holder == "a" and lease.connected and lease.live(run(engine, table.now_ms))


def test_an_expired_lease_is_taken_over_with_a_new_epoch_and_the_old_holder_is_fenced_off(engine: Engine) -> None:
    assert run(engine, table.claim, "a", 1, 4, TTL_MS) == 1
    expire(engine, 1)  # a stopped renewing (or renewed late)
    assert run(engine, table.holds, "a", 1, 1)  # nobody took over: a may still commit
    assert run(engine, table.claim, "b", 1, 4, TTL_MS) == 2
    assert not run(engine, table.holds, "a", 1, 1) and run(engine, table.holds, "b", 1, 2)
    assert run(engine, table.renew, "a", {1: (1, True)}, TTL_MS) == set()  # a finds out at its next round


def test_a_released_partition_is_free_at_once_and_leave_hands_back_everything(engine: Engine) -> None:
    for p in (0, 1, 2):
        assert run(engine, table.claim, "a", p, 4, TTL_MS) == 1
    assert run(engine, table.release, "a", 0, 1)
    assert not run(engine, table.release, "a", 0, 1)  # once
    assert run(engine, table.claim, "b", 0, 4, TTL_MS) == 2
    run(engine, table.heartbeat, "a", 4, TTL_MS)
    assert list(run(engine, table.read_view, 4).members) == ["a"]
    run(engine, table.leave, "a")
    view = run(engine, table.read_view, 4)
    assert list(view.members) == []
    assert {lease.partition: lease.holder for lease in view.leases} == {0: "b", 1: None, 2: None, 3: None}


def test_no_claim_while_a_bridge_with_another_partition_count_holds_a_live_lease(engine: Engine) -> None:
    assert run(engine, table.claim, "a", 0, 4, TTL_MS) == 1
    assert run(engine, table.claim, "b", 1, 2, TTL_MS) is None  # 2 partitions vs 4: two writers of a video
    expire(engine, 0)
    assert run(engine, table.claim, "b", 1, 2, TTL_MS) == 1
    assert {lease.partition: lease.count for lease in run(engine, table.read_leases)}[1] == 2


def test_the_heartbeat_counts_instances_of_the_same_partition_count_only(engine: Engine) -> None:
    run(engine, table.heartbeat, "a", 4, TTL_MS)
    run(engine, table.heartbeat, "a", 4, TTL_MS)  # again: still one row
    run(engine, table.heartbeat, "b", 8, TTL_MS)
    run(engine, table.heartbeat, "gone", 4, -1)
    assert list(run(engine, table.read_view, 4).members) == ["a"]


def test_coverage_from_the_table(engine: Engine) -> None:
    assert not coverage(run(engine, table.read_leases), run(engine, table.now_ms)).ok
    for p in range(4):
        run(engine, table.claim, "a", p, 4, TTL_MS)
    assert not coverage(run(engine, table.read_leases), run(engine, table.now_ms)).ok  # claimed, not connected
    run(engine, table.renew, "a", {p: (1, True) for p in range(4)}, TTL_MS)
    assert coverage(run(engine, table.read_leases), run(engine, table.now_ms)).ok


def test_the_database_clock_is_milliseconds_since_the_epoch(engine: Engine) -> None:
    import time

    assert abs(run(engine, table.now_ms) - time.time() * 1000) < 60_000


def test_postgresql_a_takeover_waits_for_the_batch_in_flight_and_a_renewal_does_not(database_url: str,
                                                                                     engine: Engine) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's write transactions hold the one write lock: nothing to interleave")
    assert run(engine, table.claim, "a", 0, 4, TTL_MS) == 1
    batch = Session(engine)  # a's batch in flight: the fence passed, the row is locked FOR KEY SHARE
    try:
        assert table.holds(batch, "a", 0, 1)

        with sessionmaker(engine).begin() as renewal:
            renewal.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert table.renew(renewal, "a", {0: (1, True)}, -1) == {0}  # renewed (here: into the past), no wait

        with pytest.raises(OperationalError, match="lock timeout"), sessionmaker(engine).begin() as takeover:
            takeover.execute(text("SET LOCAL lock_timeout = '300ms'"))
            table.claim(takeover, "b", 0, 4, TTL_MS)  # expired, but a's batch holds the row: it waits
        batch.commit()
    finally:
        batch.close()
    assert run(engine, table.claim, "b", 0, 4, TTL_MS) == 2  # after a's commit
    assert not run(engine, table.holds, "a", 0, 1)
