"""The OpenAPI document, generated from the code: each view carries an ``@operation``
(summary, request/query models, responses), and ``build_spec`` walks the app's URL map."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, TypeVar

from apispec import APISpec
from flask import Flask
from pydantic import BaseModel
from werkzeug.routing import Rule

from webapp.schemas import ID_PATTERN, ULID_PATTERN, ErrorBody

F = TypeVar("F", bound=Callable[..., Any])
Auth = Literal["none", "optional", "required"]

JSON = "application/json"
SCHEMA_REF = "#/components/schemas/{model}"
PATH_PARAMS: Mapping[str, Mapping[str, str]] = {
    "video_id": {"type": "string", "pattern": ID_PATTERN},
    "user_id": {"type": "string", "pattern": ID_PATTERN},
    "comment_id": {"type": "string", "pattern": ULID_PATTERN},
}
_RULE_ARG_RE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    max_length: int | None = None


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: Auth = "none"
    headers: tuple[Header, ...] = ()
    content_type: str = JSON
    description: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


_OPERATIONS: dict[Callable[..., Any], Operation] = {}


def operation(
    summary: str,
    *,
    responses: Mapping[int, type[BaseModel] | None],
    request: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    auth: Auth = "none",
    headers: Iterable[Header] = (),
    content_type: str = JSON,
    tags: Iterable[str] = (),
) -> Callable[[F], F]:
    """Describe a view for the OpenAPI document (put it under the route decorator)."""

    def register(view: F) -> F:
        _OPERATIONS[view] = Operation(
            summary=summary,
            responses=dict(responses),
            request=request,
            query=query,
            auth=auth,
            headers=tuple(headers),
            content_type=content_type,
            description=inspect.getdoc(view),
            tags=tuple(tags),
        )
        return view

    return register


def operation_of(view: Callable[..., Any]) -> Operation:
    """The view's declared operation, or a bare one from its docstring."""
    found = _OPERATIONS.get(view)
    if found is not None:
        return found
    doc = (view.__doc__ or view.__name__).strip().splitlines()[0]
    return Operation(summary=doc, responses={200: None})


class _Schemas:
    """Registers pydantic models (and their nested definitions) as components once."""

    def __init__(self, spec: APISpec) -> None:
        self._spec = spec
        self._names: set[str] = set()

    def _add(self, name: str, schema: dict[str, Any]) -> None:
        if name not in self._names:
            self._names.add(name)
            self._spec.components.schema(name, schema)

    def ref(self, model: type[BaseModel]) -> dict[str, str]:
        name = model.__name__
        if name not in self._names:
            schema = model.model_json_schema(ref_template=SCHEMA_REF)
            for def_name, definition in schema.pop("$defs", {}).items():
                self._add(def_name, definition)
            self._add(name, schema)
        return {"$ref": SCHEMA_REF.format(model=name)}


def openapi_path(rule: Rule) -> str:
    return _RULE_ARG_RE.sub(r"{\1}", rule.rule)


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    return [
        {"name": arg, "in": "path", "required": True, "schema": dict(PATH_PARAMS.get(arg, {"type": "string"}))}
        for arg in sorted(rule.arguments)
    ]


def _without_null(prop: Mapping[str, Any]) -> dict[str, Any]:
    """``X | None`` query fields: an absent parameter, not a null one."""
    prop = {k: v for k, v in prop.items() if k != "title" and not (k == "default" and v is None)}
    branches = [b for b in prop.get("anyOf", ()) if b != {"type": "null"}]
    if "anyOf" in prop and len(branches) == 1:
        del prop["anyOf"]
        prop.update(branches[0])
    return prop


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    required = set(schema.get("required", []))
    params = []
    for name, raw in schema.get("properties", {}).items():
        prop = _without_null(raw)
        description = prop.pop("description", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _header_parameters(headers: Iterable[Header]) -> list[dict[str, Any]]:
    params = []
    for h in headers:
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if h.max_length is not None:
            schema["maxLength"] = h.max_length
        params.append(
            {"name": h.name, "in": "header", "required": False, "description": h.description, "schema": schema}
        )
    return params


def _response(status: int, model: type[BaseModel] | None, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if status >= 400:
        doc["content"] = {JSON: {"schema": schemas.ref(model or ErrorBody)}}
    elif model is not None:
        doc["content"] = {op.content_type: {"schema": schemas.ref(model)}}
    elif op.content_type != JSON:
        doc["content"] = {op.content_type: {"schema": {"type": "string"}}}
    return doc


def _operation(rule: Rule, method: str, op: Operation, schemas: _Schemas, single: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": rule.endpoint if single else f"{rule.endpoint}.{method.lower()}",
        "summary": op.summary,
        "responses": {str(s): _response(s, m, op, schemas) for s, m in sorted(op.responses.items())},
    }
    if op.description:
        doc["description"] = op.description
    if op.tags:
        doc["tags"] = list(op.tags)
    params = _path_parameters(rule) + _header_parameters(op.headers)
    if op.query is not None:
        params += _query_parameters(op.query)
    if params:
        doc["parameters"] = params
    if op.request is not None:
        doc["requestBody"] = {"required": True, "content": {JSON: {"schema": schemas.ref(op.request)}}}
    if op.auth == "required":
        doc["security"] = [{"bearerAuth": []}]
    elif op.auth == "optional":
        doc["security"] = [{}, {"bearerAuth": []}]
    return doc


def build_spec(app: Flask, title: str, version: str, description: str = "") -> dict[str, Any]:
    """An OpenAPI 3.1 document listing every route of ``app`` with each of its methods."""
    spec = APISpec(title=title, version=version, openapi_version="3.1.0", info={"description": description})
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    schemas = _Schemas(spec)
    schemas.ref(ErrorBody)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        op = operation_of(app.view_functions[rule.endpoint])
        operations = {m.lower(): _operation(rule, m, op, schemas, len(methods) == 1) for m in methods}
        spec.path(path=openapi_path(rule), operations=operations)
    return spec.to_dict()
