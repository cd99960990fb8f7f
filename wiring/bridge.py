"""The bridge process, assembled: the engine, the MQTT connection, the recent cache, the metrics
server and the clock are chosen here from Settings (each choice logged in one line) and passed
to bridge.service.Bridge, which opens nothing itself.

Migrations are not run here either: the caller runs infra.db.create_schema once at start-up
(wiring.web.prepare_data, for the `bridge` command and for `up`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, start_http_server
from sqlalchemy import Engine

from bridge.deps import BridgeDeps, Clock, MetricsServer
from bridge.metrics import BridgeMetrics
from bridge.paho_bus import PahoIngestBus
from bridge.service import Bridge
from infra.credentials import client_id_suffix, ensure_credentials
from infra.db import make_engine
from infra.mqtt_client import service_address
from infra.recent_cache import RecentCache
from livecomments.config import Settings

log = logging.getLogger("livecomments.wiring")


def bridge_client_id(settings: Settings) -> str:
    """One client id per partition, so the broker keeps each one's persistent session; its suffix
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


def bridge_deps(settings: Settings, engine: Engine | None = None) -> BridgeDeps:
    """What the bridge uses, each chosen from `settings`. `engine`: one already made (and migrated)."""
    if engine is None:
        engine = make_engine(settings.effective_database_url)
    addr = service_address(settings, "bridge")
    client_id = bridge_client_id(settings)
    cache = RecentCache.from_url(settings.redis_url)
    port = settings.bridge_metrics_port
    log.info(
        "bridge: database %s; broker mqtt://%s:%d as %s (client id %s); recent cache %s; metrics %s",
        engine.url.render_as_string(hide_password=True), addr.host, addr.port, addr.username,
        client_id.rsplit("-", 1)[0] + "-…",  # the suffix is the secret part
        "in Redis" if cache is not None else "none", f"http://{settings.host}:{port}/metrics" if port else "not served",
    )
    return BridgeDeps(
        engine=engine,
        bus=PahoIngestBus.factory(client_id, addr),
        cache=cache,
        metrics=BridgeMetrics(),
        clock=Clock(),
        serve_metrics=metrics_server(settings.host, port) if port else None,
    )


def build_bridge(settings: Settings, engine: Engine | None = None) -> Bridge:
    """The bridge, not started. The database must be migrated already (infra.db.create_schema)."""
    return Bridge(settings, bridge_deps(settings, engine))
