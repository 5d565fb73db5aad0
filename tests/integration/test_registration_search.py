"""Registration numbers where people see and look for them: the API, the pages, the lists' search and the
emails, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select, update

from services.models.mail import OutgoingEmail
from services.models.reports import Report
from services import reports
from tests.conftest import seed

PROGRAM = "kotovsk-information-society"
PASSWORD = "demo-password-1"
RAISE_2017 = {"financing": [{"year": 2017, "source": "city", "amount": "3329.4"}]}


@pytest.fixture
def world(any_services):
    from services.web.app import create_app

    tokens = seed(any_services)
    app = create_app(services=any_services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})

    def api(who):
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        return lambda method, url, **kw: getattr(client, method)(url, headers=headers, **kw)

    def web(email):
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
        return client

    return any_services, api, web


def _send(api, subject, addressees=("mfc",)):
    r = api("it")("post", "/api/v1/requests", json={
        "program": PROGRAM, "subject": subject, "body": "", "addressees": list(addressees), "send": True})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _ids(api, url, q):
    r = api("it")("get", url, query_string={"q": q})
    assert r.status_code == 200, r.get_json()
    return [i["id"] for i in r.get_json()["items"]]


def test_a_request_is_found_by_its_number_and_shown_with_it(world):
    services, api, web = world
    first = _send(api, "Сведения о заявлениях", ("mfc", "finance"))
    second = _send(api, "Другие сведения")
    year = date.today().year  # the real clock: the API path has no test clock
    assert [c["registration_number"] for c in first["requests"]] == [f"ИТ-{year}/00001/1", f"ИТ-{year}/00001/2"]
    r = api("it")("get", "/api/v1/requests", query_string={"sort": "old"})
    items = r.get_json()["items"]
    numbers = {i["id"]: i["registration_number"] for i in items}
    assert sorted(numbers.values()) == [f"ИТ-{year}/00001/1", f"ИТ-{year}/00001/2", f"ИТ-{year}/00002/1"]
    by_number = {v: k for k, v in numbers.items()}
    one = api("it")("get", f"/api/v1/requests/{by_number[f'ИТ-{year}/00002/1']}").get_json()
    assert (one["registration_number"], one["registration_date"]) == (f"ИТ-{year}/00002/1", date.today().isoformat())

    # The lists' q: the whole number, in any case; the thread's number finds all its copies.
    assert _ids(api, "/api/v1/requests", f"ИТ-{year}/00002/1") == [by_number[f"ИТ-{year}/00002/1"]]
    assert _ids(api, "/api/v1/requests", f"ит-{year}/00002/1") == [by_number[f"ИТ-{year}/00002/1"]]
    assert sorted(_ids(api, "/api/v1/requests", f"ИТ-{year}/00001")) == sorted(
        [by_number[f"ИТ-{year}/00001/1"], by_number[f"ИТ-{year}/00001/2"]])
    assert _ids(api, "/api/v1/requests", f"ИТ-{year}/00003") == []
    # An addressee finds only what it may see.
    r = api("finance")("get", "/api/v1/requests", query_string={"q": f"ИТ-{year}/00001"})
    assert [i["registration_number"] for i in r.get_json()["items"]] == [f"ИТ-{year}/00001/2"]
    r = api("finance")("get", "/api/v1/requests", query_string={"q": f"ИТ-{year}/00002"})
    assert r.get_json()["items"] == []

    # The pages: the item's title and summary, the list's column and search.
    it = web("it@kotovsk.example")
    rid = by_number[f"ИТ-{year}/00002/1"]
    html = it.get(f"/requests/{rid}").get_data(as_text=True)
    assert f"<title>Запрос ИТ-{year}/00002/1" in html
    assert re.search(rf'<strong class="regnum">ИТ-{year}/00002/1</strong> от \d\d\.\d\d\.{year}', html)
    html = it.get("/requests", query_string={"q": f"ит-{year}/00002"}).get_data(as_text=True)
    assert re.findall(r'href="/requests/(\d+)"', html) == [str(rid)]
    assert f'<td class="regnum">ИТ-{year}/00002/1</td>' in html

    # The emails' subjects.
    with services.uow() as uow:
        subjects = set(uow.session.execute(select(OutgoingEmail.subject)).scalars())
    assert f"Запрос информации ИТ-{year}/00002/1: Другие сведения" in {s.split(" (срок")[0] for s in subjects}


def test_a_draft_shows_its_id_until_sent(world):
    services, api, web = world
    r = api("it")("post", "/api/v1/requests", json={
        "program": PROGRAM, "subject": "Черновик", "body": "", "addressees": ["mfc"], "send": False})
    body = r.get_json()
    [rid] = [c["id"] for c in body["requests"]]
    one = api("it")("get", f"/api/v1/requests/{rid}").get_json()
    assert (one["registration_number"], one["registration_date"]) == (None, None)
    html = web("it@kotovsk.example").get(f"/requests/{rid}").get_data(as_text=True)
    assert f"<title>Запрос №{rid}" in html and "присваивается при отправке" in html


def test_an_amendment_and_a_report_are_found_by_their_numbers(world):
    services, api, web = world
    year = date.today().year
    r = api("it")("post", "/api/v1/amendments", json={"program": PROGRAM, "justification": "Средства.",
                                                       "changes": RAISE_2017})
    aid = r.get_json()["id"]
    r = api("it")("post", f"/api/v1/amendments/{aid}/transitions", json={"event": "submit_for_review"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["registration_number"] == f"ИТ-{year}/00001"
    assert _ids(api, "/api/v1/amendments", f"ит-{year}/00001") == [aid]
    html = web("econ@kotovsk.example").get(f"/amendments/{aid}").get_data(as_text=True)
    assert f"<h1>Проект изменений ИТ-{year}/00001</h1>" in html
    html = web("econ@kotovsk.example").get("/amendments", query_string={"q": f"ИТ-{year}/00001"}).get_data(
        as_text=True)
    assert f'<td class="regnum">ИТ-{year}/00001</td>' in html

    reports.run_schedule(services, date(2017, 6, 1), backlog=True)
    with services.uow() as uow:
        rid = uow.session.execute(select(Report.id).where(Report.period == "2016")).scalar_one()
        uow.session.execute(update(Report).where(Report.id == rid).values(state="ready"))
        uow.commit()
    r = api("it")("post", f"/api/v1/reports/{rid}/transitions", json={"event": "submit", "data": {"note": "З"}})
    assert r.status_code == 200, r.get_json()
    view = api("it")("get", f"/api/v1/reports/{rid}").get_json()
    assert view["registration_number"] == f"ИТ-{year}/00002"
    assert _ids(api, "/api/v1/reports", f"ИТ-{year}/00002") == [rid]
    html = web("it@kotovsk.example").get(f"/reports/{rid}").get_data(as_text=True)
    assert f'<span class="regnum">ИТ-{year}/00002</span></h1>' in html
    html = web("it@kotovsk.example").get("/reports", query_string={"q": f"ит-{year}/00002"}).get_data(as_text=True)
    assert re.findall(r'href="/reports/(\d+)"', html) == [str(rid)]
    xlsx = api("it")("get", f"/api/v1/reports/{rid}.xlsx")
    assert xlsx.status_code == 200
    from io import BytesIO
    from openpyxl import load_workbook
    sheet = load_workbook(BytesIO(xlsx.data)).active
    assert f"рег. № ИТ-{year}/00002 от " in sheet["A2"].value
    with services.uow() as uow:
        subjects = list(uow.session.execute(select(OutgoingEmail.subject)).scalars())
    assert any(s.startswith(f"Представлен отчёт за 2016 год (ИТ-{year}/00002)") for s in subjects), subjects
