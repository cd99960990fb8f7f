"""Serving the web app.

Production serves the app with granian, assembled in wiring/web.py (`livecomments web`).
`make_server`/`shutdown_server`/`serve` run waitress in a thread of this process (tests).
"""

from __future__ import annotations

import io
import logging
import threading
from typing import Any

from flask import Flask
from waitress import create_server, trigger, wasyncore

from livecomments.config import Settings

log = logging.getLogger("livecomments.webapp.server")

# waitress buffers a whole body before the app sees it: bound that. Bodies between 8 KiB
# and this get the app's JSON 413; beyond it waitress answers 413 itself.
MAX_BUFFERED_BODY = 1024 * 1024
SHUTDOWN_TIMEOUT_S = 5.0


def make_server(settings: Settings, app: Flask) -> Any:
    """A waitress server bound to settings.host:settings.http_port (not yet running)."""
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


def serve(settings: Settings, stop: threading.Event, *, app: Flask) -> int:
    """Run the web app until ``stop`` is set; then close the server (the app is the caller's)."""
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
    return 0


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


