"""Every filter and every order of the three lists, on a set of items written for them, on SQLite and
PostgreSQL: the exact ids in their order, through the web page and through the API (the same
filters, one envelope). The expected orders are written out by hand from the rows below.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timezone

import pytest
from sqlalchemy import insert, select

from services.models.amendments import Amendment
from services.models.registry import Department, Program, User
from services.models.reports import Report
from services.models.requests import InformationRequest, RequestThread
from services.models.search import search_key
from tests.conftest import seed

PROGRAM = "kotovsk-information-society"
PASSWORD = "demo-password-1"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
T0 = datetime(2026, 1, 12, 9, 0, tzinfo=timezone.utc)


def _due(day: date | None):
    return None if day is None else datetime.combine(day, time(20, 59, 59), tzinfo=timezone.utc)


# id order is row order. from/to are department codes; "mine": assigned to the IT head.
REQUESTS = [
    {"subject": "Бюджет", "from": "it", "to": "mfc", "due": date(2026, 1, 15), "number": "ИТ-0003"},
    {"subject": "Архив", "from": "it", "to": "finance", "due": date(2031, 3, 1), "number": "ИТ-0001"},
    {"subject": "Вода", "from": "mfc", "to": "it", "due": date(2026, 1, 20), "number": "МФЦ-0002", "mine": True},
    {"subject": "Газ", "from": "it", "to": "mfc", "due": None, "state": "draft"},
    {"subject": "Дороги", "from": "it", "to": "mfc", "due": date(2031, 3, 1), "number": "ИТ-0002",
     "state": "answered"},
]


def _requests(services) -> list[int]:
    with services.uow() as uow:
        s = uow.session
        depts = dict(s.execute(select(Department.code, Department.id)).all())
        it_head = s.execute(select(User.id).where(User.email == "it@kotovsk.example")).scalar_one()
        program = s.execute(select(Program.id).where(Program.slug == PROGRAM)).scalar_one()
        ids = []
        for r in REQUESTS:
            thread = s.execute(insert(RequestThread).returning(RequestThread.id), [{
                "program_id": program, "requester_department_id": depts[r["from"]], "created_by_id": it_head,
                "subject": r["subject"], "body": "", "form": [], "working_days": 5, "created_at": T0,
                "search_text": search_key(r["subject"])}]).scalar_one()
            state = r.get("state", "sent")
            ids.append(s.execute(insert(InformationRequest).returning(InformationRequest.id), [{
                "thread_id": thread, "department_id": depts[r["to"]], "requester_department_id": depts[r["from"]],
                "state": state, "working_days": 5, "sent_at": None if state == "draft" else T0,
                "registration_number": r.get("number"), "due_date": r["due"], "due_at": _due(r["due"]),
                "assignee_id": it_head if r.get("mine") else None,
                "pauses": [], "extensions": [], "created_at": T0, "updated_at": T0}]).scalar_one())
        uow.commit()
    return ids


@pytest.fixture
def world(any_services):
    from services.web.app import create_app

    tokens = seed(any_services)
    any_services.clock = lambda: NOW
    app = create_app(services=any_services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})

    def client(email: str):
        c = app.test_client()
        assert c.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
        return c

    return {"services": any_services, "app": app, "client": client, "tokens": tokens}


def _page_ids(client, kind: str, query: dict) -> list[int]:
    r = client.get(f"/{kind}", query_string=query)
    assert r.status_code == 200, (query, r.status_code)
    return [int(i) for i in re.findall(rf'href="/{kind}/(\d+)"', r.get_data(as_text=True))]


def _api_ids(world, kind: str, query: dict, token: str = "it") -> list[int]:
    r = world["app"].test_client().get(f"/api/v1/{kind}", query_string=query,
                                       headers={"Authorization": f"Bearer {world['tokens'][token]}"})
    assert r.status_code == 200, (query, r.get_json())
    body = r.get_json()
    assert set(body) >= {"items", "page", "page_size", "total"}
    return [item["id"] for item in body["items"]]


def _names_order(world, codes: dict[int, str]) -> list[int]:
    """Row indexes by the department's name (the names are the seed's; the order is Python's)."""
    with world["services"].uow() as uow:
        names = dict(uow.session.execute(select(Department.code, Department.name)).all())
    return sorted(codes, key=lambda i: (names[codes[i]].casefold(), i))


