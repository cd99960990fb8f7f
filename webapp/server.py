"""Serving the web app with waitress: ``serve(settings, stop)`` runs until ``stop`` is set."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from waitress import create_server, trigger, wasyncore

from livecomments.config import Settings
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
