"""The web app's process: `livecomments web`, and the web part of `livecomments up`.

`build_web(settings)` opens what the app needs (the database engine, the MQTT publisher, Redis
for rate limits and the recent-comments cache, the token keys) once, logs each choice, and
hands it to `webapp.create_app`, which opens nothing; `close_web(app)` releases it all.
`prepare_data(settings)` (generated secrets, the migrations) runs once per start, before any
worker: never inside an app.

`serve_workers(settings)` is `livecomments web`: granian (a Rust HTTP server) runs N worker
processes on one shared socket, each building its own app after the fork. SIGHUP respawns the
workers one by one, each new one before its old one stops; SIGTERM/SIGINT stop them all.
Granian was chosen by measured server CPU per request (`python -m bench.servers`,
docs/operations.md). `livecomments up` runs the same server as a child process (`--workers 1`,
started with PARENT_PID_ENV so that it dies with `up` even when `up` is killed with SIGKILL).
Its limits under abuse and overload (`granian_server`, `webapp.admission`) are in
docs/operations.md, "HTTP limits".
"""

from __future__ import annotations

import ctypes
import io
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy.engine import make_url

from broker.mosquitto.rlimit import raise_fd_limit
from infra import credentials
from infra.db import create_schema, make_engine
from infra.recent_cache import RecentCache
from livecomments.config import Settings, put_settings
from livecomments.tokens import VerifiedTokens
from moderation.ratelimit import MemoryRateLimiter, RateLimiter
from moderation.screen import warm_up
from webapp import WebDeps, create_app
from webapp.admission import Admission, AdmissionLimits
from webapp.errors import UNAVAILABLE_ERRORS
from webapp.extensions import EXTENSION_KEY, db
from webapp.group_commit import GroupCommit
from webapp.live_reactions import LiveReactionBuffer
from webapp.posting import PendingComment, insert_pending
from webapp.publisher import MqttPublisher, Publisher

log = logging.getLogger("livecomments.web")

SHUTDOWN_TIMEOUT_S = 5.0  # on SIGTERM: how long a worker may finish its requests


def prepare_data(settings: Settings) -> None:
    """What every process of a deployment would otherwise race on, once per start: the data
    dir's generated secrets and the database migrations."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    credentials.ensure_credentials(settings.data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        create_schema(engine)
    finally:
        engine.dispose()


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _rate_limiter(settings: Settings) -> RateLimiter:
    """Redis when configured (shared by every web process), else this process's own store."""
    if settings.redis_url:
        from infra import redis_client
        from moderation.ratelimit_redis import RedisRateLimiter

        log.info("rate limits and slow mode: Redis at %s", _shown(settings.redis_url))
        return RedisRateLimiter(redis_client.connect(settings.redis_url))
    log.info("rate limits and slow mode: in this process (no LIVECOMMENTS_REDIS_URL)")
    return MemoryRateLimiter()


def build_web_deps(settings: Settings, *, publisher: Publisher | None = None) -> WebDeps:
    """Open what one web process needs; a test passes its own `publisher`."""
    url = settings.effective_database_url
    engine = make_engine(url)  # prepared: WAL and BEGIN IMMEDIATE on SQLite
    log.info("database: %s", _shown(url))
    if publisher is None:
        publisher = MqttPublisher(settings)
    secret = credentials.hs256_secret(settings)
    posts: GroupCommit[PendingComment, bool] = GroupCommit(
        # insert_pending is one statement on the driver's cursor: a lone post on PostgreSQL is its own
        # transaction (one round trip instead of BEGIN, INSERT, COMMIT).
        engine, insert_pending, unavailable=UNAVAILABLE_ERRORS, name="post-commit", lone_autocommit=True,
    )
    deps = WebDeps(
        engine=engine,
        publisher=publisher,
        tokens=VerifiedTokens(secret, settings.jwt_public_key),
        token_secret=secret,
        posts=posts,
        limiter=_rate_limiter(settings),
        live_reactions=LiveReactionBuffer(publisher),
        recent_cache=RecentCache.from_url(settings.redis_url),
    )
    if deps.recent_cache is not None:
        log.info("recent comments: cached in Redis")
    for service in (publisher, posts, deps.live_reactions):
        service.start()
    return deps


def build_web(
    settings: Settings, *, publisher: Publisher | None = None, test_config: Mapping[str, Any] | None = None
) -> Flask:
    """One web process's app, on what `build_web_deps` opened (released by `close_web`)."""
    deps = build_web_deps(settings, publisher=publisher)
    app = create_app(settings, deps, test_config=test_config)
    app.extensions[_DEPS_KEY] = deps
    return app


_DEPS_KEY = "livecomments.deps"


