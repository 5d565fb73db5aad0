"""The person acts where the question is: the clarification question sits above the answer form,
which holds the previous answer; a returned report shows economic policy's remarks above its forms."""
from __future__ import annotations

from tests.conftest import seed
from tests.fuzz.conftest import Browser, set_demo_passwords

SLUG = "kotovsk-information-society"


def _call(app, token, method, url, **kw):
    r = app.test_client().open(url, method=method, headers={"Authorization": f"Bearer {token}"}, **kw)
    assert r.status_code < 300, r.get_data(as_text=True)[:300]
    return r.get_json()


def test_the_question_is_above_the_prefilled_answer_form(services, app):
    tokens = seed(services)
    set_demo_passwords(services)
    rid = _call(app, tokens["it"], "POST", "/api/v1/requests", json={
        "program": SLUG, "subject": "Сведения о посещаемости", "addressees": ["mfc"], "send": True,
    })["requests"][0]["id"]
    _call(app, tokens["mfc"], "POST", f"/api/v1/requests/{rid}/transitions",
          json={"event": "answer", "comment": "Первый комментарий", "data": {"text": "Было 120 посещений"}})
    _call(app, tokens["it"], "POST", f"/api/v1/requests/{rid}/transitions",
          json={"event": "request_clarification", "comment": "Уточните, за какой месяц"})

    html = Browser(app, "mfc").client.get(f"/requests/{rid}").get_data(as_text=True)
    form_at = html.index(f'action="/requests/{rid}/answer"')
    question_at = html.index("Уточните, за какой месяц")
    assert html.index("Ответить на уточнение") < question_at < form_at
    answer_box = html[form_at:]
    assert ">Было 120 посещений</textarea>" in answer_box and ">Первый комментарий</textarea>" in answer_box
