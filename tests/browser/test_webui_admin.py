"""The administrator in a real browser: creates a person, who sets a password through the emailed
one-time link and signs in; deactivates another (with a confirmation); checks the audit chain.
Anyone else gets the 403 page."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from services.models.mail import OutgoingEmail
from services.models.registry import User

LINK = re.compile(r"http://[^/\s]+(/password/set/[A-Za-z0-9_\-]+)")


def _email_to(services, recipient: str) -> OutgoingEmail:
    with services.uow() as uow:
        (email,) = uow.session.execute(select(OutgoingEmail).where(OutgoingEmail.recipient == recipient)).scalars()
        uow.session.expunge(email)
        return email


def _user(services, email: str) -> User:
    with services.uow() as uow:
        user = uow.session.execute(select(User).where(User.email == email)).scalar_one()
        uow.session.expunge(user)
        return user


def test_admin_creates_a_user_who_sets_a_password_by_the_emailed_link_and_deactivates_another(
        people_in_browser, live):
    from services.audit_trail import seal

    admin = people_in_browser("admin")
    page = admin.page
    page.get_by_role("link", name="Администрирование").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Администрирование: пользователи")
    expect(page.get_by_role("cell", name="mfc.staff@kotovsk.example")).to_be_visible()
    admin.shot("admin-01-users")

    page.get_by_role("link", name="Новый пользователь").click()
    page.get_by_label("Адрес электронной почты").fill("novikova@kotovsk.example")
    page.get_by_label("Фамилия и инициалы").fill("Новикова Н. Н.")
    page.get_by_label("Подразделение").select_option(label="Финансовый отдел администрации города")
    page.get_by_role("button", name="Создать пользователя").click()
    expect(page.get_by_text("Выберите хотя бы одну роль.")).to_be_visible()  # at the field
    admin.shot("admin-02-new-user-error")
    page.get_by_label("Финансовый отдел", exact=True).check()
    page.get_by_role("button", name="Создать пользователя").click()
    expect(page.get_by_role("status")).to_contain_text("Пользователь novikova@kotovsk.example создан")
    expect(page.get_by_role("heading", level=1)).to_have_text("Новикова Н. Н.")
    expect(page.get_by_text("не установлен: войти нельзя")).to_be_visible()
    admin.shot("admin-03-user-created")

    # The emailed link, read from the mail log, as the person would click it.
    email = _email_to(live.services, "novikova@kotovsk.example")
    assert email.state == "sent" and "Установка пароля" in email.subject
    path = LINK.search(email.text_body).group(1)
    person = people_in_browser()
    person.goto(path)
    expect(person.page.get_by_role("heading", level=1)).to_have_text("Установка пароля")
    expect(person.page.get_by_text("novikova@kotovsk.example")).to_be_visible()
    person.page.get_by_label("Новый пароль").fill("novikova-pass-1")
    person.page.get_by_label("Пароль ещё раз").fill("novikova-pass-1")
    person.shot("admin-04-password-set-form")
    person.page.get_by_role("button", name="Установить пароль и войти").click()
    expect(person.page).to_have_url(live.url + "/")
    expect(person.page.get_by_role("status")).to_contain_text("Пароль установлен")
    expect(person.page.locator(".who")).to_contain_text("Новикова Н. Н.")
    person.shot("admin-05-signed-in-by-link")
    person.page.get_by_role("button", name="Выйти").click()
    person.page.get_by_label("Адрес электронной почты").fill("novikova@kotovsk.example")
    person.page.get_by_label("Пароль").fill("novikova-pass-1")
    person.page.get_by_role("button", name="Войти").click()
    expect(person.page).to_have_url(live.url + "/")
    person.goto(path)  # used once: a clear page, not a form
    expect(person.page.get_by_role("alert")).to_contain_text("уже установлен")
    person.shot("admin-06-link-used")

    # Deactivate someone else: asked first; cancelling changes nothing.
    staff = _user(live.services, "mfc.staff@kotovsk.example")
    admin.goto(f"/admin/users/{staff.id}")
    # The person's own dialog handler (tests/browser/conftest.py) answers: "no" first, then "yes".
    admin.confirm, admin.dialogs[:] = False, []
    page.get_by_role("button", name="Отключить учётную запись").click()
    expect(page.get_by_role("button", name="Отключить учётную запись")).to_be_visible()
    assert admin.dialogs and "Отключить учётную запись mfc.staff@kotovsk.example?" in admin.dialogs[0]
    assert _user(live.services, staff.email).active is True

    admin.confirm = True
    page.get_by_role("button", name="Отключить учётную запись").click()
    expect(page.get_by_role("status")).to_contain_text("Пользователь отключён")
    expect(page.get_by_role("button", name="Включить учётную запись")).to_be_visible()
    assert _user(live.services, staff.email).active is False
    admin.shot("admin-07-deactivated")

    page.get_by_role("link", name="Весь журнал аудита по этому пользователю").click()
    expect(page.get_by_role("cell", name="пользователь отключён")).to_be_visible()
    seal(live.services)
    page.get_by_role("button", name="Проверить цепочку").click()
    expect(page.locator("#chain-result")).to_contain_text("Цепочка цела")
    expect(page.locator("#chain-result")).to_contain_text("последняя контрольная точка")
    admin.shot("admin-08-audit-check")
    for where in ("/admin/departments", "/admin/tokens", "/admin/mail"):
        admin.goto(where)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Администрирование")
        admin.shot("admin-09" + where.replace("/", "-"))

    # Anyone else: the 403 page, in Russian, and no menu item.
    mfc = people_in_browser("mfc")
    expect(mfc.page.get_by_role("link", name="Администрирование")).to_have_count(0)
    response = mfc.goto("/admin/users")
    assert response.status == 403
    expect(mfc.page.get_by_role("alert")).to_contain_text("доступен только администратору")
    mfc.shot("admin-10-forbidden")
    # Pages answered 422/410/403 (and the favicon 404) on purpose; any script error fails the test.
    script_errors = [e for s in (admin, person, mfc) for e in s.errors if not e.startswith("Failed to load resource")]
    assert not script_errors, script_errors
