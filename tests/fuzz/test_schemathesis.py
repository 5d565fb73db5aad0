"""Every documented endpoint and method, fuzzed from the served OpenAPI, as each demo role.

A fixed seed and a bounded number of examples keep it reproducible and short.
Checks: never a 5xx, and a response matches its documented schema where one
is documented. (The operations are driven through Hypothesis directly rather
than schemathesis' pytest plugin, whose lazy fixture loading does not work on
pytest 9.)
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.fuzz.conftest import restore_demo_access

# Each demo role once (tokens fixture keys), and no token at all.
CALLERS = ("it", "it_staff", "mfc", "mfc_staff", "econ", "finance", "admin", None)
EXAMPLES = 5


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


@pytest.fixture(scope="module")
def api_schema(fuzz_services):
    _, _, app = fuzz_services
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_error_and_documented_shapes(label, api_schema, fuzz_services):
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
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance],
                                   headers=headers)

    fuzz()
