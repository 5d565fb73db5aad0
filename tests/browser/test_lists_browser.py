"""Issue 15 item 3, done when: through the web pages alone a user finds a request by its registration
number, sorts and filters the requests list, saves that filter, reopens it from its link, exports it
to XLSX, and the file (opened here with openpyxl) holds exactly the list's rows in its order.
"""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from services import information_requests as ir
from services.models.registry import User
from services.registry import actor_for

PROGRAM = "kotovsk-information-society"
SUBJECTS = ["Кадры", "Бюджет", "Жалобы", "Архив", "Дороги", "Вода", "Газ", "Еда", "Земля", "Иски", "Лес",
            "Мосты", "Налоги", "Опека", "Парки", "Рынки", "Связь", "Тарифы", "Уборка", "Фасады", "Хранение",
            "Цены", "Школы"]


def _sent_requests(services) -> list:
    """23 requests from IT to the MFC (more than a page) and 3 to finance, sent: each gets a number."""
    with services.uow() as uow:
        it = actor_for(uow.session.execute(select(User).where(User.email == "it@kotovsk.example")).scalar_one())
    copies = []
    with services.uow() as uow:
        for n, subject in enumerate(SUBJECTS + ["Финансы 1", "Финансы 2", "Финансы 3"]):
            _, made = ir.create_request(uow, services, it, ir.NewRequest(
                program=PROGRAM, subject=subject, body="", working_days=5, send=True,
                addressees=["finance" if n >= len(SUBJECTS) else "mfc"]))
            copies += made
        uow.commit()
        return [(c.id, c.registration_number, c.thread.subject) for c in copies]


def _rows(page) -> list[tuple[int, str]]:
    """The list's rows as the page shows them: id and subject."""
    out = []
    for row in page.locator("table.list tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        if len(cells) > 2:
            out.append((int(cells[0]), cells[2].strip()))
    return out


def test_a_user_finds_sorts_filters_saves_reopens_and_exports_the_requests_list(people_in_browser, live):
    made = _sent_requests(live.services)
    target_id, target_number, target_subject = next(c for c in made if c[2] == "Опека")
    assert target_number

    it = people_in_browser("it")
    page = it.page
    page.get_by_role("link", name="Запросы", exact=True).click()

    # 1. Found by its registration number, typed as a person would (any case).
    page.get_by_label("Рег. номер").fill(target_number.lower())
    page.get_by_role("button", name="Найти").click()
    assert _rows(page) == [(target_id, target_subject)]
    assert page.locator("td.regnum").all_inner_texts() == [target_number]
    page.get_by_label("Рег. номер").fill("")

    # 2. Filtered: sent to the MFC.
    page.get_by_label("Состояние").select_option(label="Направлен")
    page.get_by_label("Кому").select_option(value="mfc")
    page.get_by_role("button", name="Найти").click()
    assert "Найдено: 23" in page.content()

    # 3. Sorted by subject, then reversed, by clicking the header; the direction is shown and said.
    page.get_by_role("link", name="Тема").click()
    header = page.locator("th", has_text="Тема")
    assert header.get_attribute("aria-sort") == "ascending" and "▲" in header.inner_text()
    assert [s for _, s in _rows(page)] == sorted(SUBJECTS)[:20]
    page.get_by_role("link", name="Тема").click()
    header = page.locator("th", has_text="Тема")
    assert header.get_attribute("aria-sort") == "descending" and "▼" in header.inner_text()
    first_page = _rows(page)
    assert [s for _, s in first_page] == sorted(SUBJECTS, reverse=True)[:20]
    it.shot("requests-list-sorted-filtered")
    # The filter stays when the order changes, and the order when the filter changes.
    assert page.get_by_label("Кому").input_value() == "mfc"
    page.get_by_role("link", name="Вперёд →").click()
    whole_list = first_page + _rows(page)
    assert [s for _, s in whole_list] == sorted(SUBJECTS, reverse=True)

    # 4. Saved under a name; shown as a link above the list; reopened from it on a bare list.
    page.get_by_label("Сохранить отбор как").fill("МФЦ по теме, с конца")
    page.get_by_role("button", name="Сохранить").click()
    assert "Отбор «МФЦ по теме, с конца» сохранён." in page.content()
    page.get_by_role("link", name="Запросы", exact=True).click()
    assert "Найдено: 26" in page.content()
    page.get_by_role("link", name="МФЦ по теме, с конца").click()
    assert re.search(r"sort=-subject", page.url) and "page=" not in page.url
    assert _rows(page) == first_page
    it.shot("requests-list-saved-filter")

    # 5. Exported to XLSX: every page of the list, in its order, nothing else.
    with page.expect_download() as download:
        page.get_by_role("link", name="XLSX").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as f:
        sheet = load_workbook(io.BytesIO(f.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("№", "Рег. номер", "Тема")
    assert [(r[0], r[2]) for r in rows[1:]] == whole_list
    numbers = {c[0]: c[1] for c in made}
    assert [r[1] for r in rows[1:]] == [numbers[i] for i, _ in whole_list]


def test_the_reports_and_amendments_lists_sort_by_their_headers(people_in_browser, live):
    econ = people_in_browser("econ")
    page = econ.page
    for name, header in (("Отчёты", "Срок"), ("Изменения", "Рег. номер")):
        page.get_by_role("link", name=name, exact=True).click()
        page.get_by_role("link", name=header, exact=True).click()
        assert page.locator("th", has_text=header).first.get_attribute("aria-sort") == "ascending"
        econ.shot(f"{'reports' if name == 'Отчёты' else 'amendments'}-list-sorted")
