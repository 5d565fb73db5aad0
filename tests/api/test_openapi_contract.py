"""/openapi.json documents every operation the app serves, and says the truth about who may call it.

Read from the served spec and the app's own url_map, so a route added without documentation, or
an operation that claims to be public but wants a token (or the reverse), fails here.
"""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

ERROR_REF = "#/components/schemas/ErrorEnvelope"
FILE_TYPES = {"text/csv", "text/calendar", "application/pdf",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(app):
    r = app.test_client().get("/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_the_spec_is_valid_openapi(spec):
    validate(spec)


def test_every_api_route_is_documented(app, spec):
    served = {(_openapi_path(rule.rule), m.lower()) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") for m in rule.methods & {"GET", "POST", "PUT", "PATCH", "DELETE"}}
    documented = {(path, method) for path, method, _ in _operations(spec)}
    assert served - documented == set(), "served but not in /openapi.json"
    assert {(p, m) for p, m in documented if p.startswith("/api/")} - served == set(), "documented, not served"


def test_every_operation_documents_its_success_and_its_errors(spec):
    problems = []
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation.get("responses", {})
        if "default" in responses:
            problems.append(f"{where}: 'default' response hides undocumented statuses")
        ok = {s: r for s, r in responses.items() if s.startswith("2")}
        if not ok:
            problems.append(f"{where}: no 2xx response")
        for status, response in ok.items():
            content = response.get("content")
            if status == "204":
                continue
            if not content:
                problems.append(f"{where} {status}: no media type")
                continue
            for media, body in content.items():
                if media in FILE_TYPES or media.startswith("text/"):
                    continue
                if "schema" not in body:
                    problems.append(f"{where} {status} {media}: no schema")
        errors = {s: r for s, r in responses.items() if s[0] in "45"}
        if not errors:
            problems.append(f"{where}: no error response")
        for status, response in errors.items():
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != ERROR_REF:
                problems.append(f"{where} {status}: not the error envelope")
        if operation.get("security") != [] and "401" not in responses:
            problems.append(f"{where}: needs a token but documents no 401")
        if "{" in path and "404" not in responses:
            problems.append(f"{where}: has a path id but documents no 404")
        if ("requestBody" in operation or any(p.get("in") == "query" for p in operation.get("parameters", []))) \
                and "422" not in responses:
            problems.append(f"{where}: takes input but documents no 422")
        declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}
        declared |= {p["name"] for p in spec["paths"][path].get("parameters", []) if p.get("in") == "path"}
        if set(re.findall(r"{([^}]+)}", path)) != declared:
            problems.append(f"{where}: path parameters {declared} do not match the path")
    assert not problems, "\n".join(problems)


def test_public_operations_say_so_and_the_rest_want_a_token(app, spec):
    """security: [] exactly where an anonymous call is not refused with 401."""
    client = app.test_client()
    wrong = []
    for path, method, operation in _operations(spec):
        url = re.sub(r"{[^}]+}", "1", path.replace("{slug}", "kotovsk-information-society"))
        r = client.open(url, method=method.upper(), json={} if method != "get" else None)
        public = operation.get("security") == []
        if public and r.status_code == 401:
            wrong.append(f"{method.upper()} {path}: says public, answered 401")
        if not public and r.status_code != 401:
            wrong.append(f"{method.upper()} {path}: says it needs a token, answered {r.status_code} without one")
    assert not wrong, "\n".join(wrong)


def test_the_documented_public_set_is_not_empty_nor_everything(spec):
    public = [(p, m) for p, m, o in _operations(spec) if o.get("security") == []]
    assert ("/healthz", "get") in public
    assert ("/api/v1/requests", "get") not in public
