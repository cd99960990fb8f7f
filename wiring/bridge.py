"""The bridge process, assembled: the engine, the MQTT connections, the recent cache, the metrics
server and the clock are chosen here from Settings (each choice logged in one line) and passed
to bridge.partitions.PartitionBridges (the leases) and the bridge.service.Bridge of each
partition it takes, which open nothing themselves.

Migrations are not run here either: the caller runs infra.db.create_schema once at start-up
(wiring.web.prepare_data, for the `bridge` command and for `up`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, start_http_server
from sqlalchemy import Engine

from bridge.deps import BridgeDeps, Clock, Fence, MetricsServer
from bridge.metrics import BridgeMetrics
from bridge.paho_bus import PahoIngestBus
from bridge.partitions import PartitionBridges
from bridge.service import Bridge
from infra.credentials import client_id_suffix, ensure_credentials
from infra.db import make_engine
from infra.mqtt_client import service_address
from infra.recent_cache import RecentCache
from livecomments.config import Partition, Settings

log = logging.getLogger("livecomments.wiring")


def bridge_client_id(settings: Settings) -> str:
    """One client id per partition (`settings.partition`), so the broker keeps each one's persistent
    session, and a partition's new holder resumes it (and sends a stale old holder off); its suffix
    is derived from the data dir's secret (also with an external broker), so an anonymous client
    can neither guess it to kick the bridge off nor take it first to lock the bridge out."""
    part = settings.partition
    label = f"{part.index}-of-{part.count}"
    key = ensure_credentials(settings.data_dir).client_id_key
    return f"livecomments-bridge-{label}-{client_id_suffix(key, f'bridge-client-id:{label}')}"


def metrics_server(host: str, port: int) -> MetricsServer:
    def serve(registry: CollectorRegistry) -> Callable[[], None]:
        server, _thread = start_http_server(port, addr=host, registry=registry)
        return server.shutdown

    return serve


def build_bridge(settings: Settings, engine: Engine | None = None) -> PartitionBridges:
    """The bridge process's part, not started: the partition leases, and a Bridge for each
    partition it takes, each with that partition's client id; the engine, the cache and the
    metrics (one /metrics for the process) are shared. The database must be migrated already
    (infra.db.create_schema)."""
    if engine is None:
        engine = make_engine(settings.effective_database_url)
    addr = service_address(settings, "bridge")
    cache = RecentCache.from_url(settings.redis_url)
    metrics = BridgeMetrics()
    port = settings.bridge_metrics_port

    def make(partition: Partition, fence: Fence) -> Bridge:
        own = settings.with_overrides(bridge_partition=str(partition))
        bus = PahoIngestBus.factory(bridge_client_id(own), addr)
        return Bridge(own, BridgeDeps(engine=engine, bus=bus, cache=cache, metrics=metrics, clock=Clock(),
                                      fence=fence))

    fixed = settings.fixed_partition
    log.info(
        "bridge: database %s; broker mqtt://%s:%d as %s (client ids %s); partitions %s; recent cache %s; metrics %s",
        engine.url.render_as_string(hide_password=True), addr.host, addr.port, addr.username,
        f"livecomments-bridge-<i>-of-{fixed.count if fixed else settings.bridge_partitions}-…",  # the suffix is secret
        f"{fixed} only" if fixed else f"a fair share of {settings.bridge_partitions}",
        "in Redis" if cache is not None else "none", f"http://{settings.host}:{port}/metrics" if port else "not served",
    )
    return PartitionBridges(settings, engine, make, metrics, serve_metrics=metrics_server(settings.host, port)
                            if port else None)
