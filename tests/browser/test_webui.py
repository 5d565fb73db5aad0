"""The web interface in a real browser: sign-in, answering a request, returning a report,
approving an amendment in both departments, the public page."""
from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import expect
from sqlalchemy import select

PROGRAM = "kotovsk-information-society"


def actor(services, email: str):
    from services.models.registry import User
    from services.registry import actor_for

    with services.uow() as uow:
        return actor_for(uow.session.execute(select(User).where(User.email == email)).scalar_one())


def report_ready_for_review(services, period: str, note: str) -> int:
    """Through the use cases: schedule, collect from the MFC, accept its answer, submit with a note."""
    from services import information_requests as ir
    from services import reports as rp

    rp.run_schedule(services, date(2017, 6, 1), backlog=True)
    it, mfc = actor(services, "it@kotovsk.example"), actor(services, "mfc@kotovsk.example")
    with services.uow() as uow:
        (report,) = [r for r in rp.list_reports(uow.session, it, rp.ReportFilter(program=PROGRAM, period=period))]
        rid = report.id
    with services.uow() as uow:
        rp.fire_transition(uow, services, it, rid, "start_collection")
        uow.commit()
    with services.uow() as uow:
        (line,) = [c for c in rp.collection_status(uow.session, rp.get_visible(uow.session, it, rid))
                   if c["department"] == "mfc"]
    with services.uow() as uow:
        ir.fire_transition(uow, services, mfc, line["request_id"], "answer", data={
            "ind_i12": "850", "act_a18_done": 1, "spent_regional": "100.5", "spent_city": "200"})
        uow.commit()
    with services.uow() as uow:
        ir.fire_transition(uow, services, it, line["request_id"], "accept")
        uow.commit()
    with services.uow() as uow:
        rp.set_inputs(uow, it, rid, {"spent": {"regional": "0", "city": "10"}})
        uow.commit()
    with services.uow() as uow:
        rp.fire_transition(uow, services, it, rid, "submit", data={"note": note})
        uow.commit()
    return rid


def test_sign_in_and_out(people_in_browser, live):
    s = people_in_browser()
    s.goto("/requests")
    expect(s.page).to_have_url(re.compile(r"/login\?next=/requests"))
    s.page.get_by_label("Адрес электронной почты").fill("mfc@kotovsk.example")
    s.page.get_by_label("Пароль").fill("wrong-password")
    s.page.get_by_role("button", name="Войти").click()
    expect(s.page.get_by_role("alert")).to_contain_text("Неверный адрес электронной почты или пароль")
    s.shot("01-sign-in-refused")
    s.page.get_by_label("Пароль").fill("demo-password-1")
    s.page.get_by_role("button", name="Войти").click()
    expect(s.page).to_have_url(live.url + "/requests")  # back where the user was going
    expect(s.page.get_by_role("heading", level=1)).to_have_text("Запросы информации")
    s.page.get_by_role("link", name="Входящие").click()
    expect(s.page.get_by_role("heading", level=1)).to_contain_text("Входящие")
    s.page.get_by_role("button", name="Выйти").click()
    expect(s.page.get_by_role("status")).to_contain_text("Вы вышли из системы")
    s.goto("/")
    expect(s.page).to_have_url(re.compile(r"/login"))


