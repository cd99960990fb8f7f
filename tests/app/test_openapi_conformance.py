"""The API agrees with its OpenAPI document (/api/openapi.json), as schemathesis checks it.

`test_schemathesis_finds_no_disagreement` runs what `schemathesis run --checks all` runs (every
phase: examples, coverage, fuzzing, stateful; every check; positive and negative data) over
every operation of the app, served on a loopback port, with a fixed seed and few examples per
operation, so that CI repeats the same run in well under a minute. The other tests pin what
that run found and fixed, one by one, so that a failure names it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from schemathesis import engine
from schemathesis.engine import events
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.support.web import Auth, MakeApp, add_comment, add_video, memory_publisher, token
from webapp import MAX_BODY_BYTES

SEED = 20261124
NEGATIVE_REFUSALS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
MAX_EXAMPLES = 12  # per operation and phase: ~15 s here; the defaults (100) find nothing more

# Where the API follows the contract and a check's heuristic cannot know it: each names its
# operations ("METHOD path": several include-* keys in one entry would match either) and one check.
EXEMPTIONS: list[dict[str, Any]] = [
    {
        # The contract's 404 for "no such comment": a pin names an approved comment in its body,
        # and the stateful phase pins a random id right after POST /api/videos; the check takes
        # the 404 for the new video missing (GET /api/videos/{v} shows it is not).
        "include-name": "PUT /api/videos/{video_id}/pin",
        "checks": {"ensure_resource_availability": {"enabled": False}},
    },
    {
        # The documented 503 of readiness (and of the page's MQTT.js before `npm ci`) is the
        # answer these operations exist to give, not a fault.
        "include-name": ["GET /readyz", "GET /static/vendor/mqtt.esm.js"],
        "checks": {"not_a_server_error": {"expected-statuses": ["1xx", "2xx", "3xx", "4xx", 503]}},
    },
    {
        # The contract's 422: a text with one of the video's blocked terms (set by an earlier
        # request of the run) is refused by moderation; no schema can say which terms are blocked.
        "include-name": "POST /api/videos/{video_id}/comments",
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 422, 429, "5xx"]}
        },
    },
    {
        # The contract's 400s no schema can say: a replay window is from_ms < to_ms <= from_ms + 600000,
        # a page's `before` names an existing video, a `started_ts` is not in the future.
        "include-name": ["GET /api/videos/{video_id}/replay", "GET /api/videos", "POST /api/videos"],
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", 400, 401, 403, 404, 409, 429, "5xx"]}
        },
    },
]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture
def dev_app(make_app: MakeApp) -> Flask:
    """The app with every route, the development sign-in included."""
    return make_app(dev=True)


@pytest.fixture
def served(dev_app: Flask) -> Iterator[str]:
    """The app behind a real HTTP server on a free loopback port (schemathesis speaks HTTP to it)."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, dev_app, threaded=False, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="openapi-conformance", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def _config() -> schemathesis.Config:
    admin = token("root", "Root", roles=["admin", "moderator"])
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {admin}"},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {
                "enabled": True,
                # schemathesis's list of refusals, plus 413: a body over the limit is refused before
                # it is read (a list of 501 blocked terms can be either 400 or 413, by its size).
                "negative_data_rejection": {"expected-statuses": NEGATIVE_REFUSALS},
            },
            "phases": {"enabled": True},
            "operations": EXEMPTIONS,
        }
    )


def _names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _sent(recorder: Any, case_id: str) -> str:
    node = recorder.cases.get(case_id)
    if node is None:
        return "?"
    case = node.value
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    return f"{case.method} {case.formatted_path} query={case.query} headers={headers} body={case.body!r:.200}"


def _failures(stream: Any) -> tuple[list[str], list[str], set[str]]:
    """What the run reported: one line per (operation, check, failure), errors, what ran."""
    found: set[str] = set()
    errors: list[str] = []
    labels: set[str] = set()
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            labels.add(event.recorder.label)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    response = event.recorder.find_response(case_id=case_id)
                    answer = "" if response is None else f" -> {response.status_code} {response.content[:160]!r}"
                    found.add(f"{event.recorder.label}: {check.name}: {failure.title}: {failure.message[:300]}{answer}"
                              f" (sent {_sent(event.recorder, case_id)})")
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()[:500]}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}")
    return sorted(found), errors, labels


def test_schemathesis_finds_no_disagreement(served: str, dev_app: Flask) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/api/openapi.json", config=_config())
    failures, errors, ran = _failures(engine.from_schema(schema).execute())
    assert errors == []
    assert failures == [], "\n".join(failures)
    operations = {f"{method.upper()} {path}" for path, method, _ in _operations(_doc(dev_app.test_client()))}
    assert len(operations) >= 28 and "POST /api/dev/token" in operations
    # schemathesis leaves out the operation that served it the document
    assert ran == operations - {"GET /api/openapi.json"} | {"Stateful tests"}
    exempted = {name for entry in EXEMPTIONS for name in _names(entry["include-name"])}
    assert exempted <= operations


# --- what the run found, one by one ----------------------------------------------------------------


def _doc(client: FlaskClient) -> dict[str, Any]:
    doc = client.get("/api/openapi.json").get_json()
    assert isinstance(doc, dict)
    return doc


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_every_path_parameter_has_its_pattern_or_enum(dev_app: Flask) -> None:
    doc = _doc(dev_app.test_client())
    params = [p for _, _, op in _operations(doc) for p in op.get("parameters", []) if p["in"] == "path"]
    assert params
    for p in params:
        assert "pattern" in p["schema"] or "enum" in p["schema"], p
    kinds = {tuple(p["schema"]["enum"]) for p in params if p["name"] == "kind"}
    assert kinds == {("like", "love", "haha", "wow", "sad", "angry")}


