"""The boundary refuses text and numbers nothing downstream can hold, before anything is stored.

Each case failed on the main of 2026-12-01 (issue 13): a lone surrogate in an answer
answered 500 *and committed*, after which the request's pages answered 500 for good.
"""
from __future__ import annotations

import pytest

from services.models.audit import AuditEntry
from services.models.requests import Answer, InformationRequest
from services.models.workflow import OutboxEvent, TransitionRecord

SLUG = "kotovsk-information-society"


def _sent(as_user) -> int:
    created = as_user("it").post("/api/v1/requests", json={"program": SLUG, "subject": "Сведения",
                                                          "addressees": ["mfc"], "send": True})
    assert created.status_code == 201, created.get_data(as_text=True)
    return created.get_json()["requests"][0]["id"]


def _counts(services) -> tuple:
    with services.uow() as uow:
        s = uow.session
        return tuple(s.query(m).count() for m in (InformationRequest, Answer, TransitionRecord, AuditEntry,
                                                   OutboxEvent))


def _raw(as_user, who, url, body: str):
    return as_user(who).post(url, data=body.encode("utf-8"), content_type="application/json")


@pytest.mark.parametrize("text, reason", [
    ('ok \\ud800', "суррогат"),
    ('ok \\udfff tail', "суррогат"),
    ('nul \\u0000 here', "U+0000"),
    ('bell \\u0007', "U+0007"),
])
def test_bad_text_in_an_answer_is_422_naming_the_field_and_stores_nothing(as_user, services, text, reason):
    request_id = _sent(as_user)
    before = _counts(services)
    r = _raw(as_user, "mfc", f"/api/v1/requests/{request_id}/transitions",
             '{"event":"answer","data":{"text":"%s"}}' % text)
    assert r.status_code == 422, r.get_data(as_text=True)
    fields = r.get_json()["error"]["fields"]
    assert list(fields) == ["data.text"] and reason in fields["data.text"][0]
    assert _counts(services) == before
    # and the request's pages still render
    assert as_user("mfc").get(f"/api/v1/requests/{request_id}").status_code == 200
    assert as_user("it").get("/api/v1/requests").status_code == 200
    with services.uow() as uow:
        assert uow.session.get(InformationRequest, request_id).state == "sent"


def test_a_lone_surrogate_in_a_form_label_is_refused_and_the_lists_still_render(as_user, services):
    before = _counts(services)
    r = _raw(as_user, "it", "/api/v1/requests",
             '{"program":"%s","subject":"S","addressees":["mfc"],'
             '"form":[{"key":"a","label":"\\ud800","type":"text"}]}' % SLUG)
    assert r.status_code == 422
    assert list(r.get_json()["error"]["fields"]) == ["form[0].label"]
    assert _counts(services) == before
    assert as_user("it").get("/api/v1/inbox").status_code == 200


def test_a_surrogate_in_a_key_or_the_event_is_refused(as_user):
    request_id = _sent(as_user)
    for body in ('{"event":"answer\\ud800","data":{}}', '{"event":"answer","data":{"\\ud800":"x"}}'):
        r = _raw(as_user, "mfc", f"/api/v1/requests/{request_id}/transitions", body)
        assert r.status_code == 422, body


@pytest.mark.parametrize("body", [
    '{"event":"answer","data":{"n":%s}}' % ("9" * 5000),
    '{"event":"answer","data":{"n":%d}}' % (2 ** 63),
    '{"event":"answer","data":{"n":-%d}}' % (10 ** 20),
])
def test_integers_no_column_holds_are_422_not_500(as_user, services, body):
    request_id = _sent(as_user)
    before = _counts(services)
    r = _raw(as_user, "mfc", f"/api/v1/requests/{request_id}/transitions", body)
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert _counts(services) == before


@pytest.mark.parametrize("depth", [40, 1000, 5000])
def test_deep_nesting_is_422_not_500(as_user, depth):
    request_id = _sent(as_user)
    body = '{"event":"answer","data":{"x":' + "[" * depth + "]" * depth + "}}"
    r = _raw(as_user, "mfc", f"/api/v1/requests/{request_id}/transitions", body)
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "invalid"


def test_brackets_inside_strings_do_not_count_as_nesting(as_user):
    request_id = _sent(as_user)
    r = as_user("mfc").post(f"/api/v1/requests/{request_id}/transitions",
                            json={"event": "answer", "data": {"text": "[[[[" * 100 + "\\\"{"}})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]


@pytest.mark.parametrize("query", ["thread=9223372036854775808", "thread=" + "1" * 5000, "q=%00x", "q=a%1Bb"])
def test_query_values_no_column_holds_are_422(as_user, query):
    r = as_user("it").get(f"/api/v1/requests?{query}")
    assert r.status_code in (400, 422), (query, r.status_code)
    assert r.status_code < 500


def test_tabs_and_newlines_are_ordinary_text(as_user):
    request_id = _sent(as_user)
    r = as_user("mfc").post(f"/api/v1/requests/{request_id}/transitions",
                            json={"event": "answer", "data": {"text": "строка 1\r\nстрока\t2"}})
    assert r.status_code == 200


@pytest.mark.parametrize("subject", ["Тема\r\nBcc: evil@example.com", "Тема\nвторая строка", "x" * 501, "   "])
def test_a_subject_is_one_line_of_at_most_500_characters(as_user, services, subject):
    before = _counts(services)
    r = as_user("it").post("/api/v1/requests", json={"program": SLUG, "subject": subject, "addressees": ["mfc"],
                                                     "send": True})
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert "subject" in r.get_json()["error"]["fields"]
    assert _counts(services) == before


def test_a_form_label_is_one_line(as_user, services):
    before = _counts(services)
    r = as_user("it").post("/api/v1/requests", json={"program": SLUG, "subject": "S", "addressees": ["mfc"],
                                                     "form": [{"key": "a", "label": "a\r\nb", "type": "text"}]})
    assert r.status_code == 422
    assert "form[0].label" in r.get_json()["error"]["fields"]
    assert _counts(services) == before


def test_the_web_form_keeps_the_same_subject_limits(app, services, tokens):
    """The page's form goes through the same use case: a 1 MB subject is refused there too."""
    from services.information_requests import NewRequest, create_request
    from services.registry import actor_for
    from services.models.registry import User
    from workflows.core import Invalid

    with services.uow() as uow:
        it = uow.session.query(User).filter_by(email="it@kotovsk.example").one()
        with pytest.raises(Invalid) as refused:
            create_request(uow, services, actor_for(it), NewRequest(
                program=SLUG, subject="x" * 1_000_000, body="", addressees=["mfc"], working_days=None, form=[]))
    assert "subject" in refused.value.fields
    assert _counts(services)[0] == 0
