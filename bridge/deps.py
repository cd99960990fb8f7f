"""Everything the bridge uses that is not its own logic, handed in by the wiring (wiring.bridge):
the bridge opens nothing itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

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


@dataclass(frozen=True)
class BridgeDeps:
    engine: Engine  # the schema is already current: the wiring migrated it
    bus: BusFactory  # the MQTT connection, made when the bridge starts
    cache: RecentCache | None = None  # the recent-comments cache (Redis), if any
    metrics: BridgeMetrics = field(default_factory=BridgeMetrics)
    clock: Clock = field(default_factory=Clock)
    serve_metrics: MetricsServer | None = None  # None: no /metrics of its own
