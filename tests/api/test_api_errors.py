"""Bad input gets a 4xx JSON error naming the field; nothing is ever a 500."""
from __future__ import annotations

import pytest

SLUG = "kotovsk-information-society"
GOOD = {"program": SLUG, "subject": "Сведения", "addressees": ["mfc"]}


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.status_code < 500
    assert response.is_json, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"]
    assert isinstance(error.get("message"), str) and error["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return error


@pytest.mark.parametrize("raw", ["{bad", "[1, 2", '{"program": }', "\xff", '{"a": 1}}'])
def test_malformed_json_is_400(as_user, raw):
    response = as_user("it").post("/api/v1/requests", data=raw, content_type="application/json")
    error = error_of(response, 400)
    assert error["code"] == "bad_request"
    assert "JSON" in error["message"]


def test_empty_body_is_422_naming_the_required_fields(as_user):
    error = error_of(as_user("it").post("/api/v1/requests", data="", content_type="application/json"), 422)
    assert {"program", "subject", "addressees"} <= set(error["fields"])


def test_malformed_json_on_a_transition_is_400(as_user):
    created = as_user("it").post("/api/v1/requests", json={**GOOD, "send": True}).get_json()
    request_id = created["requests"][0]["id"]
    response = as_user("mfc").post(f"/api/v1/requests/{request_id}/transitions", data="{",
                                   content_type="application/json")
    error_of(response, 400)


def test_unknown_top_level_field_is_422_naming_it(as_user):
    error = error_of(as_user("it").post("/api/v1/requests", json={**GOOD, "priority": "high"}), 422)
    assert "priority" in error["fields"]
    assert "priority" in error["message"]


def test_unknown_field_on_a_transition_is_422(as_user):
    created = as_user("it").post("/api/v1/requests", json={**GOOD, "send": True}).get_json()
    request_id = created["requests"][0]["id"]
    error = error_of(as_user("it").post(f"/api/v1/requests/{request_id}/transitions",
                                        json={"event": "withdraw", "reason": "x"}), 422)
    assert "reason" in error["fields"]


@pytest.mark.parametrize("field,value", [
    ("program", 5),
    ("subject", ["a"]),
    ("addressees", "mfc"),
    ("addressees", [1, 2]),
    ("working_days", "5"),
    ("working_days", 2.5),
    ("working_days", True),
    ("working_days", 0),
    ("send", "yes please"),
    ("form", "none"),
])
def test_wrong_types_are_422_naming_the_field(as_user, field, value):
    error = error_of(as_user("it").post("/api/v1/requests", json={**GOOD, field: value}), 422)
    assert field in error["fields"], error


@pytest.mark.parametrize("missing", ["program", "subject", "addressees"])
def test_missing_required_field_is_422_naming_it(as_user, missing):
    body = {k: v for k, v in GOOD.items() if k != missing}
    error = error_of(as_user("it").post("/api/v1/requests", json=body), 422)
    assert missing in error["fields"]


def test_a_json_array_instead_of_an_object_is_4xx(as_user):
    response = as_user("it").post("/api/v1/requests", json=[GOOD])
    assert response.status_code in (400, 422)
    error_of(response, response.status_code)


@pytest.mark.parametrize("body,field", [
    ({"event": 5}, "event"),
    ({}, "event"),
    ({"event": "answer", "data": "text"}, "data"),
    ({"event": "extend_deadline", "working_days": "3", "comment": "x"}, "working_days"),
    ({"event": "delegate", "assignee_id": "7"}, "assignee_id"),
    ({"event": "answer", "comment": 5}, "comment"),
])
def test_transition_wrong_types_are_422(as_user, body, field):
    created = as_user("it").post("/api/v1/requests", json={**GOOD, "send": True}).get_json()
    request_id = created["requests"][0]["id"]
    error = error_of(as_user("it").post(f"/api/v1/requests/{request_id}/transitions", json=body), 422)
    assert field in error["fields"], error


def test_unknown_event_is_422(as_user):
    created = as_user("it").post("/api/v1/requests", json={**GOOD, "send": True}).get_json()
    request_id = created["requests"][0]["id"]
    error = error_of(as_user("it").post(f"/api/v1/requests/{request_id}/transitions",
                                        json={"event": "approve"}), 422)
    assert "event" in error["fields"]


@pytest.mark.parametrize("url", ["/api/v1/programs", f"/api/v1/programs/{SLUG}", "/api/v1/requests",
                                 "/api/v1/inbox"])
def test_missing_token_is_401(as_user, url):
    error = error_of(as_user(None).get(url), 401)
    assert error["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "nonsense", "Bearer a b"])
def test_bad_token_is_401(as_user, header):
    response = as_user(None).get("/api/v1/programs", headers={"Authorization": header})
    error_of(response, 401)


def test_unauthenticated_post_is_401_even_with_a_bad_body(as_user):
    response = as_user(None).post("/api/v1/requests", data="{", content_type="application/json")
    assert response.status_code in (400, 401)
    error_of(response, response.status_code)


def test_unknown_program_is_404(as_user):
    error = error_of(as_user("it").get("/api/v1/programs/no-such-program"), 404)
    assert error["code"] == "not_found"
    error_of(as_user("it").get("/api/v1/programs/no-such-program/versions"), 404)
    error_of(as_user("it").get("/api/v1/programs/no-such-program/versions/1"), 404)


def test_request_for_an_unknown_program_is_404(as_user):
    error_of(as_user("it").post("/api/v1/requests", json={**GOOD, "program": "no-such-program"}), 404)


def test_unknown_route_and_method_are_json(as_user):
    error_of(as_user("it").get("/api/v1/nothing-here"), 404)
    error_of(as_user("it").put("/api/v1/programs", json={}), 405)


@pytest.mark.parametrize("query,field", [
    ("start=2025-13-01&add=1", "start"),
    ("start=yesterday&add=1", "start"),
    ("add=1", "start"),
    ("start=2025-10-31&add=x", "add"),
    ("start=2025-10-31&add=-1", "add"),
    ("start=2025-10-31&add=100000", "add"),
    ("start=2025-10-31", "add"),
    ("start=0001-01-01&add=1", "start"),
    ("start=9999-12-31&add=1", "start"),
])
def test_calendar_bad_params_are_422_naming_the_field(as_user, query, field):
    error = error_of(as_user(None).get(f"/api/v1/calendar/working-days?{query}"), 422)
    assert field in error["fields"], error


@pytest.mark.parametrize("query", ["page=-1", "page_size=abc", "overdue=perhaps", "thread=x",
                                   "due_before=tomorrow", "department=" + "x" * 5000])
def test_bad_list_queries_are_4xx_never_500(as_user, query):
    response = as_user("it").get(f"/api/v1/requests?{query}")
    assert response.status_code < 500
    if response.status_code != 200:
        error_of(response, response.status_code)
