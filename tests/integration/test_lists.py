"""The web and API lists page, sort and search in the database, on SQLite and PostgreSQL alike.

The old lists loaded at most 5,000 rows into Python: with more, the last page showed the 5,000th
newest row, the total said 5,000, and a search never found an older row. Rows here are written in
bulk (Core inserts), then read through the pages and the API as the demo users.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from services import lists
from services.models.registry import Department, Program, User
from services.models.requests import InformationRequest, RequestThread
from services.models.search import search_key
from services.registry import actor_for
from tests.conftest import seed

PROGRAM = "kotovsk-information-society"
PASSWORD = "demo-password-1"
T0 = datetime(2026, 1, 12, 9, 0, tzinfo=timezone.utc)
N = 5_050


def _ids(session) -> dict:
    depts = dict(session.execute(select(Department.code, Department.id)).all())
    it_head = session.execute(select(User.id).where(User.email == "it@kotovsk.example")).scalar_one()
    program = session.execute(select(Program.id).where(Program.slug == PROGRAM)).scalar_one()
    return {"depts": depts, "user": it_head, "program": program}


def bulk_requests(services, rows: list[dict]) -> list[int]:
    """One thread and one sent copy per row (IT to ``to``), in id order; returns the copies' ids."""
    with services.uow() as uow:
        s = uow.session
        ids = _ids(s)
        threads = [{"program_id": ids["program"], "requester_department_id": ids["depts"]["it"],
                    "created_by_id": ids["user"], "subject": r["subject"], "body": r.get("body", ""),
                    "form": [], "working_days": 5, "created_at": T0,
                    "search_text": search_key(r["subject"], r.get("body", ""))} for r in rows]
        first = (s.execute(select(RequestThread.id).order_by(RequestThread.id.desc()).limit(1)).scalar() or 0) + 1
        s.execute(insert(RequestThread), threads)
        copies = [{"thread_id": first + i, "department_id": ids["depts"][r.get("to", "mfc")],
                   "requester_department_id": ids["depts"]["it"],
                   "state": r.get("state", "sent"), "working_days": 5,
                   "sent_at": None if r.get("state") == "draft" else T0,
                   "due_date": r["due"].date() if r.get("due") else None, "due_at": r.get("due"),
                   "pauses": [], "extensions": [], "created_at": T0, "updated_at": T0} for i, r in enumerate(rows)]
        s.execute(insert(InformationRequest), copies)
        out = s.execute(select(InformationRequest.id).where(InformationRequest.thread_id >= first)
                        .order_by(InformationRequest.id)).scalars().all()
        uow.commit()
    return list(out)


@pytest.fixture
def web(any_services):
    from services.web.app import create_app

    seed(any_services)
    app = create_app(services=any_services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})

    def client(email: str):
        c = app.test_client()
        r = c.post("/login", data={"email": email, "password": PASSWORD})
        assert r.status_code == 302, r.get_data(as_text=True)[:300]
        return c

    return client


def _row_ids(html: str, kind: str = "requests") -> list[int]:
    return [int(i) for i in re.findall(rf'href="/{kind}/(\d+)"', html)]


def _actor(services, email: str):
    with services.uow() as uow:
        return actor_for(uow.session.execute(select(User).where(User.email == email)).scalar_one())


