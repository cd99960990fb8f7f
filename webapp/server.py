"""Serving the web app.

`serve_workers(settings)` is `livecomments web`: granian (a Rust HTTP server) runs N worker
processes on one shared socket, each building its own app (`create_app`: an MQTT client and
a database pool per process) after the fork. SIGHUP respawns the workers one by one, each
new one before its old one stops; SIGTERM/SIGINT stop them all. Granian was chosen by
measured server CPU per request (`python -m bench.servers`, docs/operations.md).

`livecomments up` runs the same server as a child process (`--workers 1`, started with
PARENT_PID_ENV so that it dies with `up` even when `up` is killed with SIGKILL).

`make_server`/`shutdown_server`/`serve` run waitress in a thread of this process (tests).
"""

from __future__ import annotations

import ctypes
import dataclasses
import io
import logging
import os
import signal
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from flask import Flask
from waitress import create_server, trigger, wasyncore

from livecomments.config import ENV_PREFIX, Settings
from webapp import close_app, create_app

log = logging.getLogger("livecomments.webapp.server")

# waitress buffers a whole body before the app sees it: bound that. Bodies between 8 KiB
# and this get the app's JSON 413; beyond it waitress answers 413 itself.
MAX_BUFFERED_BODY = 1024 * 1024
SHUTDOWN_TIMEOUT_S = 5.0


def make_server(settings: Settings, app: Flask | None = None) -> Any:
    """A waitress server bound to settings.host:settings.http_port (not yet running)."""
    app = app if app is not None else create_app(settings)
    return create_server(
        app,
        host=settings.host,
        port=settings.http_port,
        threads=settings.web_threads,
        max_request_body_size=MAX_BUFFERED_BODY,
        ident="livecomments",
    )


def listening_on(server: Any) -> list[tuple[str, int]]:
    if hasattr(server, "effective_listen"):
        return [(str(h), int(p)) for h, p in server.effective_listen]
    return [(str(server.effective_host), int(server.effective_port))]


def shutdown_server(server: Any, timeout: float = SHUTDOWN_TIMEOUT_S) -> None:
    """Let running requests finish, then close every socket from the server's own loop thread."""
    server.task_dispatcher.shutdown(timeout=timeout)
    socket_map = server.map if hasattr(server, "map") else server._map
    waker = next((obj for obj in list(socket_map.values()) if isinstance(obj, trigger.trigger)), None)
    if waker is None:  # pragma: no cover - every waitress server has one
        wasyncore.close_all(socket_map, ignore_all=True)
        return
    waker.pull_trigger(lambda: wasyncore.close_all(socket_map, ignore_all=True))


def serve(settings: Settings, stop: threading.Event, *, app: Flask | None = None) -> int:
    """Run the web app until ``stop`` is set; then close the server and the publisher."""
    app = app if app is not None else create_app(settings)
    server = make_server(settings, app)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    for host, port in listening_on(server):
        shown = f"[{host}]" if ":" in host else host
        print(f"web app listening on http://{shown}:{port}", flush=True)
    stop.wait()
    log.info("stopping the web app")
    shutdown_server(server)
    thread.join(SHUTDOWN_TIMEOUT_S)
    close_app(app)
    return 0


# --- production: granian, several worker processes ---------------------------------------------------

RESPAWN_INTERVAL_S = 2.0  # on SIGHUP: how long a new worker runs beside the old one before that one stops
_worker: Flask | None = None  # this worker process's app


def worker_count(settings: Settings) -> int:
    """As configured; by default one per core when Redis holds the rate limits, else one: without
    Redis each process keeps its own limits, so N workers would let a user post N times the limit."""
    if settings.web_workers:
        if settings.web_workers > 1 and not settings.redis_url:
            log.warning(
                "%d web workers without LIVECOMMENTS_REDIS_URL: rate limits and slow mode are per worker",
                settings.web_workers,
            )
        return settings.web_workers
    if not settings.redis_url:
        log.info("one web worker: without LIVECOMMENTS_REDIS_URL rate limits could not be shared by several")
        return 1
    return os.cpu_count() or 1


def settings_environ(settings: Settings) -> dict[str, str | None]:
    """LIVECOMMENTS_* variables from which `Settings.from_env()` rebuilds `settings` (None: unset),
    so that every worker process has the flags the parent was given."""
    out: dict[str, str | None] = {}
    for f in dataclasses.fields(settings):
        if f.name == "extra":
            continue
        value = getattr(settings, f.name)
        name = ENV_PREFIX + f.name.upper()
        if value is None:
            out[name] = None
        elif isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif isinstance(value, Path):
            out[name] = str(value.resolve())
        else:
            out[name] = str(value)
    return out