def test_an_invalid_path_parameter_is_a_documented_400(dev_app: Flask, auth: Auth) -> None:
    client = dev_app.test_client()
    doc = _doc(client)
    op = doc["paths"]["/api/videos/{video_id}/audit"]["get"]
    resp = client.get("/api/videos/not%20an%20id/audit", headers=auth.moderator())
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid"
    assert "400" in op["responses"]


def test_optional_bodies_are_not_marked_required(dev_app: Flask) -> None:
    doc = _doc(dev_app.test_client())
    optional = {
        ("/api/comments/{comment_id}", "delete"),
        ("/api/comments/{comment_id}/reports", "post"),
        ("/api/comments/{comment_id}/reject", "post"),
        ("/api/videos/{video_id}/bans/{user_id}", "put"),
    }
    bodies = {(path, method): op["requestBody"] for path, method, op in _operations(doc) if "requestBody" in op}
    assert optional <= set(bodies)
    for key, body in bodies.items():
        assert body["required"] is (key not in optional), key


def test_the_page_documents_its_404_as_html(dev_app: Flask) -> None:
    client = dev_app.test_client()
    page = _doc(client)["paths"]["/videos/{video_id}"]["get"]["responses"]
    assert set(page["404"]["content"]) == {"text/html"} == set(page["200"]["content"])
    assert client.get("/videos/nope").mimetype == "text/html"


def test_readiness_bodies_are_documented(dev_app: Flask) -> None:
    """docs/contract.md: the 503 is the error body plus "checks", each part a bool."""
    client = dev_app.test_client()
    doc = _doc(client)
    responses = doc["paths"]["/readyz"]["get"]["responses"]
    not_ready = responses["503"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = doc["components"]["schemas"][not_ready]
    assert set(schema["required"]) == {"error", "checks"}
    assert schema["properties"]["checks"]["additionalProperties"] == {"type": "boolean"}
    memory_publisher(dev_app).connected = False
    resp = client.get("/readyz")
    assert resp.status_code == 503 and set(resp.get_json()) == {"error", "checks"}
    assert resp.get_json()["error"]["code"] == "unavailable"
    checks = resp.get_json()["checks"]
    assert checks["database"] is True and checks["broker"] is False
    assert all(isinstance(ok, bool) for ok in checks.values())


def test_an_integral_json_number_is_an_integer(dev_app: Flask, auth: Auth) -> None:
    """JSON Schema's "integer" includes 30.0; the strict models took only 30."""
    add_video(dev_app, "v1")
    client = dev_app.test_client()
    resp = client.patch("/api/videos/v1/settings", json={"slow_mode_s": 30.0}, headers=auth.moderator())
    assert resp.status_code == 200 and resp.get_json()["slow_mode_s"] == 30
    resp = client.patch("/api/videos/v1/settings", json={"slow_mode_s": 30.5}, headers=auth.moderator())
    assert resp.status_code == 400
    resp = client.patch("/api/videos/v1/settings", json={"slow_mode_s": "30"}, headers=auth.moderator())
    assert resp.status_code == 400


def _filled(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


def test_every_body_over_the_limit_is_the_documented_json_413(dev_app: Flask, auth: Auth) -> None:
    """Every operation that reads a body documents the 413 and answers it with the contract's
    JSON error once the body is over the limit (the server's own limit in front of the app:
    tests/integration/test_body_limits.py)."""
    add_video(dev_app, "v1")
    values = {"video_id": "v1", "comment_id": add_comment(dev_app, "v1", 1), "user_id": "u2", "kind": "like"}
    client = dev_app.test_client()
    doc = _doc(client)
    headers = {**auth.headers("root", "Root", roles=["admin", "moderator"]), "Content-Type": "application/json"}
    body = b'{"text": "' + b"x" * MAX_BODY_BYTES + b'"}'
    with_body = [(path, method, op) for path, method, op in _operations(doc) if "requestBody" in op]
    assert len(with_body) >= 10
    for path, method, op in with_body:
        documented = op["responses"]["413"]["content"]["application/json"]["schema"]
        assert documented == {"$ref": "#/components/schemas/ErrorBody"}, (path, method)
        resp = client.open(_filled(path, values), method=method.upper(), data=body, headers=headers)
        assert resp.status_code == 413, (path, method, resp.get_data(as_text=True))
        error = resp.get_json()["error"]
        assert set(resp.get_json()) == {"error"} and set(error) == {"code", "message"}
        assert error["code"] == "payload_too_large"


def test_the_text_rules_are_in_the_document(dev_app: Flask) -> None:
    """A text the server trims to nothing, or with a control character inside, is not
    documented as valid (schemathesis sent both, and got 400s for "valid" bodies)."""
    doc = _doc(dev_app.test_client())
    text = doc["components"]["schemas"]["NewComment"]["properties"]["text"]
    pattern = re.compile(text["pattern"])
    assert pattern.fullmatch("  hello\nworld ") and pattern.fullmatch("x" * 500)
    assert not pattern.fullmatch("x" * 501) and not pattern.fullmatch(" \u3000 ")
    assert not pattern.fullmatch("a\x9fb") and not pattern.fullmatch("a\tb")