def test_more_than_5000_requests_the_last_page_shows_the_oldest_and_the_total_is_right(web, any_services):
    ids = bulk_requests(any_services, [{"subject": f"Запрос {i}"} for i in range(N)])
    it = web("it@kotovsk.example")
    last = -(-N // 20)  # 253 pages of 20
    html = it.get(f"/requests?page={last}").get_data(as_text=True)
    assert f"Найдено: {N}" in html
    assert f"Страница {last} из {last}" in html
    assert _row_ids(html) == list(reversed(ids[: N - (last - 1) * 20]))  # the ten oldest, newest first
    first = it.get("/requests").get_data(as_text=True)
    assert _row_ids(first) == list(reversed(ids[-20:]))
    # The home page counts every request IT still waits on, and shows the soonest 200 of them.
    home = it.get("/").get_data(as_text=True)
    assert f"Ждём от других подразделений ({N})" in home
    assert len(set(_row_ids(home))) == 200 and "Все исходящие в списке запросов" in home
    # The API's pages reach the same oldest rows, with the exact total.
    with any_services.uow() as uow:
        found = lists.request_page(uow.session, _actor(any_services, "mfc@kotovsk.example"),
                           lists.RequestQuery(sort="old", per_page=7), count_limit=None)
        assert found.total == N and [r.id for r in found.items] == ids[:7]


def test_a_search_finds_the_oldest_of_many_ignoring_case_and_yo(web, any_services):
    rows = [{"subject": "Отчёт о посещаемости сайта"}, {"subject": "отчет без буквы ё", "body": "за 2016 год"}]
    rows += [{"subject": "Прочие сведения"} for _ in range(N)]
    rows += [{"subject": "Сведения", "body": "Приложите ОТЧЁТ МФЦ"}]
    ids = bulk_requests(any_services, rows)
    it = web("it@kotovsk.example")
    # "ОТЧЁТ" finds "Отчёт", "отчет" and the body's "ОТЧЁТ": ё and е are one letter to the search.
    for q in ("ОТЧЁТ", "отчет", "Отчёт"):
        html = it.get("/requests", query_string={"q": q}).get_data(as_text=True)
        assert _row_ids(html) == [ids[-1], ids[1], ids[0]], q
        assert "Найдено: 3" in html
    # Every word must be found, in any of the row's texts.
    html = it.get("/requests", query_string={"q": "посещаемости отчёт"}).get_data(as_text=True)
    assert _row_ids(html) == [ids[0]]
    html = it.get("/requests", query_string={"q": "отчет 2016"}).get_data(as_text=True)
    assert _row_ids(html) == [ids[1]]
    # A number finds the request with that number.
    html = it.get("/requests", query_string={"q": f"прочие {ids[1000]}"}).get_data(as_text=True)
    assert _row_ids(html) == [ids[1000]]
    # LIKE's own wildcards are plain characters to the search.
    assert _row_ids(it.get("/requests", query_string={"q": "%"}).get_data(as_text=True)) == []
    assert _row_ids(it.get("/requests", query_string={"q": "_"}).get_data(as_text=True)) == []


def test_sort_orders_and_filters_return_the_right_rows(web, any_services):
    due = [T0 + timedelta(days=d) for d in (5, 1, 3)]
    rows = [{"subject": "Альфа", "due": due[0]}, {"subject": "Бета", "due": due[1]},
            {"subject": "Гамма", "due": None, "state": "answered"}, {"subject": "Дельта", "due": due[2]},
            {"subject": "Эпсилон", "to": "finance", "due": due[1]}]
    ids = bulk_requests(any_services, rows)
    it = web("it@kotovsk.example")
    get = lambda q: _row_ids(it.get("/requests", query_string=q).get_data(as_text=True))  # noqa: E731
    assert get({}) == list(reversed(ids))
    assert get({"sort": "old"}) == ids
    # By due date: soonest first, ties by number, no deadline last.
    assert get({"sort": "due"}) == [ids[1], ids[4], ids[3], ids[0], ids[2]]
    assert get({"state": "answered"}) == [ids[2]]
    assert get({"q": "финансов", "sort": "old"}) == [ids[4]]  # the addressee's name
    assert get({"q": "получен ответ"}) == [ids[2]]  # the state's label
    # The finance department sees only its own copy; MFC only what was sent to it.
    assert _row_ids(web("finance@kotovsk.example").get("/requests").get_data(as_text=True)) == [ids[4]]
    assert _row_ids(web("mfc@kotovsk.example").get("/requests?box=in&sort=old").get_data(as_text=True)) == ids[:4]
    assert _row_ids(web("mfc@kotovsk.example").get("/requests?box=out").get_data(as_text=True)) == []


def test_drafts_stay_the_requesters_in_a_search(web, any_services):
    ids = bulk_requests(any_services, [{"subject": "Черновик тайный", "state": "draft"},
                                       {"subject": "Отправленный тайный"}])
    assert _row_ids(web("mfc@kotovsk.example").get("/requests?q=тайный").get_data(as_text=True)) == [ids[1]]
    assert _row_ids(web("it@kotovsk.example").get("/requests?q=тайный").get_data(as_text=True)) == [ids[1], ids[0]]


def test_the_api_list_searches_sorts_and_counts_exactly(any_services):
    from services.web.app import create_app

    tokens = seed(any_services)
    ids = bulk_requests(any_services, [{"subject": "Отчёт один"}, {"subject": "Другое"}, {"subject": "ОТЧЕТ два"}])
    app = create_app(services=any_services, test_config={"TESTING": True})
    client = app.test_client()
    r = client.get("/api/v1/requests", query_string={"q": "отчёт", "sort": "old", "page_size": 1},
                   headers={"Authorization": f"Bearer {tokens['mfc']}"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == 2 and [i["id"] for i in body["items"]] == [ids[0]]
    r = client.get("/api/v1/requests", query_string={"sort": "sideways"},
                   headers={"Authorization": f"Bearer {tokens['mfc']}"})
    assert r.status_code == 422 and "sort" in r.get_data(as_text=True)


def test_past_the_count_limit_the_page_says_more_and_still_pages(any_services, monkeypatch):
    seed(any_services)
    ids = bulk_requests(any_services, [{"subject": f"Запрос {i}"} for i in range(30)])
    monkeypatch.setattr(lists, "COUNT_LIMIT", 10)
    admin = _actor(any_services, "admin@kotovsk.example")
    with any_services.uow() as uow:
        first = lists.request_page(uow.session, admin, lists.RequestQuery(per_page=4),
                                   count_limit=lists.COUNT_LIMIT)
        assert not first.exact and first.total == 11 and first.has_next
        assert [r.id for r in first.items] == list(reversed(ids))[:4]
        deep = lists.request_page(uow.session, admin, lists.RequestQuery(per_page=4, page=8),
                                  count_limit=lists.COUNT_LIMIT)
        assert [r.id for r in deep.items] == list(reversed(ids))[28:] and deep.exact and deep.total == 30


def test_reports_follow_the_version_in_force_at_each_period_end(any_services):
    """A version adopted on 10.05.2017 drops MFC: MFC keeps the reports of periods ending before it."""
    import copy
    from datetime import date

    from services import reports as rp
    from services.models.registry import ProgramVersion
    from services.models.reports import Report
    from workflows.core import NotFound

    seed(any_services)
    with any_services.uow() as uow:
        s = uow.session
        program = s.execute(select(Program).where(Program.slug == PROGRAM)).scalar_one()
        first = s.execute(select(ProgramVersion).where(ProgramVersion.program_id == program.id)).scalar_one()
        passport = copy.deepcopy(first.passport)
        passport["departments"] = [d for d in passport["departments"] if d["code"] != "mfc"]
        passport["co_executors"] = [c for c in passport["co_executors"] if c != "mfc"]
        for activity in passport["activities"]:
            if activity.get("executor") == "mfc":
                activity["executor"] = "it"
        s.add(ProgramVersion(program_id=program.id, number=2, passport=passport,
                             resolution_date=date(2017, 5, 10), note=""))
        uow.commit()
    with any_services.uow() as uow:
        rp.schedule_cycles(uow, any_services, date(2017, 12, 31), backlog=True)
        uow.commit()
    who = {e: _actor(any_services, e) for e in ("mfc@kotovsk.example", "econ@kotovsk.example",
                                                 "admin@kotovsk.example")}
    with any_services.uow() as uow:
        s = uow.session
        reports = s.execute(select(Report)).unique().scalars().all()
        assert len(reports) > 10
        before = {r.id for r in reports if (r.year, r.quarter or 4) <= (2017, 1)}
        assert before and before != {r.id for r in reports}
        for email, expected in (("mfc@kotovsk.example", before), ("econ@kotovsk.example", {r.id for r in reports}),
                                ("admin@kotovsk.example", {r.id for r in reports})):
            listed = [r.id for r in lists.report_page(s, who[email], lists.ReportQuery(per_page=None)).items]
            assert set(listed) == expected, email
            assert len(listed) == len(expected)
            for r in reports:  # the same rule as opening the report
                try:
                    rp.get_visible(s, who[email], r.id)
                    assert r.id in expected, (email, r.period)
                except NotFound:
                    assert r.id not in expected, (email, r.period)
        # Sorted latest period first, the annual report after its year's fourth quarter.
        listed = lists.report_page(s, who["admin@kotovsk.example"],
                                   lists.ReportQuery(q="2016")).items
        assert [r.period for r in listed] == ["2016", "2016-Q3", "2016-Q2", "2016-Q1"]
