"""Irreversible actions ask first; a required field left empty is named at the field (issue 14, item 9)."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from services.models.requests import InformationRequest
from services.models.workflow import TransitionRecord
from tests.conftest import seed

PROGRAM = "kotovsk-information-society"


def _sent_request(client) -> int:
    r = client.post("/requests/new", data={"program": PROGRAM, "subject": "Число обращений", "addressees": "mfc",
                                           "working_days": "5", "send": "1", "f-0-label": "Число",
                                           "f-0-type": "integer", "f-0-required": "on"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return int(r.headers["Location"].rsplit("/", 1)[1])


def _state_and_history(services, rid: int) -> tuple[str, int]:
    with services.uow() as uow:
        state = uow.session.get(InformationRequest, rid).state
        rows = len(uow.session.execute(select(TransitionRecord).where(
            TransitionRecord.workflow == "information_request", TransitionRecord.item_id == rid)).scalars().all())
        return state, rows


def test_an_empty_what_to_clarify_is_named_at_that_field(services):
    from services.web.app import create_app

    seed(services)
    app = create_app(services=services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    it, mfc = app.test_client(), app.test_client()
    it.post("/login", data={"email": "it@kotovsk.example", "password": "demo-password-1"})
    mfc.post("/login", data={"email": "mfc@kotovsk.example", "password": "demo-password-1"})
    rid = _sent_request(it)
    assert mfc.post(f"/requests/{rid}/answer", data={"f_field_1": "5"}).status_code == 302
    before = _state_and_history(services, rid)
    assert before[0] == "answered" and before[1] >= 2

    r = it.post(f"/requests/{rid}/action", data={"event": "request_clarification", "comment": "  "})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    field = re.search(r'<div class="field has-error"><label for="c-request_clarification">Что уточнить</label>'
                      r'<textarea [^>]*aria-describedby="err-request_clarification-comment"[^>]*></textarea>'
                      r'<span class="field-error" id="err-request_clarification-comment">([^<]*)</span></div>', html)
    assert field, html[html.find("h-actions"):][:2000]
    assert field.group(1) == "«Что уточнить»: Обязательное поле."
    assert "Комментарий:" not in html  # no banner with another field's name
    assert _state_and_history(services, rid) == before  # refused: nothing changed

    r = it.post(f"/requests/{rid}/action", data={"event": "request_clarification", "comment": "Уточните период"},
                follow_redirects=True)
    assert _state_and_history(services, rid)[0] == "clarification_requested"


def _number(services, rid: int) -> str | None:
    from services.models.requests import InformationRequest

    with services.uow() as uow:
        return uow.session.get(InformationRequest, rid).registration_number


def test_withdraw_asks_first_and_saying_no_changes_nothing(people_in_browser, live):
    it = people_in_browser("it")
    it.goto("/requests/new")
    page = it.page
    page.get_by_label("Тема").fill("Сведения для проверки подтверждения")
    page.get_by_label(re.compile("Многофункциональный центр")).check()
    page.get_by_label("Название поля").first.fill("Число")
    page.get_by_role("button", name="Направить").click()
    expect(page.get_by_role("status")).to_contain_text("Запрос направлен")
    rid = int(page.url.rsplit("/", 1)[1])
    before = _state_and_history(live.services, rid)
    assert before[0] == "sent" and before[1] >= 1

    it.confirm = False
    page.get_by_role("button", name="Отозвать").click()
    page.wait_for_timeout(500)
    number = _number(live.services, rid)
    assert number  # the question names the request as people quote it
    assert it.dialogs == [f"Отозвать запрос {number} «Сведения для проверки подтверждения»? Отменить это будет нельзя."]
    assert page.url.endswith(f"/requests/{rid}")
    expect(page.locator(".badge").first).to_have_text("Направлен")
    assert _state_and_history(live.services, rid) == before

    it.confirm = True
    page.get_by_role("button", name="Отозвать").click()
    expect(page.locator(".badge").first).to_have_text("Отозван")
    assert len(it.dialogs) == 2
    assert _state_and_history(live.services, rid)[0] == "withdrawn"