def test_each_request_order_and_filter_lists_exactly_its_rows_on_the_page_and_in_the_api(world):
    ids = _requests(world["services"])
    it = world["client"]("it@kotovsk.example")
    by_from = _names_order(world, {i: r["from"] for i, r in enumerate(REQUESTS)})
    by_to = _names_order(world, {i: r["to"] for i, r in enumerate(REQUESTS)})
    orders = {
        "id": [0, 1, 2, 3, 4], "-id": [4, 3, 2, 1, 0],
        # ИТ-0001, ИТ-0002, ИТ-0003, МФЦ-0002; no number last either way
        "number": [1, 4, 0, 2, 3], "-number": [2, 0, 4, 1, 3],
        "subject": [1, 0, 2, 3, 4], "-subject": [4, 3, 2, 0, 1],
        # workflow order: draft, sent, answered; equal states by id
        "state": [3, 0, 1, 2, 4], "-state": [4, 2, 1, 0, 3],
        # soonest first; the two 2031 deadlines by id; no deadline last either way
        "due": [0, 2, 1, 4, 3], "-due": [4, 1, 2, 0, 3],
        "from": by_from, "-from": [i for i in reversed(by_from)],
        "to": by_to, "-to": [i for i in reversed(by_to)],
        "new": [4, 3, 2, 1, 0], "old": [0, 1, 2, 3, 4],  # the words of the old select
    }
    for sort, rows in orders.items():
        want = [ids[i] for i in rows]
        assert _page_ids(it, "requests", {"sort": sort}) == want, sort
        assert _api_ids(world, "requests", {"sort": sort}) == want, sort
    filters = [
        ({"state": "sent"}, [0, 1, 2]),
        ({"box": "in"}, [2]),
        ({"box": "out"}, [0, 1, 3, 4]),
        ({"department": "finance"}, [1]),
        ({"mine": "1"}, [2]),
        ({"overdue": "1"}, [0, 2]),  # sent and past due on NOW; the answered and the draft are not
        ({"due_from": "2026-01-16"}, [1, 2, 4]),
        ({"due_to": "2026-01-31"}, [0, 2]),
        ({"due_from": "2026-01-15", "due_to": "2026-01-15"}, [0]),  # both ends included
        ({"due_from": "2026-01-16", "due_to": "2026-01-20"}, [2]),
        ({"number": "ИТ-000"}, [0, 1, 4]),
        ({"number": "мфц"}, [2]),  # any case
        ({"q": "дороги"}, [4]),
        ({"box": "out", "state": "sent", "sort": "-due"}, [1, 0]),
    ]
    for query, rows in filters:
        want = sorted(ids[i] for i in rows) if "sort" not in query else [ids[i] for i in rows]
        query = {"sort": "id", **query}
        assert _page_ids(it, "requests", query) == want, query
        api_query = {("mine" if k == "mine" else k): ("true" if k in ("mine", "overdue") else v)
                     for k, v in query.items()}
        assert _api_ids(world, "requests", api_query) == want, query


def test_a_reversed_range_a_bad_date_an_unknown_filter_or_sort_is_a_422_naming_the_field(world):
    _requests(world["services"])
    it = world["client"]("it@kotovsk.example")
    api = world["app"].test_client()
    headers = {"Authorization": f"Bearer {world['tokens']['it']}"}
    for kind in ("requests", "reports", "amendments"):
        for query, field in (({"due_from": "2026-02-01", "due_to": "2026-01-01"}, "due_to"),
                             ({"due_from": "2026-13-01"}, "due_from"), ({"colour": "red"}, "colour"),
                             ({"sort": "sideways"}, "sort"), ({"sort": "-"}, "sort"), ({"state": "lost"}, "state")):
            r = it.get(f"/{kind}", query_string=query)
            assert r.status_code == 422, (kind, query)
            assert f'id="err-{field}"' in r.get_data(as_text=True), (kind, query)
            r = api.get(f"/api/v1/{kind}", query_string=query, headers=headers)
            assert r.status_code == 422, (kind, query, r.get_json())
            assert field in r.get_json()["error"]["fields"], (kind, query, r.get_json())
        r = api.get(f"/api/v1/{kind}", query_string={"page_size": 201}, headers=headers)
        assert r.status_code == 422 and "page_size" in r.get_json()["error"]["fields"], kind
        assert it.get(f"/{kind}/export.xlsx", query_string={"due_from": "2026-02-01",
                                                            "due_to": "2026-01-01"}).status_code == 422


def _reports(services, n: int = 0) -> list[int]:
    """Four reports of one program, in id order (the seed writes none); ``n``: another set, two years on."""
    y = 2016 + 2 * n
    rows = [  # period, kind, state, due date, number
        (f"{y}-Q2", "quarterly", y, 2, "submitted", date(y, 7, 20), f"ЭК-{n:02d}02"),
        (f"{y}", "annual", y, None, "draft", date(y + 1, 2, 1), None),
        (f"{y}-Q1", "quarterly", y, 1, "collecting", date(y, 4, 20), f"ЭК-{n:02d}01"),
        (f"{y + 1}-Q1", "quarterly", y + 1, 1, "published", date(y + 1, 4, 20), f"ЭК-{n:02d}03"),
    ]
    with services.uow() as uow:
        s = uow.session
        program = s.execute(select(Program.id).where(Program.slug == PROGRAM)).scalar_one()
        ids = [s.execute(insert(Report).returning(Report.id), [{
            "program_id": program, "kind": kind, "period": period, "year": year, "quarter": quarter,
            "state": state, "due_date": due, "due_at": _due(due), "co_executor_due_date": due, "inputs": {},
            "note": "", "registration_number": number, "created_at": T0, "updated_at": T0}]).scalar_one()
            for period, kind, year, quarter, state, due, number in rows]
        uow.commit()
    return ids


