"""Saved list filters (per user, shown as links above the list) and the reports and amendments exports:
each list's file holds exactly the filtered list's rows, every page of it, in its order."""
from __future__ import annotations

import csv
import io
import re
from urllib.parse import unquote

from openpyxl import load_workbook
from sqlalchemy import func, select

from services import reports as rp
from services.models.audit import AuditEntry
from services.models.reports import Report
from services.models.saved_filters import SavedFilter
from tests.conftest import seed
from tests.integration.test_list_filters import NOW, _amendments, _reports
from tests.page_scan import scan

PASSWORD = "demo-password-1"


def _app(services):
    from services.web.app import create_app

    return create_app(services=services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})


def _client(app, email: str):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


def _stored(services) -> list[tuple]:
    with services.uow() as uow:
        return [tuple(r) for r in uow.session.execute(select(
            SavedFilter.user_id, SavedFilter.list_kind, SavedFilter.name, SavedFilter.query).order_by(SavedFilter.id))]


def _links(html: str, kind: str) -> dict[str, str]:
    """The saved filters shown above the list: name -> the link's query string."""
    section = html.split('aria-label="Сохранённые отборы"', 1)[1].split("</section>", 1)[0]
    return {name: unquote(query).replace("&amp;", "&") for query, name in
            re.findall(rf'<li><a href="/{kind}\??([^"]*)">([^<]+)</a>', section)}


