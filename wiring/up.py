"""`livecomments up`: the whole system on the embedded default. The broker and the bridge run in
this process; the web app runs as production runs it (granian, one worker) in a child process
that dies with this one."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from infra import ports
from infra.credentials import ensure_credentials
from infra.db import create_schema, make_engine
from livecomments.config import Settings, put_settings

log = logging.getLogger("livecomments.up")


class _Part(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def is_alive(self) -> bool: ...


WEB_STOP_TIMEOUT_S = 10.0


class WebProcess:
    """The web app as production runs it, `livecomments web --workers 1` (granian), in a child
    process: its own interpreter lock and descriptors beside the broker and the bridge, and
    the cheapest server per request measured here. It dies with this process, even on SIGKILL."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from wiring.web import PARENT_PID_ENV

        env = dict(os.environ)
        put_settings(self._settings, env)
        env[PARENT_PID_ENV] = str(os.getpid())
        self._proc = subprocess.Popen([sys.executable, "-m", "livecomments", "web", "--workers", "1"], env=env)

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(WEB_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


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


def banner(settings: Settings, data_dir: Path, broker: str = "amqtt") -> str:
    h = settings.host
    what = "embedded default: amqtt" if broker == "amqtt" else "broker: Mosquitto"
    return "\n".join(
        [
            f"livecomments is up ({what}, SQLite, no Redis)",
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


def run_up(settings: Settings, explicit: Mapping[str, bool], stop: threading.Event, broker: str = "amqtt") -> int:
    from bridge.service import Bridge
    from broker.mosquitto import MosquittoProcess, MosquittoStartError

    settings = _choose_ports(settings, explicit)
    if "LIVECOMMENTS_DEV" not in os.environ:
        settings = settings.with_overrides(dev=True)  # the embedded default is for development
    data_dir = settings.data_dir.resolve()
    ensure_credentials(data_dir)
    engine = make_engine(settings.effective_database_url)
    create_schema(engine)
    engine.dispose()

    if broker == "mosquitto":
        server_broker: _Part = MosquittoProcess(settings)
        start_errors: tuple[type[Exception], ...] = (MosquittoStartError, FileNotFoundError)
    else:
        from broker.embedded import BrokerStartError, BrokerThread

        server_broker, start_errors = BrokerThread(settings), (BrokerStartError,)
    try:
        server_broker.start()
    except start_errors as exc:
        print(f"livecomments up: {exc}", file=sys.stderr)
        return 1
    web = WebProcess(settings)
    web.start()
    bridge = Bridge(settings)
    bridge_stop = threading.Event()
    bridge_thread = threading.Thread(target=bridge.run, args=(bridge_stop,), name="bridge", daemon=True)
    bridge_thread.start()
    print(banner(settings, data_dir, broker), flush=True)
    code = 0
    try:
        while not stop.wait(1.0):
            if not server_broker.is_alive():
                print("livecomments up: the MQTT broker stopped for good", file=sys.stderr, flush=True)
                code = 1
                break
            if not web.is_alive():
                print("livecomments up: the web app stopped for good", file=sys.stderr, flush=True)
                code = 1
                break
    finally:
        log.info("stopping: web app, bridge, broker")
        web.stop()
        bridge_stop.set()
        bridge_thread.join(15)
        server_broker.stop()
    return code
