"""Fuzzing fixtures: one seeded database per module, so examples build on real objects."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import _truncate_all, make_services, make_settings, seed

PROGRAM = "kotovsk-information-society"


@pytest.fixture(scope="module")
def fuzz_services(pg_url, tmp_path_factory):
    """PostgreSQL with the reference data, demo users and a few requests in different states."""
    from services.web.app import create_app
    from tests.conftest import ApiClient

    _truncate_all(pg_url)
    services = make_services(make_settings(tmp_path_factory.mktemp("fuzz"), pg_url))
    tokens = seed(services)
    app = create_app(services=services, test_config={"TESTING": True})
    it, mfc = ApiClient(app.test_client(), tokens["it"]), ApiClient(app.test_client(), tokens["mfc"])
    steps = [[], [("mfc", "answer")], [("mfc", "answer"), ("it", "accept")], [("it", "withdraw")]]
    for n, path in enumerate(steps):
        created = it.post("/api/v1/requests", json={"program": PROGRAM, "subject": f"Образец {n}",
                                                    "addressees": ["mfc"], "send": True})
        assert created.status_code == 201, created.json
        rid = created.json["requests"][0]["id"]
        for who, event in path:
            body = {"event": event, "data": {"text": "ok"} if event == "answer" else {}}
            client = it if who == "it" else mfc
            assert client.post(f"/api/v1/requests/{rid}/transitions", json=body).status_code == 200
    yield services, tokens, app
    services.dispose()


def restore_demo_access(services) -> None:
    """Fuzzed calls may deactivate users or revoke tokens; put the demo callers back between operations."""
    with services.engine.begin() as conn:
        conn.execute(text("UPDATE users SET active = true"))
        conn.execute(text("UPDATE api_tokens SET revoked_at = NULL, expires_at = NULL"))