def test_mfc_answers_through_the_generated_form_after_a_validation_error(people_in_browser, live):
    it = people_in_browser("it")
    page = it.page
    it.goto("/requests/new")
    page.get_by_label("Тема").fill("Сведения о посещаемости МФЦ за 2016 год")
    page.get_by_label("Текст запроса").fill("Просим представить число обращений и комментарий.")
    page.get_by_label(re.compile("Многофункциональный центр")).check()
    days = page.get_by_label("Срок ответа, рабочих дней (1–60)")
    days.fill("10")
    expect(page.locator("#deadline-preview")).to_contain_text("10-й рабочий день после")  # from the calendar API
    page.get_by_label("Название поля").first.fill("")
    page.locator("#f-0-indicator").select_option("I11")
    page.locator("#f-0-period").select_option("2016")
    page.get_by_role("button", name="Добавить поле").click()
    page.locator("#f-1-label").fill("Комментарий к данным")
    page.locator("#f-1-type").select_option("text")
    page.locator("#f-1-required").uncheck()
    it.shot("02-request-create")
    page.get_by_role("button", name="Направить").click()
    expect(page.get_by_role("status")).to_contain_text("Запрос направлен")
    request_url = page.url
    expect(page.locator(".badge").first).to_have_text("Направлен")

    mfc = people_in_browser("mfc_staff")
    expect(mfc.page.get_by_role("heading", name=re.compile("Срок на этой неделе|Позже|Срок сегодня")).first).to_be_visible()
    mfc.page.get_by_role("link", name=re.compile("Сведения о посещаемости МФЦ")).first.click()
    expect(mfc.page).to_have_url(request_url)
    number = mfc.page.get_by_label(re.compile("I11"))
    number.fill("много")
    mfc.page.get_by_role("button", name="Отправить ответ").click()
    expect(mfc.page.get_by_role("alert")).to_contain_text("Ответ не отправлен")
    expect(mfc.page.locator(".field-error")).to_contain_text("Ожидается число.")
    expect(mfc.page.get_by_label(re.compile("I11"))).to_have_attribute("aria-invalid", "true")
    mfc.shot("03-answer-form-validation-error")
    mfc.page.get_by_label(re.compile("I11")).fill("1 250,5")  # a Russian-formatted number is accepted
    mfc.page.get_by_label("Комментарий к данным").fill("Данные журнала регистрации.")
    mfc.page.get_by_role("button", name="Отправить ответ").click()
    expect(mfc.page.get_by_role("status")).to_contain_text("Ответ отправлен")
    expect(mfc.page.locator(".badge").first).to_have_text("Получен ответ")
    expect(mfc.page.get_by_role("button", name="Отправить ответ")).to_have_count(0)
    expect(mfc.page.get_by_role("button", name="Принять ответ")).to_have_count(0)  # not the addressee's to accept

    it.page.reload()
    expect(it.page.locator("dl.answer")).to_contain_text("1\u00a0250,5")
    # IT asks for a clarification: the MFC reads the question above the answer form, which holds
    # the previous answer, and answers again.
    it.page.get_by_label("Что уточнить").fill("Уточните, включены ли выездные приёмы.")
    it.page.get_by_role("button", name="Запросить уточнение").click()
    expect(it.page.locator(".badge").first).to_have_text("Запрошено уточнение")
    mfc.page.reload()
    question = mfc.page.locator("#clarification-question")
    expect(question).to_contain_text("Уточните, включены ли выездные приёмы.")
    form_top = mfc.page.get_by_role("button", name="Отправить ответ").bounding_box()["y"]
    assert question.bounding_box()["y"] < form_top
    expect(mfc.page.get_by_label(re.compile("I11"))).to_have_value(re.compile(r"^1\s?250,5$"))
    expect(mfc.page.get_by_label("Комментарий к данным")).to_have_value("Данные журнала регистрации.")
    mfc.page.get_by_label("Комментарий к данным").fill("Данные журнала регистрации, с выездными приёмами.")
    mfc.shot("03b-clarification-above-the-form")
    mfc.page.get_by_role("button", name="Отправить ответ").click()
    expect(mfc.page.get_by_role("status")).to_contain_text("Ответ отправлен")

    it.page.reload()
    it.page.get_by_role("button", name="Принять ответ").click()
    expect(it.page.get_by_role("status")).to_contain_text("Ответ принят")
    expect(it.page.locator(".badge").first).to_have_text("Принят")
    expect(it.page.locator("svg.diagram g.current")).to_contain_text("Принят")
    it.shot("04-request-page")
    it.goto(f"/programs/{PROGRAM}#ind-I11")
    expect(it.page.locator("#ind-I11 table")).to_contain_text("1\u00a0250,5")
    it.shot("05-program-page")


