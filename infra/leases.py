"""The bridges' leases in the database: claim, renew, release, read, and the fence each batch
checks (what to claim or release is livecomments.leases' decision; bridge.partitions runs it).

Times are the database's clock, in ms (`db_now_ms`), so the instances need not agree on theirs.
Safety comes from the row, not the clock: a takeover changes the holder and adds one to the
epoch, and a bridge commits a batch only in a transaction that found the row still naming it
and its epoch (`holds`). On PostgreSQL that statement locks the row FOR KEY SHARE: a takeover,
which changes a key column (the epoch: see models.BridgeLease), waits for the batch to commit,
and every batch after it finds the row changed, so the old holder never commits after the new
one took over. A renewal changes no key column and never waits for a batch. Claims are
serialized (an advisory lock), so the check that no bridge with another partition count holds a
live lease cannot race. On SQLite every write transaction holds the database's one write lock.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    cast,
    delete,
    extract,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from livecomments.leases import Coverage, Lease, View, coverage
from livecomments.models import BridgeInstance, BridgeLease

LEASES = typing.cast(Table, BridgeLease.__table__)
INSTANCES = typing.cast(Table, BridgeInstance.__table__)
CLAIM_LOCK = 4242002  # pg_advisory_xact_lock key of claims (4242001 is the migrations')
FORGET_AFTER_MS = 60_000  # an instance silent for this long loses its heartbeat row


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def db_now_ms(dialect: str) -> ColumnElement[int]:
    """The database's clock, in ms since the epoch."""
    if dialect == "postgresql":
        return cast(extract("epoch", func.clock_timestamp()) * 1000, BigInteger)
    return cast((func.julianday(literal_column("'now'")) - 2440587.5) * 86_400_000.0, BigInteger)


def now_ms(session: Session) -> int:
    return int(session.execute(select(db_now_ms(_dialect(session)))).scalar_one())


def ensure_partitions(session: Session, count: int) -> None:
    """A row for each partition 0..count-1 (free), so that each can be claimed by an UPDATE."""
    existing = set(session.scalars(select(LEASES.c.partition_index)))
    missing = [{"partition_index": p, "partition_count": count, "holder": None, "epoch": 0, "expires_at": 0,
                "connected": False} for p in range(count) if p not in existing]
    if not missing:
        return
    insert: Any = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    session.execute(insert(LEASES).values(missing).on_conflict_do_nothing())


def read_view(session: Session, count: int) -> View:
    """Every lease, and the live instances sharing `count` partitions."""
    now = now_ms(session)
    leases = read_leases(session)
    members = session.scalars(select(INSTANCES.c.id).where(
        INSTANCES.c.expires_at > now, INSTANCES.c.partition_count == count)).all()
    return View(now, leases, members)


def read_leases(session: Session) -> list[Lease]:
    rows = session.execute(select(LEASES.c.partition_index, LEASES.c.partition_count, LEASES.c.holder,
                                  LEASES.c.epoch, LEASES.c.expires_at, LEASES.c.connected)).all()
    return [Lease(p, n, holder, int(epoch), int(expires), bool(connected))
            for p, n, holder, epoch, expires, connected in rows]


def bridge_coverage(session: Session) -> Coverage:
    """Whether every partition has a live holder connected to the broker (readiness): one statement."""
    rows = session.execute(select(LEASES.c.partition_index, LEASES.c.partition_count, LEASES.c.holder,
                                  LEASES.c.epoch, LEASES.c.expires_at, LEASES.c.connected,
                                  db_now_ms(_dialect(session)))).all()
    now = int(rows[0][6]) if rows else 0
    return coverage([Lease(p, n, holder, int(epoch), int(expires), bool(connected))
                     for p, n, holder, epoch, expires, connected, _now in rows], now)


def heartbeat(session: Session, me: str, count: int, ttl_ms: int) -> None:
    """`me` is a live instance sharing `count` partitions for another `ttl_ms`."""
    expires = db_now_ms(_dialect(session)) + ttl_ms
    done = session.execute(update(INSTANCES).where(INSTANCES.c.id == me)
                           .values(expires_at=expires, partition_count=count))
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(INSTANCES.insert().values(id=me, partition_count=count, expires_at=expires))
    session.execute(delete(INSTANCES).where(INSTANCES.c.expires_at < db_now_ms(_dialect(session)) - FORGET_AFTER_MS))


def renew(session: Session, me: str, held: Mapping[int, tuple[int, bool]], ttl_ms: int) -> set[int]:
    """Extend each lease `me` holds at that epoch ({partition: (epoch, connected)}), in partition
    order; the partitions still held. One whose row changed (taken over) is not."""
    expires = db_now_ms(_dialect(session)) + ttl_ms
    kept = set()
    for partition in sorted(held):
        epoch, connected = held[partition]
        done = session.execute(update(LEASES).where(
            LEASES.c.partition_index == partition, LEASES.c.holder == me, LEASES.c.epoch == epoch,
        ).values(expires_at=expires, connected=connected))
        if done.rowcount == 1:  # type: ignore[attr-defined]
            kept.add(partition)
    return kept


def claim(session: Session, me: str, partition: int, count: int, ttl_ms: int) -> int | None:
    """Take the partition if it is free (released, or its lease expired) and no bridge with
    another partition count holds a live lease: the new epoch, or None."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
    now = db_now_ms(dialect)
    other = session.execute(select(LEASES.c.partition_index).where(
        LEASES.c.holder.is_not(None), LEASES.c.expires_at > now, LEASES.c.partition_count != count).limit(1)).first()
    if other is not None:
        return None
    done = session.execute(update(LEASES).where(
        LEASES.c.partition_index == partition, or_(LEASES.c.holder.is_(None), LEASES.c.expires_at <= now),
    ).values(holder=me, epoch=LEASES.c.epoch + 1, expires_at=now + ttl_ms, partition_count=count, connected=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return int(session.execute(select(LEASES.c.epoch).where(LEASES.c.partition_index == partition)).scalar_one())


def release(session: Session, me: str, partition: int, epoch: int) -> bool:
    """Hand the partition back (its bridge has stopped): free for the next claim at once."""
    done = session.execute(update(LEASES).where(
        LEASES.c.partition_index == partition, LEASES.c.holder == me, LEASES.c.epoch == epoch,
    ).values(holder=None, expires_at=0, connected=False))
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def leave(session: Session, me: str) -> None:
    """`me` stops: its leases are free and it no longer counts in the fair shares."""
    session.execute(update(LEASES).where(LEASES.c.holder == me).values(holder=None, expires_at=0, connected=False))
    session.execute(delete(INSTANCES).where(INSTANCES.c.id == me))


def holds(session: Session, me: str, partition: int, epoch: int) -> bool:
    """The fence, in a batch's transaction: the lease still names `me` at `epoch`. On PostgreSQL
    the row stays locked FOR KEY SHARE until that transaction ends. Expiry is not checked: only
    a takeover makes another writer, and it changes the epoch (a renewal that came late, on a
    loaded machine, must not stop a bridge nobody replaced)."""
    query = select(LEASES.c.epoch).where(
        LEASES.c.partition_index == partition, LEASES.c.holder == me, LEASES.c.epoch == epoch,
    )
    if _dialect(session) == "postgresql":
        query = query.with_for_update(read=True, key_share=True)
    return session.execute(query).first() is not None
