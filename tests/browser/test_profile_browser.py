"""The profile in a real browser, once per demo role: sign in, change the password, choose how
reminders arrive, create and copy the calendar link and fetch the feed with it, then open the
footer link of the real email the password change sent (taken from an aiosmtpd server) in a fresh
browser: sign-in first, then the profile. The service's INTERDEPT_BASE_URL is the test server's own
address, so the email's link must point at that port."""
from __future__ import annotations

import re
import threading
import time
from email.header import decode_header, make_header

import pytest
from icalendar import Calendar
from playwright.sync_api import expect
from sqlalchemy import select

from tests.page_scan import PageScanner
from tests.browser.conftest import EMAILS, PASSWORD, Live, Session
from tests.conftest import REQUIRE, _pg_reachable, _truncate_all, make_services, make_settings, seed
from tests.integration.conftest import SmtpSink, _free_port

PROGRAM = "kotovsk-information-society"
SUBJECT = "Сведения для профиля"


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def live(request, tmp_path, smtp):
    """The app on a port chosen first, so INTERDEPT_BASE_URL can name it; mail to aiosmtpd."""
    from werkzeug.serving import make_server

    from services import information_requests as ir
    from services.models.registry import User
    from services.registry import actor_for
    from services.web.app import create_app

    port = _free_port()
    env = {"INTERDEPT_BASE_URL": f"http://127.0.0.1:{port}", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)}
    url = None
    if REQUIRE or _pg_reachable():
        url = request.getfixturevalue("pg_url")
        _truncate_all(url)
    services = make_services(make_settings(tmp_path, url, **env))
    seed(services)
    with services.uow() as uow:  # one open request from the IT department to the MFC, for the feeds
        it = actor_for(uow.session.execute(select(User).where(User.email == EMAILS["it"])).scalar_one())
    with services.uow() as uow:
        ir.create_request(uow, services, it, ir.NewRequest(program=PROGRAM, subject=SUBJECT, body="-",
                                                           addressees=["mfc"], working_days=10, send=True))
        uow.commit()
    app = PageScanner(create_app(services=services))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{port}", services)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        services.dispose()
    assert app.pages and not app.problems, "pages showed what a person must not read:\n" + "\n".join(app.problems)


