"""Pages speak in words: a refusal names what is possible by its label, the amendment editor's
figures are written with a decimal comma and its errors name no field paths (issue 14, item 4)."""
from __future__ import annotations

import re

from services.models.amendments import Amendment
from tests.browser.test_confirm_and_field_errors import _sent_request, _state_and_history
from tests.conftest import seed
from tests.page_scan import scan

PROGRAM = "kotovsk-information-society"


def _client(services, email: str):
    from services.web.app import create_app

    app = create_app(services=services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"email": email, "password": "demo-password-1"})
    return client


def test_a_refused_action_names_what_is_possible_in_words(services):
    seed(services)
    it = _client(services, "it@kotovsk.example")
    rid = _sent_request(it)
    before = _state_and_history(services, rid)
    r = it.post(f"/requests/{rid}/action", data={"event": "accept"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    said = re.search(r"Сейчас вам доступно: ([^.<]*)\.", html)
    assert said, html[:3000]
    assert "отозвать" in said.group(1) and "withdraw" not in said.group(1)
    assert not re.search(r"[a-z]+_[a-z]+|\bwithdraw\b", said.group(1)), said.group(1)
    assert _state_and_history(services, rid) == before


def test_the_amendment_editor_writes_figures_with_a_comma_and_names_no_paths(services):
    seed(services)
    it = _client(services, "it@kotovsk.example")
    page = it.get(f"/amendments/new?program={PROGRAM}").get_data(as_text=True)
    assert 'name="fin-2014-regional" inputmode="decimal" size="9" value="620,8"' in page
    assert not re.search(r'name="fin-[^"]+" inputmode="decimal" size="9" value="\d+\.\d+"', page)
    r = it.post(f"/amendments/new?program={PROGRAM}", data={
        "justification": "Увеличение расходов", "review_working_days": "10", "fin-2017-city": "не число"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Изменения не прошли проверку: исправьте отмеченные поля." in html
    assert re.search(r'<td class="has-error"><label class="sr-only" for="fin-2017-city">.*?'
                     r'<span class="field-error" id="err-fin-2017-city">[^<]*не число', html, re.S)
    assert scan(html) == []  # no "changes.financing[0].amount", no "3400.5"
    with services.uow() as uow:
        assert uow.session.query(Amendment).count() == 0
