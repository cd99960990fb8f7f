"""The bare endpoint the web app's cost is compared with: a Flask app that parses a JSON
comment and answers 202, nothing else (no auth, no validation, no database, no broker).
Served by the same server with the same workers as the web app (`serve_bare`)."""

from __future__ import annotations

import orjson
from flask import Flask, Response, request

MAX_BODY_BYTES = 8 * 1024  # as the web app's MAX_CONTENT_LENGTH


def create_app() -> Flask:
    app = Flask("livecomments-bench-bare")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.post("/api/videos/<video_id>/comments")
    def post_comment(video_id: str) -> Response:
        try:
            doc = orjson.loads(request.get_data(cache=False))
        except orjson.JSONDecodeError:
            return Response(b'{"error":"bad_request"}', status=400, mimetype="application/json")
        body = {"video_id": video_id, "accepted": isinstance(doc, dict)}
        return Response(orjson.dumps(body), status=202, mimetype="application/json")

    @app.get("/readyz")
    def ready() -> Response:
        return Response(b'{"ready":true}', mimetype="application/json")

    return app


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.bare_app --port P --workers N --threads T`: on the web app's server setup."""
    import argparse
    import logging

    from wiring.web import granian_server

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=16)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    granian_server("bench.bare_app:create_app", args.host, args.port, args.workers, args.threads).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