def close_web(app: Flask) -> None:
    """Release what `build_web` opened: the post committer, the live-reaction flusher, the
    publisher's connection and the database pool (each once, in that order)."""
    deps = app.extensions.pop(_DEPS_KEY, None)
    if not isinstance(deps, WebDeps):
        return
    deps.posts.stop()
    deps.live_reactions.stop()
    deps.publisher.stop()
    with app.app_context():
        db.session.remove()
    deps.engine.dispose()


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


# How long a thread may keep the GIL while others wait for it (Python's default: 5 ms). A worker's
# pool holds thousands of threads (webapp.admission), and under overload hundreds of them wait for
# the GIL at once, each waking every interval to ask for it: at 5 ms that churn starved the
# requests at work (202s/s fell to a fraction, `bench overload`). Requests here hold the GIL for
# well under a millisecond between waits, so a longer interval delays almost nothing else.
SWITCH_INTERVAL_S = 0.05
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
    settings = Settings.from_env()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    warm_up()  # before the first request, not in it (inherited from the parent: nothing to do)
    _worker = build_web(settings)
    limit = int(_worker.config["MAX_CONTENT_LENGTH"])
    _worker.wsgi_app = Admission(  # type: ignore[method-assign]
        BoundedChunkedBody(_worker.wsgi_app, limit), AdmissionLimits.for_threads(settings.web_threads), limit,
        registry=_worker.extensions[EXTENSION_KEY].metrics.registry,
    )
    log.info("web worker %d ready", os.getpid())
    return _worker


def _run_worker(*args: Any, **kwargs: Any) -> None:
    """Granian's WSGI worker, then the app's own clean-up (publisher, database pool)."""
    from granian.server import Server

    try:
        Server._spawn_wsgi_worker(*args, **kwargs)
    finally:
        if _worker is not None:
            close_web(_worker)


class _IntendedThreadCount(logging.Filter):
    """Granian warns when a worker's threads outnumber twice the cores; ours are many by design
    (each mostly waits on the group commit or the database, docs/operations.md)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "seems quite high compared to the number of CPU cores" not in record.getMessage()


# HTTP limits (docs/operations.md, "HTTP limits"): what a connection may cost before it sends a request.
HEADER_READ_TIMEOUT_S = 10  # a request's headers, and an idle kept-alive connection, get this long
MAX_HEADER_BUFFER = 32 * 1024  # a request head may not be larger (hyper answers 431)
MAX_CONNECTIONS = 10_000  # open connections per worker; beyond, new ones wait in the listen backlog
LISTEN_BACKLOG = 4096  # connections the kernel holds for accept (capped by net.core.somaxconn)
FD_RESERVE = 256  # descriptors a worker keeps for its database, broker and Redis connections and files


def connection_cap(fd_limit: int) -> int:
    """Open connections per worker: MAX_CONNECTIONS, or fewer when the descriptors would not hold them."""
    return max(64, min(MAX_CONNECTIONS, fd_limit - FD_RESERVE))


def granian_server(factory: str, host: str, port: int, workers: int, threads: int) -> Any:
    """Granian serving the WSGI app that `factory` ("module:function") builds in each worker
    process, `threads` requests at work per worker (webapp.admission sizes the pool around it);
    the bare endpoint of `livecomments bench post` runs on this same configuration. Raises this
    process's descriptor limit (its workers inherit it) to the hard limit first."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
    logging.getLogger("_granian").addFilter(_IntendedThreadCount())
    connections = connection_cap(raise_fd_limit())
    return Server(
        factory,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=AdmissionLimits.for_threads(threads).pool_threads,
        # HTTP/1.1 only: with HTTP/2 allowed, a connection that sends nothing waits for its
        # protocol to be sniffed with no timeout at all, and HTTP/2 has no header timeout.
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_S * 1000, keep_alive=True,
                                     max_buffer_size=MAX_HEADER_BUFFER),
        # Granian's backpressure caps connections (not requests) per worker: each holds a permit
        # from accept to close, idle or not (granian's default, backlog / workers, let 1,024 idle
        # sockets lock everyone out).
        backpressure=connections,
        backlog=LISTEN_BACKLOG,
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
    prepare_data(settings)
    put_settings(settings, os.environ)
    warm_up()  # here, before the workers are forked: each inherits it
    server = granian_server("wiring.web:worker_app", settings.host, settings.http_port, count,
                            settings.web_threads)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host

    def announce() -> None:
        limits = AdmissionLimits.for_threads(settings.web_threads)
        log.info("web app: %d granian worker processes, each %d requests at work, %d waiting at most %g s, "
                 "%d bodies read at once, %d connections", count, limits.active, limits.waiting, limits.wait_s,
                 limits.body_readers, server.backpressure)
        print(f"web app listening on http://{shown}:{settings.http_port}", flush=True)

    server.on_startup(announce)
    server.serve(spawn_target=_run_worker)
    return 0
