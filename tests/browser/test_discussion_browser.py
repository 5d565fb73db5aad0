"""Issue 15 item 4, done when: through the web pages alone a user comments on a report's line and
attaches a file to an amendment, and the other party sees both.

Economic policy (Смирнова О. Н.) remarks on the I2 line of the 2016 annual report and attaches its
calculation to IT's amendment; IT (Иванов И. И.) finds the remark on the report's line and the file
on the amendment, downloads it, and answers in the thread; both were told by email.
"""
from __future__ import annotations

import re
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

from playwright.sync_api import expect

from services import amendments as am
from services.reports import run_schedule
from tests.browser.test_webui import PROGRAM, actor

REMARK = "Факт по посещениям расходится с данными счётчика; приложите выписку."
CALCULATION = b"%PDF-1.4 calculation of the 2017 targets"


def _subjects_to(services, address: str) -> list[str]:
    """Without spaces: the standard library's folding of a long encoded Subject drops the space at a
    fold (it is put between two encoded words, where RFC 2047 readers ignore it)."""
    found = []
    for path in sorted(services.settings.mail_dir.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == address:
            found.append(str(message["Subject"]).replace(" ", ""))
    return found


def test_economic_policy_comments_on_a_report_line_and_attaches_a_file_to_an_amendment(
        people_in_browser, live, tmp_path):
    services = live.services
    run_schedule(services, date(2017, 6, 1), backlog=True)
    with services.uow() as uow:
        amendment = am.create_amendment(uow, services, actor(services, "it@kotovsk.example"), am.NewAmendment(
            program=PROGRAM, justification="Уточнение целевых значений на 2017 год.",
            changes={"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]})).id
        uow.commit()

    econ = people_in_browser("econ")
    page = econ.page
    econ.goto("/reports?q=2016")
    page.get_by_role("link", name="Годовой за 2016 год").click()
    report_url = page.url
    row = page.locator("#line-indicators-I2")
    row.get_by_role("link", name="Комментировать").click()
    expect(page.get_by_label("К чему относится")).to_have_value("indicators[I2]")
    # An empty remark is refused at its field, the page says why, and nothing is kept.
    page.get_by_role("button", name="Отправить комментарий").click()
    expect(page.locator("#err-body")).to_contain_text("Напишите комментарий.")
    expect(page.get_by_label("Комментарий", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".comment")).to_have_count(0)
    econ.shot("discussion-report-empty-comment-refused")
    page.get_by_label("Комментарий", exact=True).fill(REMARK)
    page.get_by_role("button", name="Отправить комментарий").click()
    expect(page.get_by_role("status")).to_contain_text("Комментарий добавлен")
    remark = page.locator(".comment").first
    expect(remark).to_contain_text("Смирнова О. Н., Отдел экономической политики администрации города")
    expect(remark).to_contain_text("К пункту: Показатель I2 «Количество посещений")
    expect(remark.locator(".comment-body")).to_have_text(REMARK)
    expect(remark.locator("time")).to_have_text(re.compile(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d$"))
    expect(page.locator("#line-indicators-I2")).to_contain_text("1 комментарий")
    econ.shot("discussion-report-line-comment")

    econ.goto(f"/amendments/{amendment}")
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00 not a document")
    page.get_by_label("Приложить файл").set_input_files(str(exe))
    page.get_by_role("button", name="Загрузить").click()
    expect(page.locator("#err-file")).to_contain_text("Файлы .exe не принимаются")
    expect(page.locator("ul.files")).to_have_count(0)
    econ.shot("discussion-amendment-file-refused")
    calculation = tmp_path / "Расчёт целей 2017.pdf"
    calculation.write_bytes(CALCULATION)
    page.get_by_label("Приложить файл").set_input_files(str(calculation))
    page.get_by_role("button", name="Загрузить").click()
    expect(page.get_by_role("status")).to_contain_text("Файл «Расчёт целей 2017.pdf» приложен")
    expect(page.locator("ul.files")).to_contain_text("Расчёт целей 2017.pdf")
    expect(page.locator("ul.files")).to_contain_text("Смирнова О. Н., Отдел экономической политики")
    econ.shot("discussion-amendment-file")

    it = people_in_browser("it")
    it.goto(report_url.removeprefix(live.url))
    expect(it.page.locator("#line-indicators-I2")).to_contain_text("1 комментарий")
    expect(it.page.locator(".comment").first).to_contain_text(REMARK)
    it.page.get_by_role("link", name="Комментировать: Показатель I2", exact=False).click()
    it.page.get_by_label("Комментарий", exact=True).fill("Выписку приложим до пятницы.")
    it.page.get_by_role("button", name="Отправить комментарий").click()
    expect(it.page.locator(".comment")).to_have_count(2)
    expect(it.page.locator(".comment").nth(1)).to_contain_text("Иванов И. И., Отдел информационных технологий")
    expect(it.page.locator(".comment").nth(1)).to_contain_text("К пункту: Показатель I2")
    it.shot("discussion-report-thread")

    it.goto(f"/amendments/{amendment}")
    link = it.page.locator("ul.files").get_by_role("link", name="Расчёт целей 2017.pdf")
    with it.page.expect_download() as info:
        link.click()
    assert info.value.suggested_filename == "Расчёт целей 2017.pdf"
    assert Path(info.value.path()).read_bytes() == CALCULATION
    it.shot("discussion-amendment-seen-by-it")

    # Each was told by email once: IT of the remark and of the file; economic policy of the answer.
    assert sorted(_subjects_to(services, "it@kotovsk.example")) == [s.replace(" ", "") for s in (
        "Новый комментарий: отчёт за 2016 год (Смирнова О. Н.)",
        f"Новый файл «Расчёт целей 2017.pdf»: проект изменений №{amendment} (Смирнова О. Н.)")]
    assert _subjects_to(services, "econ@kotovsk.example") == [
        "Новый комментарий: отчёт за 2016 год (Иванов И. И.)".replace(" ", "")]
