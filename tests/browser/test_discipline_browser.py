"""Issue 15 item 2, done when: economic policy opens the discipline report for 2016, sees the MFC's late
answer counted with its delay in working days, drills down to it, and downloads the PDF.

The history is the service test's (tests/service/test_discipline_use_cases.py), today 21.03.2016.
"""
from __future__ import annotations

from sqlalchemy import select

from services.models.registry import User
from services.models.requests import InformationRequest
from services.registry import actor_for
from tests.service.conftest import USERS
from tests.service.test_discipline_use_cases import build_history


def test_economic_policy_walks_the_2016_discipline_report(people_in_browser, live):
    services = live.services
    with services.uow() as uow:
        users = {u.email: u for u in uow.session.execute(select(User)).unique().scalars()}
        actors = {name: actor_for(users[email]) for name, email in USERS.items()}
    history = build_history(services, actors)

    econ = people_in_browser("econ")
    page = econ.page
    page.get_by_role("link", name="Исполнительская дисциплина").click()
    page.get_by_label("Направлены с").fill("2016-01-01")
    page.get_by_label("по", exact=True).fill("2016-12-31")
    page.get_by_role("button", name="Показать").click()
    assert "«В срок» — ответ дан не позже срока" in page.locator("#definition").inner_text()
    row = page.locator("#by-department tbody tr", has_text="Многофункциональный")
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[:3] == ["5", "2", "1"] and cells[8] == "2,0"
    econ.shot("discipline-2016")
    row.get_by_role("link", name="С опозданием: 1").click()
    items = page.locator("#items tbody tr")
    assert items.count() == 1
    text = " ".join(items.first.inner_text().split())
    with services.uow() as uow:  # the late copy, named by its registration number
        number = uow.session.get(InformationRequest, history["B"]).registration_number
    assert number and text.startswith(f"{number} ")
    assert "10.03.2016" in text and "С опозданием 2" in text
    page.get_by_role("link", name="← К отчёту").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Скачать PDF").click()
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read(4) == b"%PDF"
