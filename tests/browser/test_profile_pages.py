"""The profile page over HTTP (Flask test client, CSRF on as in production): who gets in, what each
form changes, where its errors are shown, and that each person sees and revokes only their own tokens."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import seed

PASSWORD = "demo-password-1"
EMAILS = {"it": "it@kotovsk.example", "it_staff": "it.staff@kotovsk.example", "mfc": "mfc@kotovsk.example",
          "mfc_staff": "mfc.staff@kotovsk.example", "econ": "econ@kotovsk.example",
          "finance": "finance@kotovsk.example", "admin": "admin@kotovsk.example"}
FORMS = ["/me/password", "/me/reminders", "/me/calendar", "/me/calendar/revoke", "/me/tokens",
         "/me/tokens/1/revoke"]


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


class Person:
    def __init__(self, app, who: str | None, password: str = PASSWORD):
        self.client = app.test_client()
        self.token = _csrf(self.client.get("/login").get_data(as_text=True))
        if who:
            r = self.client.post("/login", data={"email": EMAILS[who], "password": password,
                                                 "csrf_token": self.token})
            assert r.status_code == 302, r.get_data(as_text=True)[:300]
            self.token = _csrf(self.client.get("/me").get_data(as_text=True))

    def get(self, url):
        return self.client.get(url)

    def html(self, url) -> str:
        r = self.client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        return r.get_data(as_text=True)

    def post(self, url, data=None, csrf=True):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token
        return self.client.post(url, data=data)

    def flashes(self):
        with self.client.session_transaction() as sess:
            return list(sess.pop("_flashes", []))


@pytest.fixture
def app(services):
    from services.web.app import create_app

    seed(services)
    return create_app(services=services, test_config={"TESTING": True})


def _user(services, who):
    from services.models.registry import User

    with services.uow() as uow:
        user = uow.session.execute(select(User).where(User.email == EMAILS[who])).scalar_one()
        uow.session.expunge(user)
        return user


def _field_error(html: str, name: str) -> str:
    m = re.search(rf'<span class="field-error" id="err-{name}">([^<]*)</span>', html)
    return m.group(1) if m else ""


def test_anonymous_callers_are_sent_to_sign_in_and_come_back_to_the_email_link(app):
    anon = Person(app, None)
    for url in ("/me", "/me/preferences"):
        r = anon.get(url)
        assert r.status_code == 302 and r.headers["Location"] == f"/login?next={url}", url
    for url in FORMS:
        r = anon.post(url, {"reminder_mode": "single", "token_name": "x"})
        assert r.status_code == 302 and r.headers["Location"].startswith("/login"), url
    login = anon.html("/login?next=/me/preferences")
    r = anon.client.post("/login", data={"email": EMAILS["mfc"], "password": PASSWORD, "next": "/me/preferences",
                                         "csrf_token": _csrf(login)})
    assert r.status_code == 302 and r.headers["Location"] == "/me/preferences"
    html = anon.html("/me/preferences")
    assert "<h1>Профиль</h1>" in html and "Напоминания о сроках" in html and EMAILS["mfc"] in html
    assert 'href="/me"' in html and "Профиль</a>" in html  # the navigation link


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(app, services):
    mfc = Person(app, "mfc")
    before = _user(services, "mfc").password_hash
    r = mfc.post("/me/reminders", {"reminder_mode": "single"}, csrf=False)
    assert r.status_code == 400
    assert _user(services, "mfc").reminder_mode == "digest"
    r = mfc.post("/me/password", {"current_password": PASSWORD, "new_password": "another-pass-1",
                                  "new_password_confirm": "another-pass-1"}, csrf=False)
    assert r.status_code == 400 and _user(services, "mfc").password_hash == before
    r = mfc.post("/me/tokens", {"token_name": "Без CSRF", "token_days": "5"}, csrf=False)
    assert r.status_code == 400 and "Без CSRF" not in mfc.html("/me")


def test_changing_the_password_keeps_this_browser_and_signs_out_the_others(app, services):
    here, elsewhere = Person(app, "econ"), Person(app, "econ")
    before = _user(services, "econ").password_hash
    r = here.post("/me/password", {"current_password": "wrong-password-9", "new_password": "econ-new-pass-1",
                                   "new_password_confirm": "econ-new-pass-1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and _field_error(html, "current_password") == "Текущий пароль указан неверно."
    assert 'id="current_password" name="current_password" type="password" autocomplete="current-password" ' \
           'required aria-invalid="true"' in html
    r = here.post("/me/password", {"current_password": PASSWORD, "new_password": "short",
                                   "new_password_confirm": "other"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Не короче 10 символов." in _field_error(html, "new_password")
    assert _field_error(html, "new_password_confirm") == "Пароли не совпадают."
    assert _user(services, "econ").password_hash == before
    assert elsewhere.get("/me").status_code == 200
    r = here.post("/me/password", {"current_password": PASSWORD, "new_password": "econ-new-pass-1",
                                   "new_password_confirm": "econ-new-pass-1"})
    assert r.status_code == 302 and r.headers["Location"] == "/me#password"
    assert any("Пароль изменён" in m for _, m in here.flashes())
    assert _user(services, "econ").password_hash != before
    assert here.get("/me").status_code == 200
    assert elsewhere.get("/me").status_code == 302  # the other browser's session ended
    Person(app, "econ", password="econ-new-pass-1")  # signs in with the new one


def test_reminder_mode_is_saved_and_a_crafted_value_refused_at_the_field(app, services):
    finance = Person(app, "finance")
    assert 'id="mode-digest" name="reminder_mode" value="digest" checked' in finance.html("/me/preferences")
    r = finance.post("/me/reminders", {"reminder_mode": "single"})
    assert r.status_code == 302 and r.headers["Location"] == "/me#reminders"
    assert _user(services, "finance").reminder_mode == "single"
    assert 'id="mode-single" name="reminder_mode" value="single" checked' in finance.html("/me")
    r = finance.post("/me/reminders", {"reminder_mode": "never"})
    assert r.status_code == 422
    assert _field_error(r.get_data(as_text=True), "reminder_mode") == \
        "Выберите: одним письмом-сводкой или отдельными письмами."
    r = finance.post("/me/reminders", {"reminder_mode": "single\x00"})
    assert r.status_code == 422 and "управляющий символ" in _field_error(r.get_data(as_text=True), "reminder_mode")
    assert _user(services, "finance").reminder_mode == "single"


def test_calendar_link_shown_once_opens_the_feed_and_revoked_stops(app, services):
    mfc = Person(app, "mfc")
    r = mfc.post("/me/calendar")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    m = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', html)
    assert m and m.group(1).startswith(f"{services.settings.base_url}/api/v1/me/deadlines.ics?token=")
    token = m.group(1).split("token=", 1)[1]
    assert token not in mfc.html("/me")  # shown once
    assert "Ссылка действует." in mfc.html("/me")
    feed = app.test_client().get(f"/api/v1/me/deadlines.ics?token={token}")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar" and b"BEGIN:VCALENDAR" in feed.data
    r = mfc.post("/me/calendar/revoke")
    assert r.status_code == 302 and r.headers["Location"] == "/me#calendar"
    assert app.test_client().get(f"/api/v1/me/deadlines.ics?token={token}").status_code == 404
    assert "Ссылки пока нет." in mfc.html("/me")


def test_each_role_sees_and_revokes_only_its_own_tokens(app, services):
    from services.models.registry import ApiToken

    people_ = {who: Person(app, who) for who in EMAILS}
    shown = {}
    for who, p in people_.items():
        r = p.post("/me/tokens", {"token_name": f"Токен {who}", "token_days": "30"})
        html = r.get_data(as_text=True)
        assert r.status_code == 200, (who, html[:500])
        m = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', html)
        assert m, who
        shown[who] = m.group(1)
        api = app.test_client().get("/api/v1/me/preferences", headers={"Authorization": f"Bearer {m.group(1)}"})
        assert api.status_code == 200  # the token shown works
    with services.uow() as uow:
        ids = {row.name: row.id for row in uow.session.execute(select(ApiToken)).scalars()}
    for who, p in people_.items():
        html = p.html("/me")
        assert f"Токен {who}" in html and shown[who] not in html  # listed, never shown again
        for other in EMAILS:
            if other != who:
                assert f"Токен {other}<" not in html, (who, other)
                r = p.post(f"/me/tokens/{ids[f'Токен {other}']}/revoke")
                assert r.status_code == 404, (who, other, r.status_code)
    with services.uow() as uow:
        assert all(row.revoked_at is None for row in uow.session.execute(select(ApiToken)).scalars())
    r = people_["mfc"].post(f"/me/tokens/{ids['Токен mfc']}/revoke")
    assert r.status_code == 302 and r.headers["Location"] == "/me#tokens"
    with services.uow() as uow:
        assert uow.session.get(ApiToken, ids["Токен mfc"]).revoked_at is not None
        assert uow.session.get(ApiToken, ids["Токен econ"]).revoked_at is None
    assert "отозван" in people_["mfc"].html("/me")
    api = app.test_client().get("/api/v1/me/preferences", headers={"Authorization": f"Bearer {shown['mfc']}"})
    assert api.status_code == 401


@pytest.mark.parametrize("data, field, reason", [
    ({"token_name": "", "token_days": "30"}, "token_name", "Название от 1 до 200 символов."),
    ({"token_name": "две\nстроки", "token_days": "30"}, "token_name", "Одна строка, без переводов строки."),
    ({"token_name": "Отчёты", "token_days": "много"}, "token_days", "Целое число дней от 1 до 366."),
    ({"token_name": "Отчёты", "token_days": "367"}, "token_days", "От 1 до 366 дней."),
    ({"token_name": "Отчёты", "token_days": "99999999999999999999"}, "token_days", "Число слишком велико."),
])
def test_a_token_form_that_does_not_fit_is_refused_at_its_field(app, services, data, field, reason):
    from services.models.registry import ApiToken

    it = Person(app, "it")
    with services.uow() as uow:
        before = len(uow.session.execute(select(ApiToken)).scalars().all())
    r = it.post("/me/tokens", data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert reason in _field_error(html, field), html[html.find('id="tokens"'):][:1500]
    assert 'id="new-token"' not in html
    with services.uow() as uow:
        assert len(uow.session.execute(select(ApiToken)).scalars().all()) == before