def put_settings(settings: Settings, env: MutableMapping[str, str]) -> None:
    """Write `settings_environ(settings)` into `env` (a child's environment, or this process's)."""
    for name, value in settings_environ(settings).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value


class BoundedChunkedBody:
    """Gives a chunked body (no Content-Length) a length, reading at most `limit` + 1 bytes of it.

    Granian hands a chunked body over as a stream; Werkzeug then reads at most
    MAX_CONTENT_LENGTH of it and would parse the truncated bytes as if they were all. With a
    length the app answers its JSON 413 past the limit, as it does under waitress (which
    buffers such a body itself)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and not environ.get("CONTENT_LENGTH"):
            stream, body = environ["wsgi.input"], b""
            while len(body) <= self.limit:
                data = stream.read(self.limit + 1 - len(body))
                if not data:
                    break
                body += data
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]  # Werkzeug ignores a length beside chunked
        return self.app(environ, start_response)


PARENT_PID_ENV = "LIVECOMMENTS_PARENT_PID"  # set by `livecomments up`: the web server dies with that process
_PR_SET_PDEATHSIG = 1


def die_with(parent_pid: int) -> None:
    """Have the kernel send SIGTERM to this process when `parent_pid`, its parent, dies (Linux);
    exit at once if it has died already."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: `up` stops it on a clean exit
        log.info("cannot ask to be stopped with the parent process on this system")
    if os.getppid() != parent_pid:
        os._exit(0)


def worker_app() -> Flask:
    """Granian's factory, called in each worker process after the fork."""
    global _worker
    if os.environ.get(PARENT_PID_ENV):
        die_with(os.getppid())  # the granian process that spawned this worker
    _worker = create_app(Settings.from_env())
    _worker.wsgi_app = BoundedChunkedBody(_worker.wsgi_app, int(_worker.config["MAX_CONTENT_LENGTH"]))  # type: ignore[method-assign]
    log.info("web worker %d ready", os.getpid())
    return _worker


def _run_worker(*args: Any, **kwargs: Any) -> None:
    """Granian's WSGI worker, then the app's own clean-up (publisher, database pool)."""
    from granian.server import Server

    try:
        Server._spawn_wsgi_worker(*args, **kwargs)
    finally:
        if _worker is not None:
            close_app(_worker)


def prepare(settings: Settings) -> None:
    """What the workers would otherwise race on: generated secrets and the migrations, once."""
    from infra.credentials import ensure_credentials
    from infra.db import create_schema, make_engine

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_credentials(settings.data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        create_schema(engine)
    finally:
        engine.dispose()


def granian_server(factory: str, host: str, port: int, workers: int, threads: int) -> Any:
    """Granian serving the WSGI app that `factory` ("module:function") builds in each worker
    process; the bare endpoint of `livecomments bench post` runs on this same configuration."""
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
    return Server(
        factory,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        websockets=False,
        # Bodies are bounded without a setting: granian streams a body to the app, which reads at
        # most MAX_CONTENT_LENGTH (8 KiB) and answers its JSON 413; granian then closes the
        # connection without buffering the rest (a 300 MB upload leaves a worker's RSS unchanged).
        respawn_failed_workers=True,
        respawn_interval=RESPAWN_INTERVAL_S,
        workers_kill_timeout=int(SHUTDOWN_TIMEOUT_S),
        log_level=LogLevels(level) if level in LogLevels.__members__ else LogLevels.info,
    )


def serve_workers(settings: Settings, workers: int | None = None) -> int:
    """`livecomments web`: granian with `workers` processes (default: `worker_count`) until
    SIGTERM/SIGINT; SIGHUP respawns the workers gracefully."""
    if parent := os.environ.get(PARENT_PID_ENV):
        die_with(int(parent))
    count = worker_count(settings if workers is None else settings.with_overrides(web_workers=workers))
    prepare(settings)
    put_settings(settings, os.environ)
    server = granian_server("webapp.server:worker_app", settings.host, settings.http_port, count,
                            settings.web_threads)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host

    def announce() -> None:
        log.info("web app: %d granian worker processes, %d threads each", count, settings.web_threads)
        print(f"web app listening on http://{shown}:{settings.http_port}", flush=True)

    server.on_startup(announce)
    server.serve(spawn_target=_run_worker)
    return 0
