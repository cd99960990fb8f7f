"""The OpenAPI document, generated from the code: each view carries an ``@operation``
(summary, request/query models, responses), and ``build_spec`` walks the app's URL map.

What every view gets from the shared code is documented here once, so no operation can forget
it: a JSON body may be refused as invalid (400) or too large (413, webapp.jsonio), a token as
missing or bad (401, webapp.auth); every error is the contract's JSON error body unless the
operation says otherwise (the viewer page answers its 404 in HTML)."""

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

from webapp.schemas import ID_PATTERN, REACTION_KINDS, ULID_PATTERN, ErrorBody

F = TypeVar("F", bound=Callable[..., Any])
Auth = Literal["none", "optional", "required"]

JSON = "application/json"
SCHEMA_REF = "#/components/schemas/{model}"
# Path parameters by name, unless the operation describes its own (``path=``).
PATH_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "video_id": {"type": "string", "pattern": ID_PATTERN},
    "user_id": {"type": "string", "pattern": ID_PATTERN},
    "comment_id": {"type": "string", "pattern": ULID_PATTERN},
    "kind": {"type": "string", "enum": list(REACTION_KINDS)},
}
BODY_ERRORS = (400, 413)  # webapp.jsonio: not a JSON object of the model, or over MAX_CONTENT_LENGTH
AUTH_ERRORS = (401,)  # webapp.auth: a missing (where required) or bad token
_RULE_ARG_RE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    max_length: int | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Content:
    """A response that is not the operation's usual one: other media types, optionally a model."""

    types: tuple[str, ...]
    model: type[BaseModel] | None = None


HTML = Content(("text/html",))
ResponseDoc = type[BaseModel] | Content | None  # a model (JSON), other content, or nothing


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, ResponseDoc]
    request: type[BaseModel] | None = None
    request_optional: bool = False
    query: type[BaseModel] | None = None
    auth: Auth = "none"
    headers: tuple[Header, ...] = ()
    path: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    content_type: str = JSON
    description: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def all_responses(self) -> dict[int, ResponseDoc]:
        """The declared responses plus those the shared code gives every such view."""
        found = dict(self.responses)
        implied = (BODY_ERRORS if self.request is not None else ()) + (AUTH_ERRORS if self.auth != "none" else ())
        for status in implied:
            found.setdefault(status, None)
        return found


_OPERATIONS: dict[Callable[..., Any], Operation] = {}


def operation(
    summary: str,
    *,
    responses: Mapping[int, ResponseDoc],
    request: type[BaseModel] | None = None,
    request_optional: bool = False,
    query: type[BaseModel] | None = None,
    auth: Auth = "none",
    headers: Iterable[Header] = (),
    path: Mapping[str, Mapping[str, Any]] | None = None,
    content_type: str = JSON,
    tags: Iterable[str] = (),
) -> Callable[[F], F]:
    """Describe a view for the OpenAPI document (put it under the route decorator).

    ``request_optional``: the view reads its body only when one is sent. ``path``: schemas of
    path parameters not in PATH_PARAMS (or described differently)."""

    def register(view: F) -> F:
        _OPERATIONS[view] = Operation(
            summary=summary,
            responses=dict(responses),
            request=request,
            request_optional=request_optional,
            query=query,
            auth=auth,
            headers=tuple(headers),
            path=dict(path or {}),
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


def _path_parameters(rule: Rule, op: Operation) -> list[dict[str, Any]]:
    def schema(arg: str) -> dict[str, Any]:
        return dict(op.path.get(arg) or PATH_PARAMS.get(arg) or {"type": "string"})

    return [{"name": arg, "in": "path", "required": True, "schema": schema(arg)} for arg in sorted(rule.arguments)]


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
        if h.pattern is not None:
            schema["pattern"] = h.pattern
        params.append(
            {"name": h.name, "in": "header", "required": False, "description": h.description, "schema": schema}
        )
    return params


def _response(status: int, model: ResponseDoc, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if isinstance(model, Content):
        schema = schemas.ref(model.model) if model.model is not None else {"type": "string"}
        doc["content"] = {media: {"schema": schema} for media in model.types}
    elif status >= 400:
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
        "responses": {str(s): _response(s, m, op, schemas) for s, m in sorted(op.all_responses().items())},
    }
    if op.description:
        doc["description"] = op.description
    if op.tags:
        doc["tags"] = list(op.tags)
    params = _path_parameters(rule, op) + _header_parameters(op.headers)
    if op.query is not None:
        params += _query_parameters(op.query)
    if params:
        doc["parameters"] = params
    if op.request is not None:
        body = {JSON: {"schema": schemas.ref(op.request)}}
        doc["requestBody"] = {"required": not op.request_optional, "content": body}
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
