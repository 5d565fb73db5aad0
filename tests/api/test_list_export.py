"""The requests list exported: exactly the filtered list, every page of it, in words; a filter no
form offers is a 422 naming the field (it was silently ignored before)."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

from openpyxl import load_workbook

from services import information_requests as ir
from services.models.registry import User
from services.registry import actor_for
from tests.conftest import seed
from tests.page_scan import scan

PROGRAM = "kotovsk-information-society"


def _client(services, email: str):
    from services.web.app import create_app

    app = create_app(services=services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"email": email, "password": "demo-password-1"})
    return client


def _requests(services, n_sent: int, n_draft: int) -> None:
    with services.uow() as uow:
        it = actor_for(uow.session.query(User).filter_by(email="it@kotovsk.example").one())
    with services.uow() as uow:
        for n in range(n_sent + n_draft):
            ir.create_request(uow, services, it, ir.NewRequest(
                program=PROGRAM, subject=f"=Сведения №{n:02d}" if n == 0 else f"Сведения №{n:02d}", body="-",
                addressees=["mfc"], working_days=5, send=n < n_sent))
        uow.commit()


def _listed_ids(client, query: str) -> list[int]:
    """Every id the list shows for ``query``, page after page, in its order."""
    ids, page = [], 1
    while True:
        html = client.get(f"/requests?{query}&page={page}").get_data(as_text=True)
        found = [int(x) for x in re.findall(r'<a href="/requests/(\d+)">', html)]
        ids += found
        if f"page={page + 1}" not in html:
            return ids
        page += 1


def test_the_export_holds_exactly_the_filtered_list(services):
    seed(services)
    _requests(services, n_sent=27, n_draft=4)  # more than one page (20) of sent requests
    it = _client(services, "it@kotovsk.example")
    query = "state=sent&sort=old"
    listed = _listed_ids(it, query)
    assert len(listed) == 27

    page = it.get(f"/requests?{query}").get_data(as_text=True)
    assert 'href="/requests/export.xlsx?state=sent&amp;sort=old"' in page
    assert scan(page) == []

    r = it.get(f"/requests/export.xlsx?{query}")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in r.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(r.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("№", "Рег. номер", "Тема", "От кого", "Кому", "Состояние", "Направлен", "Срок", "Просрочен")
    assert [row[0] for row in rows[1:]] == listed  # the same rows, the same order
    first = rows[1]
    assert first[1].startswith("ИТ-")  # the registration number, as the list shows it
    assert first[2] == "=Сведения №00" and sheet.cell(row=2, column=3).data_type == "s"  # text, not a formula
    assert first[3] == "Отдел информационных технологий администрации города"
    assert first[4].startswith("Котовское муниципальное казенное учреждение")
    assert first[5] == "Направлен"
    assert isinstance(first[7], (date,)) and sheet.cell(row=2, column=8).number_format == "DD.MM.YYYY"

    r = it.get(f"/requests/export.csv?{query}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert [int(row[0]) for row in table[1:]] == listed
    assert table[1][2] == "'=Сведения №00"  # OWASP's leading quote
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", table[1][7])


def test_a_department_exports_only_what_it_may_see(services):
    seed(services)
    _requests(services, n_sent=3, n_draft=2)
    econ = _client(services, "econ@kotovsk.example")  # no party to IT's requests to the MFC
    sheet = load_workbook(io.BytesIO(econ.get("/requests/export.xlsx").data)).active
    assert sheet.max_row == 1  # the header alone
    mfc = _client(services, "mfc@kotovsk.example")
    sheet = load_workbook(io.BytesIO(mfc.get("/requests/export.xlsx").data)).active
    assert sheet.max_row == 1 + 3  # the sent copies; drafts are the IT department's own


def test_a_filter_no_form_offers_is_named(services):
    seed(services)
    it = _client(services, "it@kotovsk.example")
    r = it.get("/requests?state=lost&sort=sideways&box=in")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="err-state">Такого значения нет в списке.' in html and 'id="err-sort">Такого значения нет в списке.' in html
    assert 'aria-describedby="err-state"' in html
    assert it.get("/requests/export.csv?state=lost").status_code == 422
    assert it.get("/requests/export.pdf").status_code == 404


def test_the_reports_and_amendments_lists_name_an_unknown_filter(services):
    seed(services)
    econ = _client(services, "econ@kotovsk.example")
    for url, fields in (("/reports?state=lost", ["state"]), ("/amendments?state=lost&sort=sideways", ["state", "sort"])):
        r = econ.get(url)
        assert r.status_code == 422, url
        html = r.get_data(as_text=True)
        for field in fields:
            assert re.search(rf'<span class="field-error" id="err-{field}">Такого значения нет в списке.</span>', html), (url, field)
        assert scan(html) == []
    assert econ.get("/reports?state=submitted").status_code == 200
    assert econ.get("/amendments?state=under_review&sort=old").status_code == 200
