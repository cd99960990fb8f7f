"""The bridge process as `livecomments bridge` and `livecomments up` run it: the partitions'
bridges (wiring.bridge.build_bridge) and the presence counter (bridge.presence) beside them,
on one engine, their metrics on one /metrics. One Service for the caller."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from bridge.presence import PresenceMetrics, PresenceService
from bridge.presence_counter import PresenceCounter
from bridge.presence_memory import MemoryPresenceCounter
from bridge.presence_redis import RedisPresenceCounter
from infra.db import make_engine
from infra.mqtt_client import service_address
from livecomments.config import Settings
from livecomments.presence import Window
from livecomments.service import Service
from moderation.screen import warm_up
from wiring.bridge import build_bridge

log = logging.getLogger("livecomments.wiring")


class ServiceGroup:
    """Services started in order and stopped in reverse, alive while all of them are: a Service."""

    def __init__(self, name: str, parts: Sequence[Service]) -> None:
        self.name = name
        self.parts = list(parts)
        self._started: list[Service] = []

    def start(self) -> None:
        try:
            for part in self.parts:
                part.start()
                self._started.append(part)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for part in reversed(self._started):
            try:
                part.stop()
            except Exception:  # noqa: BLE001 - logged; the rest still stop
                log.exception("stopping the %s failed", part.name)
        self._started = []

    def is_alive(self) -> bool:
        return bool(self._started) and all(part.is_alive() for part in self._started)


def presence_counter(settings: Settings) -> PresenceCounter:
    window = Window(settings.presence_window_s)
    if settings.redis_url:
        return RedisPresenceCounter.from_url(settings.redis_url, window)
    return MemoryPresenceCounter(window)


def build_presence(settings: Settings, engine: Engine, registry: CollectorRegistry | None = None,
                   mqtt5: bool | None = None) -> PresenceService:
    """The presence counter, not started: as the bridge account, counting the videos of the fixed
    partition if there is one, else every video (docs/operations.md, "Viewer counts"). `mqtt5`:
    whether the broker is Mosquitto (True) or amqtt (False); None: the counter finds out."""
    addr = service_address(settings, "bridge")
    fixed = settings.fixed_partition
    service = PresenceService(presence_counter(settings), engine, addr, settings.topics,
                              owns=fixed.owns if fixed is not None else (lambda _v: True),
                              metrics=PresenceMetrics(registry), mqtt5=mqtt5)
    log.info("presence: counting %s in %s over %g s", f"the videos of partition {fixed}" if fixed else "every video",
             "Redis" if settings.redis_url else "this process", settings.presence_window_s)
    return service


def build_bridge_process(settings: Settings, engine: Engine | None = None, *,
                         mqtt5: bool | None = None) -> ServiceGroup:
    if engine is None:
        engine = make_engine(settings.effective_database_url)
    warm_up()  # screening's tables built now, not on the first batch
    bridges = build_bridge(settings, engine)
    return ServiceGroup("bridge", [bridges, build_presence(settings, engine, bridges.metrics.registry, mqtt5)])
