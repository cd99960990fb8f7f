"""Everything the bridge uses that is not its own logic, handed in by the wiring (wiring.bridge):
the bridge opens nothing itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bridge.bus import BusFactory
from bridge.metrics import BridgeMetrics
from infra.recent_cache import RecentCache


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Clock:
    monotonic: Callable[[], float] = time.monotonic  # for intervals: pacing, the sweeper's cadence
    wall_ms: Callable[[], int] = wall_ms  # for what is stored and compared with stored times


# Starts serving the registry's /metrics; returns what shuts that server down.
MetricsServer = Callable[[CollectorRegistry], Callable[[], None]]


class LeaseLost(Exception):
    """The partition's lease no longer names this bridge: it must stop, committing nothing more."""


# Run first in each batch's transaction; raises LeaseLost if this bridge's lease is gone
# (bridge.partitions makes it from infra.leases.holds). One statement per batch.
Fence = Callable[[Session], None]


@dataclass(frozen=True)
class BridgeDeps:
    engine: Engine  # the schema is already current: the wiring migrated it
    bus: BusFactory  # the MQTT connection, made when the bridge starts
    cache: RecentCache | None = None  # the recent-comments cache (Redis), if any
    metrics: BridgeMetrics = field(default_factory=BridgeMetrics)
    clock: Clock = field(default_factory=Clock)
    serve_metrics: MetricsServer | None = None  # None: no /metrics of its own
    fence: Fence | None = None  # None: no lease to check (a bridge on its own)