def test_a_saved_filter_is_listed_reopened_replaced_and_deleted_by_its_owner_only(services):
    seed(services)
    app = _app(services)
    it, mfc = _client(app, "it@kotovsk.example"), _client(app, "mfc@kotovsk.example")

    r = it.post("/requests/filters", data={"name": "Просроченные входящие", "query": "box=in&overdue=1&sort=-due&page=3"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/requests?box=in")
    html = it.get("/requests").get_data(as_text=True)
    assert _links(html, "requests") == {"Просроченные входящие": "box=in&overdue=1&sort=-due"}  # no page kept
    assert scan(html) == []
    # The link opens the list with the filter applied (the form shows it).
    page = it.get("/requests?box=in&overdue=1&sort=-due").get_data(as_text=True)
    assert '<option value="in" selected>' in page and 'id="overdue" name="overdue" type="checkbox" value="1" checked' in page

    # The same name again replaces its query (one link per name).
    assert it.post("/requests/filters", data={"name": "Просроченные входящие", "query": "box=out"}).status_code == 302
    assert _links(it.get("/requests").get_data(as_text=True), "requests") == {"Просроченные входящие": "box=out"}
    (saved,) = _stored(services)
    assert saved[1:] == ("requests", "Просроченные входящие", "box=out")

    # Per user and per list: the MFC sees none, the IT department's reports list shows none.
    assert _links(mfc.get("/requests").get_data(as_text=True), "requests") == {}
    assert _links(it.get("/reports").get_data(as_text=True), "reports") == {}

    with services.uow() as uow:
        filter_id = uow.session.execute(select(SavedFilter.id)).scalar_one()
    # Another user can neither see nor delete it: not found, and it stays.
    assert mfc.post(f"/requests/filters/{filter_id}/delete").status_code == 404
    assert mfc.post(f"/reports/filters/{filter_id}/delete").status_code == 404
    assert it.post(f"/reports/filters/{filter_id}/delete").status_code == 404  # not on that list
    assert len(_stored(services)) == 1
    assert it.post(f"/requests/filters/{filter_id}/delete").status_code == 302
    assert _stored(services) == []
    assert it.post(f"/requests/filters/{filter_id}/delete").status_code == 404
    with services.uow() as uow:
        actions = uow.session.execute(select(AuditEntry.action).where(AuditEntry.object_type == "saved_filter")
                                      .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["saved_filter.saved", "saved_filter.saved", "saved_filter.deleted"]


def test_a_filter_the_list_would_refuse_cannot_be_saved_and_nothing_is_stored(services):
    seed(services)
    it = _client(_app(services), "it@kotovsk.example")
    refused = [
        ("requests", {"name": "x", "query": "colour=red"}, "colour"),
        ("requests", {"name": "x", "query": "state=lost"}, "state"),
        ("requests", {"name": "x", "query": "due_from=2026-02-01&due_to=2026-01-01"}, "due_to"),
        ("requests", {"name": "x", "query": "sort=sideways"}, "sort"),
        ("requests", {"name": "x", "query": "state=sent&state=draft"}, "query"),
        ("reports", {"name": "x", "query": "department=it"}, "department"),  # a filter of another list
        ("amendments", {"name": "x", "query": "box=in"}, "box"),
        ("requests", {"name": "", "query": "box=in"}, "name"),
        ("requests", {"name": "   ", "query": "box=in"}, "name"),
        ("requests", {"name": "x" * 101, "query": "box=in"}, "name"),
        ("requests", {"name": "две\nстроки", "query": "box=in"}, "name"),
        ("requests", {"name": "x", "query": "q=" + "а" * 2001}, "query"),
    ]
    for kind, data, field in refused:
        r = it.post(f"/{kind}/filters", data=data)
        assert r.status_code == 422, (kind, data)
        assert field in r.get_data(as_text=True), (kind, data)
    assert _stored(services) == []
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.object_type == "saved_filter")).scalar_one() == 0
    assert it.post("/lists/filters", data={"name": "x", "query": ""}).status_code == 404


def test_at_most_fifty_filters_per_list(services):
    seed(services)
    it = _client(_app(services), "it@kotovsk.example")
    for n in range(50):
        assert it.post("/requests/filters", data={"name": f"Отбор {n:02d}", "query": f"q=n{n}"}).status_code == 302
    r = it.post("/requests/filters", data={"name": "Ещё один", "query": "box=in"})
    assert r.status_code == 422 and "Не больше 50" in r.get_data(as_text=True)
    assert it.post("/requests/filters", data={"name": "Отбор 07", "query": "box=in"}).status_code == 302  # a replace
    assert it.post("/reports/filters", data={"name": "Ещё один", "query": "state=draft"}).status_code == 302
    assert len(_stored(services)) == 51


def _listed(client, kind: str, query: str) -> list[int]:
    """Every id the list shows for ``query``, page after page, in its order."""
    ids, page = [], 1
    while True:
        html = client.get(f"/{kind}?{query}&page={page}").get_data(as_text=True)
        ids += [int(x) for x in re.findall(rf'href="/{kind}/(\d+)"', html)]
        if f"page={page + 1}" not in html:
            return ids
        page += 1


def _report_ids_by_label(services) -> dict[str, int]:
    """A report's row in the file is named as on the page (kind and period: one program, so unique)."""
    with services.uow() as uow:
        return {f"{'Годовой' if r.kind == 'annual' else 'Ежеквартальный'} за {rp.period_label(r)}": r.id
                for r in uow.session.execute(select(Report)).scalars()}


def test_the_reports_and_amendments_exports_hold_exactly_the_filtered_list_across_pages(services):
    seed(services)
    services.clock = lambda: NOW
    for n in range(6):  # 24 of each: more than one page (20)
        _reports(services, n)
        _amendments(services, n)
    econ = _client(_app(services), "econ@kotovsk.example")
    by_label = _report_ids_by_label(services)
    for kind, query in (("reports", "sort=-due"), ("reports", "sort=late"), ("reports", "state=draft&sort=number"),
                        ("reports", "overdue=1&sort=-period"), ("amendments", "sort=-number"),
                        ("amendments", "state=under_review&sort=justification"), ("amendments", "overdue=1")):
        listed = _listed(econ, kind, query)
        r = econ.get(f"/{kind}/export.xlsx?{query}")
        assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet"), (kind, query)
        rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
        r = econ.get(f"/{kind}/export.csv?{query}")
        assert r.status_code == 200 and r.mimetype == "text/csv"
        table = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
        if kind == "reports":
            assert rows[0][:2] == ("Отчёт", "Рег. номер")
            assert [by_label[row[0]] for row in rows[1:]] == listed, (kind, query)
            assert [by_label[row[0]] for row in table[1:]] == listed, (kind, query)
        else:
            assert rows[0][:2] == ("№", "Рег. номер")
            assert [row[0] for row in rows[1:]] == listed, (kind, query)
            assert [int(row[0]) for row in table[1:]] == listed, (kind, query)
    assert len(_listed(econ, "reports", "sort=-due")) == 24 and len(_listed(econ, "amendments", "sort=id")) == 24
    assert len(_listed(econ, "reports", "state=draft&sort=number")) == 6
    assert econ.get("/reports/export.xlsx?state=lost").status_code == 422
    assert econ.get("/amendments/export.csv?sort=sideways").status_code == 422
    assert econ.get("/amendments/export.pdf").status_code == 404