def _mail_to(smtp: SmtpSink, address: str, subject: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with smtp._lock:
            found = [m for m in smtp.messages if m["To"] == address
                     and str(make_header(decode_header(m["Subject"]))) == subject]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no email «{subject}» to {address}; got {smtp.subjects()}")


def _bodies(message) -> dict[str, str]:
    out = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            out[part.get_content_subtype()] = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return out


ROLES = ["it", "mfc", "mfc_staff", "econ", "finance", "admin"]
# Whose department owes or awaits the one open request (the demo admin is in IT), and how the feed names it.
FEED = {"it": "Ожидается ответ", "admin": "Ожидается ответ", "mfc": "Ответить", "mfc_staff": "Ответить"}


@pytest.mark.parametrize("who", ROLES)
def test_a_person_manages_their_profile_and_the_email_footer_leads_there(people_in_browser, live, smtp, who):
    from services.models.registry import User

    new_password = f"{who}-new-password-1"
    s = people_in_browser(who)
    page = s.page
    failed: list[tuple[int, str]] = []
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    s.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page.get_by_role("link", name="Профиль").click()
    expect(page).to_have_url(live.url + "/me")
    expect(page.get_by_role("heading", level=1)).to_have_text("Профиль")
    expect(page.get_by_role("link", name="Профиль")).to_have_attribute("aria-current", "page")

    # A password: first a mistake, shown at its field, then the change.
    page.get_by_label("Текущий пароль").fill(PASSWORD)
    page.get_by_label("Новый пароль", exact=True).fill(new_password)
    page.get_by_label("Новый пароль ещё раз").fill(new_password + "x")
    page.get_by_role("button", name="Сменить пароль").click()
    expect(page.locator("#err-new_password_confirm")).to_have_text("Пароли не совпадают.")
    expect(page.get_by_label("Новый пароль ещё раз")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password-error")).to_contain_text("Пароль не изменён")
    if who == "mfc":
        s.shot("profile-password-error")
    page.get_by_label("Текущий пароль").fill(PASSWORD)
    page.get_by_label("Новый пароль", exact=True).fill(new_password)
    page.get_by_label("Новый пароль ещё раз").fill(new_password)
    page.get_by_role("button", name="Сменить пароль").click()
    expect(page.get_by_role("status")).to_contain_text("Пароль изменён")
    expect(page).to_have_url(live.url + "/me#password")

    # Reminders: one email per reminder instead of the digest.
    expect(page.get_by_label(re.compile("Одним письмом-сводкой"))).to_be_checked()
    page.get_by_label(re.compile("Отдельным письмом")).check()
    page.locator("#reminders").get_by_role("button", name="Сохранить").click()
    expect(page.get_by_role("status")).to_contain_text("отдельным письмом на каждое")
    expect(page.get_by_label(re.compile("Отдельным письмом"))).to_be_checked()
    with live.services.uow() as uow:
        user = uow.session.execute(select(User).where(User.email == EMAILS[who])).scalar_one()
        assert user.reminder_mode == "single"

    # The calendar link: created, copied with the button, and the feed fetched with it.
    page.get_by_role("button", name="Создать ссылку").click()
    link = page.get_by_label("Ссылка на календарь")
    expect(link).to_have_value(re.compile(re.escape(live.url) + r"/api/v1/me/deadlines\.ics\?token=.+"))
    page.get_by_role("button", name="Скопировать ссылку").click()
    expect(page.locator("#feed-copied")).to_have_text("Скопировано.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == link.input_value()
    s.shot(f"profile-{who}")
    feed = page.request.get(copied)
    assert feed.status == 200 and feed.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(feed.body())
    summaries = [str(e["summary"]) for e in calendar.walk("VEVENT")]
    if who in FEED:
        assert len(summaries) == 1, summaries  # named by its registration number, as people quote it
        assert re.fullmatch(rf"{FEED[who]}: запрос [А-Я]+-\d{{4}}/\d{{5}}/1 «{SUBJECT}»", summaries[0]), summaries
        assert str(calendar.walk("VEVENT")[0]["url"]) == live.url + "/requests/1"
    else:
        assert summaries == []  # no deadline of theirs

    # An API token: named, expiring, shown once, listed with its state.
    page.get_by_label("Название (для чего токен)").fill(f"Выгрузка для сводки ({EMAILS[who].split('@')[0].upper()})")
    page.get_by_label(re.compile("Срок действия, дней")).fill("30")
    page.get_by_role("button", name="Создать токен").click()
    token = page.get_by_label("Токен", exact=True).input_value()
    assert len(token) > 30
    expect(page.locator("table.list")).to_contain_text(f"Выгрузка для сводки ({EMAILS[who].split('@')[0].upper()})")
    expect(page.locator("table.list")).to_contain_text("не использовался")

    # The email the password change sent, from the SMTP server: its footer link opens the profile,
    # after signing in (with the new password) in a browser that is not signed in.
    (mail,) = _mail_to(smtp, EMAILS[who], "Пароль изменён")
    bodies = _bodies(mail)
    footer = re.search(r'href="([^"]+/me/preferences)"', bodies["html"]).group(1)
    assert footer == live.url + "/me/preferences"  # the port this service really serves
    assert f"Настройки уведомлений: {footer}" in bodies["plain"]
    fresh = people_in_browser()
    fresh.page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    fresh.page.goto(footer)
    expect(fresh.page).to_have_url(re.compile(r"/login\?next=/me/preferences"))
    fresh.page.get_by_label("Адрес электронной почты").fill(EMAILS[who])
    fresh.page.get_by_label("Пароль").fill(new_password)
    fresh.page.get_by_role("button", name="Войти").click()
    expect(fresh.page).to_have_url(footer)
    expect(fresh.page.get_by_role("heading", level=1)).to_have_text("Профиль")
    expect(fresh.page.get_by_label(re.compile("Отдельным письмом"))).to_be_checked()
    expect(fresh.page.locator("table.list")).to_contain_text(f"Выгрузка для сводки ({EMAILS[who].split('@')[0].upper()})")
    assert token not in fresh.page.content()  # the token is never shown again
    # The first browser, which changed the password, is still signed in.
    page.goto(footer)
    expect(page.get_by_role("heading", level=1)).to_have_text("Профиль")
    if who == "econ":
        mobile = people_in_browser(mobile=True)
        mobile.login(who, new_password)
        mobile.goto("/me/preferences")
        mobile.shot("profile-mobile")
    # Only the refused password form answered with an error (the browser logs that as a failed load),
    # and Chromium's own look for a favicon.
    assert {f for f in failed if not f[1].endswith("/favicon.ico")} == {(422, live.url + "/me/password")}, failed
    errors = [e for e in s.errors + fresh.errors if not e.startswith("Failed to load resource")]
    assert not errors, errors
