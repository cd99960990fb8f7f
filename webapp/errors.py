"""Every error as JSON: ``{"error": {"code": "...", "message": "..."}}`` with the contract's status.

Views raise ApiError; werkzeug's own errors (404 no route, 405, 413) and anything
unexpected (500, never a traceback) are turned into the same shape here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from flask import Flask, Response, g, has_request_context
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger("livecomments.webapp")

# The code that goes with each status unless a view says something more precise.
CODES: Mapping[int, str] = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "rejected",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}

# Database errors that mean "cannot reach or write the database now", not a bug.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)

# Redis errors that mean "cannot reach Redis now" (down, frozen past the client's timeout, still
# loading after a restart), not a bug. Only the rate limit lets them reach a view (the recent
# cache reads as a miss instead), and it is checked before the insert: nothing is recorded.
REDIS_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    redis_exc.ConnectionError,
    redis_exc.TimeoutError,
)


class ApiError(Exception):
    """Raise from a view to answer with an error status and body."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str) -> ApiError:
    return ApiError(400, CODES[400], message)


def not_found(message: str) -> ApiError:
    return ApiError(404, CODES[404], message)


def unavailable(message: str) -> ApiError:
    return ApiError(503, CODES[503], message, {"Retry-After": "1"})


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    if has_request_context():
        g.error_code = code  # for the metrics: rejections by reason
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response(body, status=status, headers=dict(headers or {}), mimetype="application/json")


def _api_error(e: ApiError) -> Response:
    return error_response(e.status, e.code, e.message, e.headers)


def _http_error(e: HTTPException) -> Response:
    status = e.code or 500
    headers = {k: v for k, v in e.get_headers() if k.lower() in ("allow", "retry-after", "www-authenticate")}
    message = e.description or e.name
    return error_response(status, CODES.get(status, "error"), message, headers)


def _database_unavailable(e: Exception) -> Response:
    log.warning("database unavailable: %s", e)
    return _api_error(unavailable("the database is unavailable; try again"))


def _redis_unavailable(e: Exception) -> Response:
    log.warning("redis unavailable: %s", e)
    return _api_error(unavailable("the rate limit cannot be checked now; nothing was recorded, try again"))


def _internal_error(e: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(500, CODES[500], "internal error")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    for exc_type in UNAVAILABLE_ERRORS:
        app.register_error_handler(exc_type, _database_unavailable)
    for exc_type in REDIS_UNAVAILABLE_ERRORS:
        app.register_error_handler(exc_type, _redis_unavailable)
    app.register_error_handler(Exception, _internal_error)
