"""Every documented endpoint and method, fuzzed from the served OpenAPI, as each demo role.

A fixed seed and a bounded number of examples keep it reproducible and short.
Checks, for every caller: never a 5xx, and the response conforms to the contract — its status is
documented for the operation, its Content-Type is one the operation documents for that status, its
body matches the documented schema, documented response headers are present — and the Content-Type
header is well formed (one media type, at most one charset). (The operations are driven through
Hypothesis directly rather than schemathesis' pytest plugin, whose lazy fixture loading does not work
on pytest 9.)
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import restore_demo_access

# Each demo role once (tokens fixture keys: executor, its staff, co-executor, its staff, economic policy,
# finance, admin), and no token at all.
CALLERS = ("it", "it_staff", "mfc", "mfc_staff", "econ", "finance", "admin", None)
EXAMPLES = 5
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


def _served_spec() -> dict:
    """The spec as the app serves it; building the app opens no database connection."""
    from services.web.app import create_app
    from services.bootstrap import bootstrap
    from tests.conftest import make_settings

    services = bootstrap(make_settings(Path(tempfile.mkdtemp(prefix="interdept-spec-"))), publisher=lambda ids: None)
    try:
        return create_app(services=services).test_client().get("/openapi.json").get_json()
    finally:
        services.dispose()


OPERATIONS = [
    f"{method.upper()} {path}"
    for path, methods in _served_spec()["paths"].items()
    for method in methods
    if method in ("get", "put", "post", "delete", "patch")
]


def content_type_problems(value: str | None) -> list[str]:
    """What is wrong with a Content-Type header value: none, two media types, a repeated parameter."""
    if not value:
        return ["no Content-Type"]
    media_type, *params = [part.strip() for part in value.split(";")]
    problems = []
    if "/" not in media_type or "," in media_type:
        problems.append(f"not one media type: {value!r}")
    names = [p.split("=", 1)[0].strip().lower() for p in params if p]
    for name in sorted(set(names)):
        if names.count(name) > 1:
            problems.append(f"{name} given {names.count(name)} times: {value!r}")
    return problems


def test_content_type_problems_are_found():
    assert content_type_problems("text/csv; charset=utf-8; charset=utf-8")
    assert content_type_problems("text/csv, text/plain")
    assert content_type_problems(None)
    assert not content_type_problems("application/json")
    assert not content_type_problems("text/calendar; charset=utf-8")


@pytest.fixture(scope="module")
def api_schema(fuzz_services):
    _, _, app = fuzz_services
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.mark.parametrize("label", OPERATIONS)
def test_responses_conform_to_the_contract(label, api_schema, fuzz_services):
    services, tokens, _ = fuzz_services
    restore_demo_access(services)
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label

    @seed(9)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def fuzz(case):
        for caller in CALLERS:
            headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller else {}
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)
            if response.status_code != 204:
                # schemathesis' response: lower-case names, each with its list of values
                values = {k.lower(): v for k, v in response.headers.items()}.get("content-type") or [None]
                problems = content_type_problems(values[0] if len(values) == 1 else ", ".join(values))
                assert not problems, (label, caller, response.status_code, problems)

    fuzz()