def test_each_report_order_and_filter_lists_exactly_its_rows(world):
    ids = _reports(world["services"])
    econ = world["client"]("econ@kotovsk.example")
    orders = {
        # by period: 2016 Q1, Q2, the annual 2016 after its fourth quarter, 2017 Q1
        "period": [2, 0, 1, 3], "-period": [3, 1, 0, 2],
        "number": [2, 0, 3, 1], "-number": [3, 0, 2, 1],
        "state": [1, 2, 0, 3], "-state": [3, 0, 2, 1],  # draft, collecting, submitted, published
        "due": [2, 0, 1, 3], "-due": [3, 1, 0, 2],
        # not late first (submitted, published) by id; then the late: the annual (due 2017-02) fewer days than
        # Q1 2016 (due 2016-04); descending: the most days first
        "late": [0, 3, 1, 2], "-late": [2, 1, 3, 0],
        "program": [0, 1, 2, 3], "-program": [3, 2, 1, 0],  # one program: by id
    }
    for sort, rows in orders.items():
        want = [ids[i] for i in rows]
        assert _page_ids(econ, "reports", {"sort": sort}) == want, sort
        assert _api_ids(world, "reports", {"sort": sort}, token="econ") == want, sort
    filters = [  # in period order
        ({"state": "draft"}, [1]), ({"kind": "annual"}, [1]), ({"overdue": "1"}, [2, 1]),
        ({"due_from": "2016-07-01", "due_to": "2017-02-01"}, [0, 1]), ({"number": "эк-0003"}, [3]),
        ({"program": PROGRAM, "due_to": "2016-12-31"}, [2, 0]),
    ]
    for query, rows in filters:
        want = [ids[i] for i in rows]
        query = {"sort": "period", **query}
        assert _page_ids(econ, "reports", query) == want, query
        api_query = {k: ("true" if k == "overdue" else v) for k, v in query.items()}
        assert _api_ids(world, "reports", api_query, token="econ") == want, query


def _amendments(services, n: int = 0) -> list[int]:
    rows = [  # state, justification, due date, number
        ("under_review", "Уточнение финансирования", date(2026, 5, 1), f"ЭК-И-{n:02d}02"),
        ("draft", "Актуализация показателей", None, None),
        ("under_review", "Бюджет на 2027 год", date(2026, 7, 1), f"ЭК-И-{n:02d}01"),
        ("adopted", "Вводные изменения", date(2026, 3, 1), f"ЭК-И-{n:02d}03"),
    ]
    with services.uow() as uow:
        s = uow.session
        program = s.execute(select(Program.id).where(Program.slug == PROGRAM)).scalar_one()
        ids = [s.execute(insert(Amendment).returning(Amendment.id), [{
            "program_id": program, "base_version": 1, "state": state, "justification": text, "changes": {},
            "review_working_days": 10, "registration_number": number, "due_date": due, "due_at": _due(due),
            "search_text": search_key(text), "created_at": T0, "updated_at": T0}]).scalar_one()
            for state, text, due, number in rows]
        uow.commit()
    return ids


def test_each_amendment_order_and_filter_lists_exactly_its_rows(world):
    ids = _amendments(world["services"])
    econ = world["client"]("econ@kotovsk.example")
    orders = {
        "id": [0, 1, 2, 3], "-id": [3, 2, 1, 0], "new": [3, 2, 1, 0], "old": [0, 1, 2, 3],
        "number": [2, 0, 3, 1], "-number": [3, 0, 2, 1],
        "justification": [1, 2, 3, 0], "-justification": [0, 3, 2, 1],
        "state": [1, 0, 2, 3], "-state": [3, 2, 0, 1],  # draft, under review, adopted
        "due": [3, 0, 2, 1], "-due": [2, 0, 3, 1],
    }
    for sort, rows in orders.items():
        want = [ids[i] for i in rows]
        assert _page_ids(econ, "amendments", {"sort": sort}) == want, sort
        assert _api_ids(world, "amendments", {"sort": sort}, token="econ") == want, sort
    filters = [
        ({"state": "under_review"}, [0, 2]), ({"overdue": "1"}, [0]),  # under review past 1 May on 1 June
        ({"due_from": "2026-04-01"}, [0, 2]), ({"due_to": "2026-04-01"}, [3]),
        ({"number": "и-000"}, [0, 2, 3]), ({"q": "бюджет"}, [2]),
    ]
    for query, rows in filters:
        want = [ids[i] for i in rows]
        assert _page_ids(econ, "amendments", {"sort": "id", **query}) == want, query
        api_query = {k: ("true" if k == "overdue" else v) for k, v in {"sort": "id", **query}.items()}
        assert _api_ids(world, "amendments", api_query, token="econ") == want, query
