"""Following a request through its page in a real browser: the watcher clicks «Следить», sees
themself in the list, the owner accepts the answer, and the watcher's email exists (its row, and the
mail log page); «Не следить» takes them off the list, and off the next email.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

PROGRAM = "kotovsk-information-society"
SUBJECT = "Число обращений в МФЦ за 2016 год"
WATCHER = "admin@kotovsk.example"  # of the IT department: sees the request, no party to its emails


def _actor(services, email: str):
    from services.models.registry import User
    from services.registry import actor_for

    with services.uow() as uow:
        return actor_for(uow.session.execute(select(User).where(User.email == email)).scalar_one())


def _answered_request(services) -> int:
    from services import information_requests as ir

    it, mfc = _actor(services, "it@kotovsk.example"), _actor(services, "mfc@kotovsk.example")
    with services.uow() as uow:
        _, (req,) = ir.create_request(uow, services, it, ir.NewRequest(
            program=PROGRAM, subject=SUBJECT, body="Просим сообщить число обращений.", addressees=["mfc"],
            send=True))
        uow.commit()
        rid = req.id
    with services.uow() as uow:
        ir.fire_transition(uow, services, mfc, rid, "answer", data={"text": "12 480 обращений."})
        uow.commit()
    return rid


def _emails_to(services, recipient: str, event_type: str) -> list:
    from services.models.mail import OutgoingEmail
    from services.models.workflow import OutboxEvent

    with services.uow() as uow:
        ids = set(uow.session.execute(select(OutboxEvent.id).where(OutboxEvent.type == event_type)).scalars())
        rows = [e for e in uow.session.execute(select(OutgoingEmail).where(OutgoingEmail.recipient == recipient))
                .scalars() if e.dedupe_key.split(":", 1)[0] in ids]
        uow.session.expunge_all()
        return rows


def test_a_user_follows_a_request_on_its_page_and_gets_the_email_of_its_next_transition(people_in_browser, live):
    rid = _answered_request(live.services)
    failed: list[str] = []  # every response the pages got, but the browser's own favicon probe

    def watch_responses(session):
        session.page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                        if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        return session

    watcher = watch_responses(people_in_browser("admin"))
    watcher.goto(f"/requests/{rid}")
    panel = watcher.page.locator("section.watchers")
    expect(panel).to_contain_text("Пока никто не следит.")
    panel.get_by_role("button", name="Следить").click()
    expect(watcher.page).to_have_url(re.compile(rf"/requests/{rid}#watchers$"))
    expect(watcher.page.locator(".flash-success")).to_contain_text("Вы следите за запросом")
    expect(panel.get_by_role("button", name="Не следить")).to_be_visible()
    expect(panel.locator(".watcher-list li")).to_have_count(1)
    expect(panel.locator(".watcher-list")).to_contain_text("Администратор")
    panel.scroll_into_view_if_needed()
    watcher.shot("watchers-request-following")

    # The owner sees the watcher too, and accepts the answer through the page.
    owner = watch_responses(people_in_browser("it"))
    owner.goto(f"/requests/{rid}")
    expect(owner.page.locator("section.watchers .watcher-list")).to_contain_text("Администратор")
    expect(owner.page.locator("section.watchers").get_by_role("button", name="Следить")).to_be_visible()
    owner.page.get_by_role("button", name="Принять ответ").click()
    expect(owner.page.locator(".flash-success")).to_contain_text("Ответ принят")

    (email,) = _emails_to(live.services, WATCHER, "information_request.accept")
    assert SUBJECT in email.subject
    assert "Вы получаете это письмо, потому что следите за запросом." in email.text_body
    assert email.item == f"information_request:{rid}"
    assert email.state in ("queued", "sending", "sent")
    # The mail log page (the admin's) lists it.
    watcher.goto(f"/admin/mail?recipient={WATCHER}")
    expect(watcher.page.locator("main")).to_contain_text(SUBJECT[:30])

    # The profile lists what one follows.
    watcher.goto("/me")
    expect(watcher.page.locator("#following")).to_contain_text(SUBJECT)
    watcher.page.locator("#following").scroll_into_view_if_needed()
    watcher.shot("watchers-profile-following")
    watcher.page.locator("#following").get_by_role("link").first.click()
    expect(watcher.page).to_have_url(re.compile(rf"/requests/{rid}$"))

    # «Не следить»: off the list.
    watcher.page.locator("section.watchers").get_by_role("button", name="Не следить").click()
    expect(watcher.page.locator(".flash-success")).to_contain_text("Вы больше не следите за запросом")
    expect(watcher.page.locator("section.watchers")).to_contain_text("Пока никто не следит.")
    assert not failed, failed
    scripts = [e for e in watcher.errors + owner.errors if not e.startswith("Failed to load resource")]
    assert not scripts, scripts


def test_a_program_party_follows_an_amendment_and_a_report_from_their_pages(people_in_browser, live):
    from datetime import date

    from services import amendments as am, reports as rp

    rp.run_schedule(live.services, date(2017, 6, 1), backlog=True)
    it = _actor(live.services, "it@kotovsk.example")
    with live.services.uow() as uow:
        a = am.create_amendment(uow, live.services, it, am.NewAmendment(
            program=PROGRAM, justification="Дополнительные средства на развитие сервисов.",
            changes={"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]}))
        report_id = rp.list_reports(uow.session, it, rp.ReportFilter(program=PROGRAM))[0].id
        uow.commit()
        aid = a.id
    mfc = people_in_browser("mfc_staff")
    for path in (f"/amendments/{aid}", f"/reports/{report_id}"):
        mfc.goto(path)
        mfc.page.locator("section.watchers").get_by_role("button", name="Следить").click()
        expect(mfc.page.locator("section.watchers .watcher-list")).to_contain_text("Кузнецова Е. В.")
    mfc.goto(f"/amendments/{aid}")
    mfc.page.locator("section.watchers").scroll_into_view_if_needed()
    mfc.shot("watchers-amendment-following")
    mfc.goto("/me")
    expect(mfc.page.locator("#following li")).to_have_count(2)
