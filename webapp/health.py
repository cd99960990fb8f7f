"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from infra.leases import bridge_coverage
from webapp import store
from webapp.apidoc import operation
from webapp.errors import CODES
from webapp.extensions import app_state, db
from webapp.jsonio import json_response
from webapp.schemas import Health, NotReady, Readiness

log = logging.getLogger("livecomments.webapp.health")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@operation("The process is up", responses={200: Health}, tags=["operations"])
def healthz() -> Response:
    return json_response({"status": "ok"})


def _database_check() -> bool:
    try:
        store.ping()
    except SQLAlchemyError as exc:
        log.warning("readiness: database check failed: %s", exc)
        return False
    return True


def _bridge_check() -> bool:
    """Every partition of the videos has a bridge holding its lease, connected to the broker."""
    try:
        found = bridge_coverage(db.session())
    except SQLAlchemyError as exc:
        log.warning("readiness: bridge check failed: %s", exc)
        return False
    finally:
        db.session.rollback()
    if not found.ok:
        log.warning("readiness: %s", found.detail)
    return found.ok


@bp.get("/readyz")
@operation("A comment posted now would go through", responses={200: Readiness, 503: NotReady}, tags=["operations"])
def readyz() -> Response:
    """200 when the database answers, the broker connection is up and a bridge holds every
    partition (infra.leases); 503 naming what failed.
    Both bodies carry ``checks``: each part, true when it answers (docs/contract.md)."""
    checks = {
        "database": _database_check(),
        "broker": app_state().publisher.is_connected(),
        "bridge": _bridge_check(),
    }
    failed = sorted(name for name, ok in checks.items() if not ok)
    if not failed:
        return json_response({"status": "ready", "checks": checks})
    message = f"not ready: {', '.join(failed)} unavailable"
    return json_response({"error": {"code": CODES[503], "message": message}, "checks": checks}, 503)


@bp.get("/metrics")
@operation("Prometheus metrics", responses={200: None}, content_type="text/plain", tags=["operations"])
def metrics() -> Response:
    return Response(app_state().metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
