"""The OpenAPI document, built from the app's routes on first request."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from webapp.apidoc import build_spec, operation
from webapp.extensions import app_state
from webapp.jsonio import json_response

bp = Blueprint("openapi", __name__)

TITLE = "livecomments"
VERSION = "1"
DESCRIPTION = (
    'Live comments under live videos. Errors are {"error": {"code", "message"}}. '
    "Live delivery is over MQTT (live/videos/{v}/...); see the contract."
)


@bp.get("/api/openapi.json")
@operation("This document", responses={200: None}, tags=["operations"])
def openapi_json() -> Response:
    state = app_state()
    if state.openapi is None:
        state.openapi = build_spec(current_app, TITLE, VERSION, DESCRIPTION)
    return json_response(state.openapi)
