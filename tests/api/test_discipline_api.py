"""The discipline report over HTTP: figures, drill-down, 422s naming the field, visibility, XLSX and PDF.

The history is the service test's (tests/service/test_discipline_use_cases.py): IT's five requests to
the MFC in February-March 2016 (on time, late by 2 working days, extended and on time, overdue by 7,
withdrawn) and one still open, and economic policy's request to finance; today is 21.03.2016.
"""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from services.models.registry import User
from services.registry import actor_for
from tests.api.test_reports_api import pdf_text
from tests.service.conftest import USERS
from tests.service.test_discipline_use_cases import build_history

YEAR = "from=2016-01-01&to=2016-12-31"


@pytest.fixture
def history(services, tokens):
    with services.uow() as uow:
        users = uow.session.execute(select(User).where(User.email.in_(USERS.values()))).unique().scalars()
        by_email = {u.email: u for u in users}
        actors = {name: actor_for(by_email[email]) for name, email in USERS.items()}
    return build_history(services, actors)


@pytest.fixture
def names(services):
    from services.models.registry import Department

    with services.uow() as uow:
        return {d.code: d.name for d in uow.session.execute(select(Department)).scalars()}


@pytest.fixture
def numbers(services, history):
    """Each history item's registration number, as the exports name it."""
    from services.models.requests import InformationRequest

    with services.uow() as uow:
        return {key: uow.session.get(InformationRequest, item_id).registration_number
                for key, item_id in history.items() if isinstance(item_id, int)}


def dept(body, code):
    return next(d for d in body["departments"] if d["department"] == code)


def test_economic_policy_sees_the_mfc_late_answer_with_its_delay_and_drills_down(as_user, history):
    r = as_user("econ").get(f"/api/v1/discipline?{YEAR}")
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["from"], body["to"], body["today"]) == ("2016-01-01", "2016-12-31", "2016-03-21")
    assert "продлений" in body["definition"]
    mfc = dept(body, "mfc")
    assert mfc["department_name"] != "mfc" and mfc["department_name"]
    t = mfc["total"]
    assert (t["received"], t["on_time"], t["late"], t["overdue"], t["open"], t["withdrawn"]) == (5, 2, 1, 1, 1, 1)
    assert (t["extended"], t["extensions"], t["average_delay"], t["overdue_delay_total"]) == (1, 1, "2.0", 7)
    feb = next(m for m in mfc["months"] if m["month"] == "2016-02")
    assert feb["late"] == 1 and len(mfc["months"]) == 12
    assert {d["department"] for d in body["departments"]} == {"mfc", "finance"}

    r = as_user("econ").get(f"/api/v1/discipline/items?{YEAR}&department=mfc&month=2016-02&figure=late")
    assert r.status_code == 200, r.json
    [item] = r.json["items"]
    assert (item["id"], item["outcome"], item["delay"], item["due"], item["answered"]) == (
        history["B"], "late", 2, "2016-03-04", "2016-03-10")
    assert item["subject"] is None  # counted for economic policy, but its content is the parties'
    mine = as_user("it").get(f"/api/v1/discipline/items?{YEAR}&figure=late").json["items"]
    assert [i["subject"] for i in mine] == ["Б: с опозданием"]
    over = as_user("econ").get(f"/api/v1/discipline/items?{YEAR}&figure=overdue").json["items"]
    assert [(i["id"], i["delay"]) for i in over] == [(history["D"], 7)]
    withdrawn = as_user("econ").get(f"/api/v1/discipline/items?{YEAR}&figure=withdrawn").json
    assert [i["id"] for i in withdrawn["items"]] == [history["E"]] and withdrawn["total"] == 1


