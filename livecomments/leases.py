"""Which partitions a bridge instance takes or releases, and whether every partition has a
live holder: pure decisions on the lease rows (infra.leases reads and writes them; the
orchestration is bridge.partitions).

A lease is live while it names a holder and has not expired, by the database's clock (`now`,
in ms). Each live instance aims at its fair share: the N partitions spread as evenly as they
go over the live instances (N // k each, one more for the first N % k, those holding the most
first, so a join moves as few partitions as it can). An instance under its share takes free
partitions; one over it releases one partition at a time, and only while another instance is
short of its share, so no partition waits for nobody. A free partition that no other instance
is short of is taken anyway: availability first, the balance comes back on later rounds.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Lease:
    """One row of bridge_leases."""

    partition: int
    count: int  # the partition count its holder splits the videos into
    holder: str | None
    epoch: int
    expires_at: int  # ms on the database's clock
    connected: bool = False  # the holder's broker connection was up at its last renewal

    def live(self, now: int) -> bool:
        return self.holder is not None and self.expires_at > now


@dataclass(frozen=True)
class View:
    """The lease table and the live instances, as one instance read them at `now`."""

    now: int
    leases: Sequence[Lease]
    members: Collection[str]  # the live instances sharing the partitions (bridge_instances)


@dataclass(frozen=True)
class Plan:
    take: tuple[int, ...] = ()  # free partitions to claim, in this order
    release: tuple[int, ...] = ()  # held partitions to hand over (stop their bridge first)
    conflict: str | None = None  # why nothing is taken: live leases of another partition count


def fair_shares(members: Iterable[str], held: Mapping[str, int], partitions: int) -> dict[str, int]:
    """Each member's share of `partitions`: as even as it goes, the extra ones to those holding
    the most now (ties by id), so every member computes the same shares from the same rows."""
    ranked = sorted(set(members), key=lambda m: (-held.get(m, 0), m))
    if not ranked:
        return {}
    base, extra = divmod(partitions, len(ranked))
    return {m: base + (1 if i < extra else 0) for i, m in enumerate(ranked)}


def preference(me: str, partitions: int) -> list[int]:
    """The order in which `me` takes free partitions: from a point of its own, so instances that
    look at the same free partitions at once mostly claim different ones."""
    start = zlib.crc32(me.encode()) % partitions
    return [(start + i) % partitions for i in range(partitions)]


def plan(view: View, me: str, count: int, only: int | None = None,
         avoid: Collection[int] = ()) -> Plan:
    """What `me`, splitting the videos into `count` partitions, should do now.

    `only`: a fixed partition (LIVECOMMENTS_BRIDGE_PARTITION): take it when it is free, nothing
    else, never release it for balance. `avoid`: partitions not to take this round (their
    bridge just failed here)."""
    live = [lease for lease in view.leases if lease.live(view.now)]
    others = sorted({lease.count for lease in live if lease.count != count})
    if others:
        return Plan(conflict=f"bridges with {', '.join(map(str, others))} partitions hold live leases; "
                             f"this one splits the videos into {count}: it waits until theirs expire")
    holders = {lease.partition: lease.holder for lease in live if lease.partition < count}
    free = [p for p in preference(me, count) if p not in holders and p not in avoid]
    if only is not None:
        return Plan(take=(only,) if only in free else ())
    mine = [p for p in preference(me, count) if holders.get(p) == me]
    held = Counter(h for h in holders.values() if h is not None)
    members = set(view.members) | {me}
    shares = fair_shares(members, held, count)
    short = sum(max(0, shares[m] - held[m]) for m in members if m != me)  # what the others would take
    if len(mine) > shares[me]:
        return Plan(release=(mine[-1],) if short > 0 else ())
    wanted = max(shares[me] - len(mine), len(free) - short)
    return Plan(take=tuple(free[:max(0, wanted)]))


@dataclass(frozen=True)
class Coverage:
    """Whether every partition has a live holder connected to the broker (readiness)."""

    ok: bool
    detail: str


def coverage(leases: Iterable[Lease], now: int) -> Coverage:
    live = [lease for lease in leases if lease.live(now)]
    if not live:
        return Coverage(False, "no bridge holds a partition")
    counts = sorted({lease.count for lease in live})
    if len(counts) > 1:
        return Coverage(False, f"bridges disagree on the partition count ({', '.join(map(str, counts))})")
    count = counts[0]
    connected = {lease.partition for lease in live if lease.connected}
    held = {lease.partition for lease in live}
    unheld = [p for p in range(count) if p not in held]
    if unheld:
        return Coverage(False, f"no bridge holds partition {_listed(unheld)} of {count}")
    offline = [p for p in range(count) if p not in connected]
    if offline:
        return Coverage(False, f"the bridge of partition {_listed(offline)} of {count} is not connected to the broker")
    return Coverage(True, f"{count} partition{'s' if count != 1 else ''}, each held")


def _listed(partitions: Sequence[int]) -> str:
    shown = ", ".join(map(str, partitions[:10]))
    return shown + (f" and {len(partitions) - 10} more" if len(partitions) > 10 else "")