def test_economic_policy_returns_a_report(people_in_browser, live):
    rid = report_ready_for_review(live.services, "2016-Q1", "Записка к отчёту за первый квартал")
    econ = people_in_browser("econ")
    econ.goto("/reports?q=2016")
    econ.page.get_by_role("link", name="Ежеквартальный за 1 квартал 2016 г.").click()
    expect(econ.page).to_have_url(live.url + f"/reports/{rid}")
    expect(econ.page.locator(".badge").first).to_have_text("Представлен")
    expect(econ.page.get_by_role("button", name="Представить отчёт")).to_have_count(0)
    # Without remarks the action is refused, and the page says why at the field, by its own label.
    econ.page.get_by_role("button", name="Вернуть на доработку").click()
    expect(econ.page.locator("#err-return-comment")).to_contain_text("«Замечания»: Обязательное поле.")
    expect(econ.page.get_by_label("Замечания")).to_have_attribute("aria-invalid", "true")
    expect(econ.page.locator(".badge").first).to_have_text("Представлен")
    econ.page.get_by_label("Замечания").fill("Не заполнено выполнение мероприятия A1; уточните расходы.")
    econ.page.get_by_role("button", name="Вернуть на доработку").click()
    expect(econ.page.get_by_role("status")).to_contain_text("возвращён на доработку")
    expect(econ.page.locator(".badge").first).to_have_text("Возвращён на доработку")
    expect(econ.page.locator(".timeline")).to_contain_text("Не заполнено выполнение мероприятия A1")
    econ.shot("06-report-returned")

    it = people_in_browser("it")
    it.goto(f"/reports/{rid}")
    # The remarks stand above the forms that answer them, not only in the history at the bottom.
    expect(it.page.locator("#return-remarks")).to_contain_text("Не заполнено выполнение мероприятия A1")
    assert it.page.evaluate("""() => document.querySelector('#return-remarks').compareDocumentPosition(
        document.querySelector('form.action-resubmit')) & Node.DOCUMENT_POSITION_FOLLOWING""")
    it.page.get_by_label("Пояснительная записка").fill("Записка, доработанная по замечаниям.")
    it.page.get_by_role("button", name="Представить повторно").click()
    expect(it.page.locator(".badge").first).to_have_text("Представлен")
    expect(it.page.locator("table.side-by-side")).to_contain_text("Записка, доработанная по замечаниям.")
    download = it.page.get_by_role("link", name="XLSX")
    with it.page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename.endswith(".xlsx")


