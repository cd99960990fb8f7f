"""Reading request bodies and query strings by the contract's rules, and writing JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from flask import Response, request
from pydantic import BaseModel, ValidationError

from livecomments.validation import FieldError, check_id
from webapp.errors import ApiError, bad_request

M = TypeVar("M", bound=BaseModel)

_UINT_RE = re.compile(r"[0-9]{1,19}")


def json_response(doc: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status=status, headers=dict(headers or {}), mimetype="application/json")


def read_json_object() -> dict[str, Any]:
    """The body as a JSON object: 413 beyond MAX_CONTENT_LENGTH, 400 unless strict UTF-8 JSON object."""
    raw = request.get_data(cache=False)  # raises RequestEntityTooLarge (413)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request("the body must be valid UTF-8 JSON") from exc
    if not isinstance(doc, dict):
        raise bad_request("the body must be a JSON object")
    return doc


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def validate(model: type[M], doc: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise bad_request(_describe(exc)) from exc


def parse_body(model: type[M]) -> M:
    return validate(model, read_json_object())


def field_error(exc: FieldError) -> ApiError:
    return bad_request(str(exc))


def path_id(field: str, value: str) -> str:
    """A video or user id taken from the path: 400 before any lookup if it breaks the rule."""
    try:
        return check_id(field, value)
    except FieldError as exc:
        raise field_error(exc) from exc


def query_args(model: type[M], integer_fields: frozenset[str]) -> M:
    """Query parameters named by ``model``; integers must be plain decimal digits."""
    raw: dict[str, Any] = {}
    for name in model.model_fields:
        value = request.args.get(name)
        if value is None:
            continue
        if name in integer_fields:
            if not _UINT_RE.fullmatch(value):
                raise bad_request(f"{name}: must be a non-negative integer")
            raw[name] = int(value)
        else:
            raw[name] = value
    return validate(model, raw)
