"""The pages without a browser (Flask test client): every screen renders for every role, nothing inline
that the CSP would block, refused actions explained, and the helpers' formatting."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from tests.conftest import seed

PROGRAM = "kotovsk-information-society"
USERS = {"it": "it@kotovsk.example", "mfc": "mfc@kotovsk.example", "econ": "econ@kotovsk.example",
         "finance": "finance@kotovsk.example", "admin": "admin@kotovsk.example"}


@pytest.fixture
def web(services):
    from services.web.app import create_app

    seed(services)
    app = create_app(services=services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})

    def client(who: str | None):
        c = app.test_client()
        if who:
            r = c.post("/login", data={"email": USERS[who], "password": "demo-password-1"})
            assert r.status_code == 302, r.get_data(as_text=True)[:300]
        return c

    return client


PAGES = ["/", "/requests", "/requests/new", "/programs", f"/programs/{PROGRAM}", "/reports", "/amendments",
         "/workflows", f"/programs/{PROGRAM}/versions/1/diff/1"]


@pytest.mark.parametrize("who", sorted(USERS))
def test_every_screen_renders_for_every_role_without_inline_code(web, who):
    c = web(who)
    for url in PAGES:
        r = c.get(url)
        if url == "/requests/new" and who == "mfc":
            assert r.status_code == 403 or r.status_code == 200
        else:
            assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:500])
        html = r.get_data(as_text=True)
        assert " style=" not in html and "<style" not in html, url  # CSP: default-src 'self'
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert "javascript:" not in html, url
        assert 'lang="ru"' in html


def test_pages_need_sign_in_and_public_page_does_not(web):
    anon = web(None)
    r = anon.get("/requests")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/requests")
    r = anon.get(f"/public/programs/{PROGRAM}")
    assert r.status_code == 200 and "Опубликованных отчётов пока нет" in r.get_data(as_text=True)
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert anon.get("/public/programs/nope").status_code == 404


def test_a_refused_action_says_why(web):
    c = web("mfc")
    it = web("it")
    r = it.post("/requests/new", data={"program": PROGRAM, "subject": "Тема", "addressees": "mfc",
                                       "working_days": "5", "send": "1", "f-0-label": "Число", "f-0-type": "integer",
                                       "f-0-required": "on"})
    assert r.status_code == 302
    rid = int(r.headers["Location"].rsplit("/", 1)[1])
    # The MFC may not accept (only the requester may): the page explains instead of failing silently.
    r = c.post(f"/requests/{rid}/action", data={"event": "accept"}, follow_redirects=True)
    assert "Действие «принять ответ» вам не разрешено." in r.get_data(as_text=True)
    # The addressee's form: an integer field given text is refused with the Russian message inline.
    r = c.post(f"/requests/{rid}/answer", data={"f_field_1": "пять"})
    assert r.status_code == 422 and "Ожидается целое число." in r.get_data(as_text=True)
    r = c.post(f"/requests/{rid}/answer", data={"f_field_1": "5"}, follow_redirects=True)
    assert "Ответ отправлен" in r.get_data(as_text=True)
    # Not now: answering twice is refused with what is possible instead.
    r = c.post(f"/requests/{rid}/answer", data={"f_field_1": "6"}, follow_redirects=True)
    assert "невозможно в состоянии «Получен ответ»" in r.get_data(as_text=True)


def test_create_form_errors_point_at_the_builder_row(web):
    it = web("it")
    r = it.post("/requests/new", data={"program": PROGRAM, "subject": "Тема", "addressees": "mfc",
                                       "working_days": "5", "f-0-label": "", "f-1-label": "Показатель",
                                       "f-1-indicator": "I11", "f-1-type": "text", "f-1-period": "2016"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="err-f-1-type"' in html and "Значение показателя должно быть числом" in html


def test_formatting_helpers(services):
    from services.web.app import create_app
    from services.web.pages.filters import fmt_date, fmt_datetime, fmt_number, fmt_percent, plural

    app = create_app(services=services)
    with app.app_context():
        assert fmt_date(date(2016, 4, 20)) == "20.04.2016"
        assert fmt_date("2016-04-20") == "20.04.2016"
        # 20:59:59 UTC is 23:59:59 in Moscow, and already the next day at 21:30 UTC.
        assert fmt_datetime(datetime(2016, 4, 20, 20, 59, tzinfo=timezone.utc)) == "20.04.2016 23:59"
        assert fmt_date(datetime(2016, 4, 20, 21, 30, tzinfo=timezone.utc)) == "21.04.2016"
    assert fmt_number(Decimal("22427.3")) == "22\u00a0427,3"
    assert fmt_number("-1234567") == "-1\u00a0234\u00a0567"
    assert fmt_number(None) == "—"
    assert fmt_percent("0.9512") == "95,1\u00a0%"
    assert [plural(n, "день", "дня", "дней") for n in (1, 2, 5, 11, 21, 22, 112)] == \
        ["день", "дня", "дней", "дней", "день", "дня", "дней"]


def test_state_diagram_is_drawn_from_the_definition():
    from services.web.pages.svg import state_diagram, transitions_table
    from workflows.information_request import INFORMATION_REQUEST as wf

    svg = str(state_diagram(wf, "answered"))
    for label in wf.state_labels.values():
        assert label in svg
    assert svg.count('class="state current"') == 1
    current = re.search(r'<g class="state current">.*?</g>', svg).group(0)
    assert "Получен ответ" in current and 'fill="#ffd54f"' in current
    rows = transitions_table(wf)
    assert {"from": "Получен ответ", "event": "принять ответ", "to": "Принят", "who": ["requester"]} in rows
    assert " style=" not in svg