def test_both_departments_approve_an_amendment(people_in_browser, live):
    it = people_in_browser("it")
    it.goto(f"/amendments/new?program={PROGRAM}")
    it.page.get_by_label("Обоснование").fill("Увеличение расходов на развитие МФЦ в 2017 году.")
    cell = it.page.get_by_label("2017, Средства бюджета города")
    cell.fill("не число")
    it.page.get_by_role("button", name="Сохранить проект").click()
    expect(it.page.locator("td.has-error .field-error")).to_contain_text("не число")
    it.page.get_by_label("2017, Средства бюджета города").fill("3400,0")
    it.shot("07-amendment-editor")
    it.page.get_by_role("button", name="Сохранить проект").click()
    expect(it.page.get_by_role("status")).to_contain_text("Проект изменений сохранён")
    amendment_url = it.page.url
    expect(it.page.locator("table.diff").first).to_contain_text("3\u00a0400")
    it.page.get_by_role("button", name="Направить на согласование").click()
    expect(it.page.locator(".badge").first).to_have_text("На согласовании")
    # A revision under review: the page compares the two revisions cell by cell, in words.
    it.page.get_by_role("link", name="Внести правку").click()
    it.page.get_by_label("2017, Средства бюджета города").fill("3450,0")
    it.page.get_by_role("button", name="Сохранить проект").click()
    expect(it.page.get_by_role("status")).to_contain_text("Проект изменений сохранён")
    revisions = it.page.locator("#h-revdiff + form + div table.diff")
    expect(revisions).to_contain_text("Финансирование 2017, средства бюджета города")
    expect(revisions.locator("td.old")).to_have_text("3\u00a0400,0")
    expect(revisions.locator("td.new")).to_have_text("3\u00a0450,0")

    for who, dept in (("econ", "Отдел экономической политики"), ("finance", "Финансовый отдел")):
        reviewer = people_in_browser(who)
        reviewer.page.get_by_role("link", name=re.compile("Проект изменений №")).first.click()
        expect(reviewer.page).to_have_url(amendment_url)
        reviewer.page.get_by_role("button", name="Согласовать").click()
        expect(reviewer.page.get_by_role("status")).to_contain_text("Вы согласовали")
        expect(reviewer.page.locator(".reviews")).to_contain_text(re.compile(dept + r".*: согласовано"))
        expect(reviewer.page.get_by_role("button", name="Согласовать")).to_have_count(0)
        if who == "econ":
            expect(reviewer.page.locator(".badge").first).to_have_text("На согласовании")
            expect(reviewer.page.locator(".reviews")).to_contain_text("Финансовый отдел администрации города: ожидается решение")
    expect(reviewer.page.locator(".badge").first).to_have_text("Согласованы")
    reviewer.shot("08-amendment-approved")

    it.page.reload()
    it.page.get_by_label("Номер постановления").fill("245")
    it.page.get_by_label("Дата постановления").fill("2017-03-01")
    it.page.get_by_role("button", name="Утвердить постановлением").click()
    expect(it.page.locator(".badge").first).to_have_text("Приняты")
    it.page.get_by_role("link", name=re.compile("Сравнить редакции программы")).click()
    expect(it.page.locator("table.diff").first).to_contain_text("3\u00a0450,0")
    it.shot("09-version-diff")


def test_public_page_shows_only_published_reports(people_in_browser, live):
    from services import reports as rp

    anon = people_in_browser()
    anon.goto(f"/public/programs/{PROGRAM}")
    expect(anon.page.locator("#reports")).to_contain_text("Опубликованных отчётов пока нет")

    rid = report_ready_for_review(live.services, "2016-Q1", "Опубликованная записка")
    other = report_ready_for_review(live.services, "2016-Q2", "Неопубликованная записка")
    econ, it = actor(live.services, "econ@kotovsk.example"), actor(live.services, "it@kotovsk.example")
    with live.services.uow() as uow:
        rp.fire_transition(uow, live.services, econ, rid, "accept")
        uow.commit()
    with live.services.uow() as uow:
        rp.fire_transition(uow, live.services, it, rid, "publish")
        uow.commit()
    assert other != rid
    anon.page.reload()
    expect(anon.page.locator("#reports")).to_contain_text("за 1 квартал 2016 г.")
    expect(anon.page.locator("#reports")).to_contain_text("Опубликованная записка")
    expect(anon.page.locator("body")).not_to_contain_text("Неопубликованная записка")
    expect(anon.page.locator("body")).not_to_contain_text("2 квартал 2016")
    expect(anon.page.get_by_role("link", name="Войти")).to_be_visible()
    anon.shot("10-public-page")
    phone = people_in_browser("mfc", mobile=True)
    phone.shot("11-home-phone")


def test_workflow_pictures_and_csrf(people_in_browser, live):
    s = people_in_browser("admin")
    s.goto("/workflows")
    expect(s.page.locator("svg.diagram")).to_have_count(3)
    s.shot("12-workflows")
    # A form posted without its CSRF token is refused.
    response = s.page.request.post(live.url + "/logout", form={})
    assert response.status == 400
