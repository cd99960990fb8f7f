"""`livecomments up`: broker, bridge and web app in one process on the embedded default."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from livecomments import ports
from livecomments.config import Settings
from livecomments.credentials import ensure_credentials
from livecomments.db import create_schema, make_engine

log = logging.getLogger("livecomments.up")


def _choose_ports(settings: Settings, explicit: Mapping[str, bool]) -> Settings:
    """Keep each configured port; a default port that is taken is swapped for a free one."""
    chosen = {}
    for name in ("http", "mqtt", "ws"):
        key = f"{name}_port"
        preferred = getattr(settings, key)
        port = ports.pick(settings.host, preferred, explicit.get(name, False))
        if port != preferred:
            log.info("%s port %d is taken; using %d instead (set --%s-port to choose)", name, preferred, port, name)
        chosen[key] = port
    return settings.with_overrides(**chosen)


def _cli() -> str:
    """How to call this CLI again from a shell (it may live in a virtualenv not on PATH)."""
    script = Path(sys.executable).parent / "livecomments"
    return str(script) if script.exists() else f"{sys.executable} -m livecomments"


def banner(settings: Settings, data_dir: Path) -> str:
    h = settings.host
    return "\n".join(
        [
            "livecomments is up (embedded default: amqtt, SQLite, no Redis)",
            f"  web app + API     http://{h}:{settings.http_port}/api/openapi.json",
            f"  health            http://{h}:{settings.http_port}/readyz",
            f"  MQTT (TCP)        mqtt://{h}:{settings.mqtt_port}"
            f"   e.g. mosquitto_sub -p {settings.mqtt_port} -t 'live/#' -v",
            f"  MQTT (WebSocket)  ws://{h}:{settings.ws_port}/mqtt",
            f"  data dir          {data_dir}",
            f"  a token to post:  {_cli()} token alice --name Alice"
            + (f" --data-dir {data_dir}" if not settings.secret else ""),
            "Ctrl-C or SIGTERM stops every part.",
        ]
    )


def run_up(settings: Settings, explicit: Mapping[str, bool], stop: threading.Event) -> int:
    from bridge.service import Bridge
    from broker.embedded import BrokerStartError, BrokerThread
    from webapp import close_app, create_app
    from webapp.server import make_server, shutdown_server

    settings = _choose_ports(settings, explicit)
    if "LIVECOMMENTS_DEV" not in os.environ:
        settings = settings.with_overrides(dev=True)  # the embedded default is for development
    data_dir = settings.data_dir.resolve()
    ensure_credentials(data_dir)
    engine = make_engine(settings.effective_database_url)
    create_schema(engine)
    engine.dispose()

    broker = BrokerThread(settings)
    try:
        broker.start()
    except BrokerStartError as exc:
        print(f"livecomments up: {exc}", file=sys.stderr)
        return 1
    bridge = Bridge(settings)
    bridge_stop = threading.Event()
    bridge_thread = threading.Thread(target=bridge.run, args=(bridge_stop,), name="bridge", daemon=True)
    bridge_thread.start()
    app = create_app(settings)
    server = make_server(settings, app)
    web_thread = threading.Thread(target=server.run, name="web", daemon=True)
    web_thread.start()
    print(banner(settings, data_dir), flush=True)
    try:
        stop.wait()
    finally:
        log.info("stopping: web app, bridge, broker")
        shutdown_server(server)
        web_thread.join(10)
        close_app(app)
        bridge_stop.set()
        bridge_thread.join(15)
        broker.stop()
    return 0
