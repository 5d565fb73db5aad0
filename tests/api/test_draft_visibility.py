"""A request is the requester's only until it is sent (issue 13, finding 10)."""
from __future__ import annotations

SLUG = "kotovsk-information-society"


def _draft(as_user) -> int:
    r = as_user("it").post("/api/v1/requests", json={"program": SLUG, "subject": "Черновик", "addressees": ["mfc"]})
    assert r.status_code == 201
    return r.get_json()["requests"][0]["id"]


def test_the_addressee_cannot_read_a_draft_addressed_to_it(as_user):
    request_id = _draft(as_user)
    assert as_user("mfc").get(f"/api/v1/requests/{request_id}").status_code == 404
    listed = as_user("mfc").get("/api/v1/requests").get_json()
    assert request_id not in [item["id"] for item in listed.get("items", listed.get("requests", []))]
    assert as_user("it").get(f"/api/v1/requests/{request_id}").status_code == 200


def test_the_addressee_cannot_act_on_a_draft(as_user):
    request_id = _draft(as_user)
    r = as_user("mfc").post(f"/api/v1/requests/{request_id}/transitions", json={"event": "answer", "data": {}})
    assert r.status_code == 404


def test_a_draft_withdrawn_unsent_stays_the_requesters(as_user):
    request_id = _draft(as_user)
    assert as_user("it").post(f"/api/v1/requests/{request_id}/transitions",
                              json={"event": "withdraw"}).status_code == 200
    assert as_user("mfc").get(f"/api/v1/requests/{request_id}").status_code == 404


def test_once_sent_the_addressee_sees_it(as_user):
    request_id = _draft(as_user)
    assert as_user("it").post(f"/api/v1/requests/{request_id}/transitions",
                              json={"event": "send"}).status_code == 200
    assert as_user("mfc").get(f"/api/v1/requests/{request_id}").status_code == 200
    listed = as_user("mfc").get("/api/v1/requests").get_json()
    assert request_id in [item["id"] for item in listed.get("items", listed.get("requests", []))]