def test_a_department_sees_none_of_the_items_it_is_no_party_to(as_user, history):
    for who in ("mfc", "mfc_staff", "it"):
        body = as_user(who).get(f"/api/v1/discipline?{YEAR}").json
        assert [d["department"] for d in body["departments"]] == ["mfc"], who
        items = as_user(who).get(f"/api/v1/discipline/items?{YEAR}&page_size=200").json["items"]
        assert history["X"] not in {i["id"] for i in items}
        assert len(items) == 5
        assert as_user(who).get(f"/api/v1/discipline?{YEAR}&department=finance").json["departments"] == []
    for who in ("econ", "finance", "admin"):
        body = as_user(who).get(f"/api/v1/discipline?{YEAR}").json
        assert body["total"]["received"] == 6, who


@pytest.mark.parametrize("query, field", [
    ("from=2016-13-01", "from"),
    ("from=2016-05-01&to=2016-04-01", "to"),
    ("department=nope", "department"),
    ("program=nope", "program"),
    ("colour=red", "colour"),
])
def test_bad_filters_are_422_naming_the_field(as_user, tokens, query, field):
    for url in ("/api/v1/discipline", "/api/v1/discipline/items", "/api/v1/discipline.xlsx",
                "/api/v1/discipline.pdf"):
        r = as_user("econ").get(f"{url}?{query}")
        assert r.status_code == 422, (url, query, r.status_code)
        assert field in str(r.json["error"]["fields"]), (url, r.json)


@pytest.mark.parametrize("query, field", [("page_size=201", "page_size"), ("figure=bogus", "figure"),
                                          ("month=2016-13", "month"), (f"{YEAR}&month=2017-01", "month")])
def test_bad_drill_down_is_422_naming_the_field(as_user, tokens, query, field):
    r = as_user("econ").get(f"/api/v1/discipline/items?{query}")
    assert r.status_code == 422, r.json
    assert field in str(r.json["error"]["fields"])


def test_xlsx_has_numeric_cells_and_department_names(as_user, history, names, numbers):
    r = as_user("econ").get(f"/api/v1/discipline.xlsx?{YEAR}&department=mfc")
    assert r.status_code == 200
    assert "attachment" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["Сводка"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header = next(i for i, row in enumerate(rows) if row[0] == "Подразделение")
    mfc = rows[header + 1]
    assert mfc[0] == names["mfc"]
    assert mfc[1:9] == [5, 2, 1, 1, 1, 1, 1, 1]
    assert all(isinstance(v, int) for v in mfc[1:9])
    assert mfc[9] == 2 and isinstance(mfc[9], (int, float))
    assert ws.cell(row=header + 2, column=10).number_format == "0.0"
    items = [[c.value for c in row] for row in wb["Запросы"].iter_rows(min_row=2)]
    assert numbers["B"] and numbers["B"].startswith("ИТ-2016/")
    late = next(i for i in items if i[0] == numbers["B"])
    assert late[8] == 2 and isinstance(late[8], int)
    assert not any(c in ("mfc", "it") for row in items for c in row)


def test_pdf_states_the_definition_and_the_figures(as_user, history, numbers, tmp_path):
    r = as_user("econ").get(f"/api/v1/discipline.pdf?{YEAR}")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    text = " ".join(pdf_text(r.data, tmp_path))
    assert "Отчёт об исполнительской дисциплине" in text
    assert "Страница 1 из 2" in text and "Страница 2 из 2" in text  # the footer counts the pages
    assert "Период: 01.01.2016 — 31.12.2016; состояние на 21.03.2016" in text
    assert "«В срок» — ответ дан не позже срока" in text
    assert "Итого 6 3 1 1 1 1 1 1 2,0 75,0 %" in text  # received, on time, late, overdue, open, ...
    assert "Б: с опозданием" not in text  # economic policy is no party: the subject is not shown
    assert f"{numbers['B']} 26.02.2016 04.03.2016 10.03.2016 С опозданием 2 0" in text
    assert f"{numbers['D']} 01.03.2016 10.03.2016 — Просрочен 7 0" in text
    assert "март 2016" in text
    assert " mfc " not in f" {text} "
    it_text = " ".join(pdf_text(as_user("it").get(f"/api/v1/discipline.pdf?{YEAR}").data, tmp_path))
    assert "Б: с опозданием" in it_text and "Г: просрочен" in it_text  # the requester sees its subjects
