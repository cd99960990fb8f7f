"""`livecomments up`: the whole system on the embedded default, as a list of services.

The broker and the bridge run in this process; the web app runs as production runs it (granian,
one worker) in a child process that dies with this one. Every part is a Service
(livecomments.service): started in order, watched, and stopped in reverse order; if any part
stops on its own, `up` stops the others and exits 1.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from infra import ports
from infra.db import make_engine
from infra.runtime_file import remove_runtime, write_runtime
from livecomments.config import Settings, put_settings
from livecomments.models import Video
from livecomments.service import Service
from wiring.supervise import stop_all, supervise

log = logging.getLogger("livecomments.up")

WEB_START_TIMEOUT_S = 30.0
WEB_STOP_TIMEOUT_S = 10.0
DEMO_VIDEO_ID = "demo"


class WebProcess:
    """The web app as production runs it, `livecomments web --workers 1` (granian), in a child
    process: its own interpreter lock and descriptors beside the broker and the bridge, and
    the cheapest server per request measured here. It dies with this process, even on SIGKILL."""

    name = "web app"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from wiring.web import PARENT_PID_ENV

        env = dict(os.environ)
        put_settings(self._settings, env)
        env[PARENT_PID_ENV] = str(os.getpid())
        # Its start-up lines would repeat the banner: only warnings and errors from it.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "livecomments", "web", "--workers", "1", "--log-level", "WARNING"], env=env
        )
        host = ports.reachable_host(self._settings.host)
        deadline = time.monotonic() + WEB_START_TIMEOUT_S
        while not ports.accepts(host, self._settings.http_port):
            if self._proc.poll() is not None:
                raise RuntimeError(f"the web app exited with {self._proc.returncode} while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web app did not listen on port {self._settings.http_port} "
                                   f"within {WEB_START_TIMEOUT_S:g} s")
            time.sleep(0.05)

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
    return shlex.quote(str(script)) if script.exists() else f"{shlex.quote(sys.executable)} -m livecomments"


def ensure_demo_video(settings: Settings) -> str | None:
    """Development only: on a first start (no video at all) create the demo video, so the page has
    something to show. The demo's id while it exists, else None (the user's own videos only)."""
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session, session.begin():
            if session.get(Video, DEMO_VIDEO_ID) is not None:
                return DEMO_VIDEO_ID
            if session.scalar(select(func.count()).select_from(Video)):
                return None
            session.add(Video(id=DEMO_VIDEO_ID, title="Demo video", created_ts=time.time_ns() // 1_000_000))
        log.info("created the demo video %r (development mode, first start)", DEMO_VIDEO_ID)
        return DEMO_VIDEO_ID
    finally:
        engine.dispose()


def _what_runs(settings: Settings, broker: str) -> str:
    backend = make_url(settings.effective_database_url).get_backend_name()
    database = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(backend, backend)
    redis = "Redis" if settings.redis_url else "no Redis"
    kind = "embedded default: amqtt" if broker == "amqtt" else "broker: Mosquitto"
    return f"{kind}, {database}, {redis}"


def banner(settings: Settings, data_dir: Path, broker: str = "amqtt", demo: str | None = None) -> str:
    h = ports.reachable_host(settings.host)
    base = f"http://{h}:{settings.http_port}"
    data = "" if settings.secret else f" --data-dir {shlex.quote(str(data_dir))}"
    lines = [f"livecomments is up ({_what_runs(settings, broker)})"]
    if demo is not None:
        lines.append(f"  the demo video    {base}/videos/{demo}")
    lines += [
        f"  web app + API     {base}/api/openapi.json",
        f"  health            {base}/readyz",
        f"  MQTT (TCP)        mqtt://{h}:{settings.mqtt_port}"
        f"   e.g. mosquitto_sub -p {settings.mqtt_port} -t 'live/#' -v",
        f"  MQTT (WebSocket)  ws://{h}:{settings.ws_port}/mqtt",
        f"  data dir          {data_dir}   (runtime.json there has these ports for `watch`)",
        f"  a token to post:  TOKEN=$({_cli()} token alice --name Alice{data})",
        f"  then post:        curl -X POST {base}/api/videos/{demo or '<video>'}/comments"
        " -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{\"text\": \"hello\"}'",
        "Ctrl-C or SIGTERM stops every part.",
    ]
    return "\n".join(lines)


def _broker_service(settings: Settings, broker: str) -> tuple[Service, tuple[type[Exception], ...]]:
    if broker == "mosquitto":
        from broker.mosquitto import MosquittoProcess, MosquittoStartError

        return MosquittoProcess(settings), (MosquittoStartError, FileNotFoundError)
    from broker.embedded import BrokerStartError, BrokerThread

    return BrokerThread(settings), (BrokerStartError,)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can reach a server listening there."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def up_dev_mode(host: str, configured: bool | None, forced: bool) -> tuple[bool, str | None]:
    """Whether `up` runs in development mode (anyone may sign in as anyone, admin included, at
    POST /api/dev/token), and the warning to log. On by default only on a loopback host; elsewhere
    only when forced (`--dev`, or LIVECOMMENTS_DEV=1: `configured`, None when not set)."""
    on = forced or (configured if configured is not None else is_loopback(host))
    if on and not is_loopback(host):
        return True, (f"development mode is on while listening on {host}: anyone who can reach it can sign "
                      "in as any user, admin included (POST /api/dev/token); use it only on a trusted network")
    return on, None


def run_up(settings: Settings, explicit: Mapping[str, bool], stop: threading.Event, broker: str = "amqtt",
           force_dev: bool = False) -> int:
    from wiring.bridge_process import build_bridge_process
    from wiring.web import prepare_data

    settings = _choose_ports(settings, explicit)
    configured = settings.dev if "LIVECOMMENTS_DEV" in os.environ else None
    dev, warning = up_dev_mode(settings.host, configured, force_dev)
    if warning:
        log.warning(warning)
    elif not dev and configured is None:
        log.info("development sign-in is off: %s is not a loopback address (`--dev` forces it)", settings.host)
    settings = settings.with_overrides(dev=dev)
    data_dir = settings.data_dir.resolve()
    prepare_data(settings)  # secrets and migrations, once, before any part starts
    demo = ensure_demo_video(settings) if settings.dev else None

    broker_service, broker_errors = _broker_service(settings, broker)
    start_errors: tuple[type[Exception], ...] = (*broker_errors, RuntimeError)
    parts: list[Callable[[], Service]] = [lambda: broker_service, lambda: WebProcess(settings),
                                          lambda: build_bridge_process(settings, mqtt5=broker == "mosquitto")]
    started: list[Service] = []
    try:
        for make in parts:
            service = make()
            service.start()
            started.append(service)
    except start_errors as exc:
        print(f"livecomments up: {exc}", file=sys.stderr)
        stop_all(started)
        return 1
    write_runtime(data_dir, {"host": settings.host, "http_port": settings.http_port, "mqtt_port": settings.mqtt_port,
                             "ws_port": settings.ws_port, "broker": broker})
    print(banner(settings, data_dir, broker, demo), flush=True)
    try:
        return supervise(started, stop, who="livecomments up")
    finally:
        log.info("stopping: %s", ", ".join(s.name for s in reversed(started)))
        remove_runtime(data_dir)
        stop_all(started)
