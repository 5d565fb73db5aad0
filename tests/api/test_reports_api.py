"""Progress reports over the API: cycles, collection through requests, review, XLSX, public pages."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from services.models.mail import OutgoingEmail
from services.models.reports import Report
from tests.conftest import unavailable

PROGRAM = "kotovsk-information-society"
ALL_EVENTS = ("start_collection", "collection_complete", "submit", "return", "resubmit", "accept", "publish")


def schedule(services, today=date(2017, 6, 1), **kw) -> int:
    from services.reports import run_schedule

    kw.setdefault("backlog", True)  # every cycle begun by then, not only those due now
    return run_schedule(services, today, **kw)


def report_id(as_user, period: str) -> int:
    items = as_user("it").get(f"/api/v1/reports?program={PROGRAM}&period={period}").json["items"]
    assert len(items) == 1, items
    return items[0]["id"]


def fire(client, rid, event, **body):
    return client.post(f"/api/v1/reports/{rid}/transitions", json={"event": event, **body})


def collect_mfc(as_user, rid, *, accept=True, **answer):
    """The MFC answers the request the report sent and the executor accepts it."""
    report = as_user("it").get(f"/api/v1/reports/{rid}").json
    (req,) = [line["request_id"] for line in report["collection"] if line["department"] == "mfc"]
    data = {"ind_i12": "850", "act_a18_done": 1, "spent_regional": "100.5", "spent_city": "200"}
    data.update(answer)
    r = as_user("mfc").post(f"/api/v1/requests/{req}/transitions", json={"event": "answer", "data": data})
    assert r.status_code == 200, r.json
    if accept:
        r = as_user("it").post(f"/api/v1/requests/{req}/transitions", json={"event": "accept"})
        assert r.status_code == 200, r.json
    return req


# --- cycles ---------------------------------------------------------------------------------

def test_schedule_creates_each_cycle_once_with_due_dates_moved_off_days_off(services, tokens, as_user):
    assert schedule(services, date(2016, 12, 31), year=2016) == 4
    items = as_user("it").get(f"/api/v1/reports?program={PROGRAM}").json["items"]
    assert sorted(i["period"] for i in items) == ["2016", "2016-Q1", "2016-Q2", "2016-Q3"]
    assert schedule(services, date(2016, 12, 31), year=2016) == 0
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Report)).scalar_one() == len(items)
    by_period = {i["period"]: i for i in items}
    # 20.04.2016 is a Wednesday: due that day; end of day Moscow time is 20:59:59 UTC.
    assert by_period["2016-Q1"]["due_date"] == "2016-04-20"
    assert by_period["2016-Q1"]["due_at"].startswith("2016-04-20T20:59:59")
    # 20.07.2016 Wednesday, 20.10.2016 Thursday.
    assert by_period["2016-Q2"]["due_date"] == "2016-07-20"
    assert by_period["2016-Q3"]["due_date"] == "2016-10-20"
    assert all(i["overdue"] for i in items)  # all long past and never submitted


def test_annual_due_on_a_day_off_moves_to_the_next_working_day(services, tokens, as_user):
    # 01.03.2015 is a Sunday: the 2014 annual report falls due on Monday 02.03.2015.
    schedule(services, date(2015, 1, 1), year=2014)
    annual = as_user("it").get(f"/api/v1/reports?program={PROGRAM}&kind=annual").json["items"]
    assert [(a["period"], a["due_date"]) for a in annual] == [("2014", "2015-03-02")]
    # co-executors' date: 01.03 - 10 days = 19.02.2015 (Thursday)
    assert annual[0]["co_executor_due_date"] == "2015-02-19"


def test_schedule_runs_only_for_periods_already_begun(services, tokens, as_user):
    assert schedule(services, date(2016, 5, 1), year=2016) == 3  # Q1, Q2 and the annual (begun 01.01)
    periods = sorted(i["period"] for i in as_user("it").get("/api/v1/reports").json["items"])
    assert periods == ["2016", "2016-Q1", "2016-Q2"]


# --- the whole flow ---------------------------------------------------------------------------

def test_full_cycle_collect_submit_return_resubmit_accept_publish(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2016")
    it, econ = as_user("it"), as_user("econ")

    r = fire(it, rid, "start_collection")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "collecting"
    assert [(c["department"], c["state"]) for c in r.json["collection"]] == [("mfc", "sent")]

    # The executor's own figures.
    r = it.put(f"/api/v1/reports/{rid}/inputs", json={
        "spent": {"regional": "500", "city": "3600.5"},
        "activities": {f"A{n}": True for n in range(1, 18)} | {"A5": False},
        "actuals": {"I1": "95"},
    })
    assert r.status_code == 200, r.json

    collect_mfc(as_user, rid, accept=False)
    assert it.get(f"/api/v1/reports/{rid}").json["state"] == "collecting"  # answered, not yet accepted
    req = it.get(f"/api/v1/reports/{rid}").json["collection"][0]["request_id"]
    assert it.post(f"/api/v1/requests/{req}/transitions", json={"event": "accept"}).status_code == 200

    view = it.get(f"/api/v1/reports/{rid}").json
    assert view["state"] == "ready"  # collection_complete fired by the handler
    history = it.get(f"/api/v1/reports/{rid}/history").json["items"]
    assert [h["event"] for h in history] == ["start_collection", "collection_complete"]
    assert history[1]["role"] == "system" and history[1]["actor_id"] is None

    content = view["content"]
    fin = {f["source"]: f for f in content["financing"]}
    assert fin["regional"]["plan"] == "623.3" and fin["regional"]["spent"] == "600.5"
    assert fin["city"]["plan"] == "3856.5" and fin["city"]["spent"] == "3800.5"
    assert fin["city"]["execution"] == "0.9855"
    ind = {i["code"]: i for i in content["indicators"]}
    assert ind["I12"]["fact"] == "850" and ind["I1"]["fact"] == "95"
    # I11 is the service's own count: no request of this test was sent in 2016, so 0 a month.
    assert ind["I11"]["fact"] == "0.0" and ind["I11"]["source"] == {
        "computed": "interdepartmental_requests_per_month", "count": 0, "months": 12}
    assert ind["I11"]["plan"] is None and ind["I11"]["missing"] == "нет планового значения"
    acts = {a["code"]: a for a in content["activities"]}
    assert acts["A18"]["done"] is True and acts["A5"]["done"] is False
    ev = content["evaluation"]
    assert ev["activity_completion"]["value"] == "0.9444"  # 17 of 18
    assert ev["effectiveness"]["value"] is None and ev["rating"] is None  # no indicator plans in the passport
    assert "I1" in ev["subprogram_achievement"]["missing"]

    r = fire(it, rid, "submit")
    assert r.status_code == 422 and "data.note" in r.json["error"]["fields"]
    r = fire(it, rid, "submit", data={"note": "Первая редакция записки"})
    assert r.status_code == 200, r.json
    assert r.json["state"] == "submitted" and len(r.json["revisions"]) == 1

    r = fire(econ, rid, "return")
    assert r.status_code == 422 and "comment" in r.json["error"]["fields"]
    r = fire(econ, rid, "return", comment="Уточните расходы областного бюджета")
    assert r.status_code == 200 and r.json["state"] == "returned"

    assert it.put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"regional": "520"}}).status_code == 200
    r = fire(it, rid, "resubmit", data={"note": "Вторая редакция: расходы уточнены"})
    assert r.status_code == 200, r.json
    revs = r.json["revisions"]
    assert [v["number"] for v in revs] == [1, 2]
    assert revs[0]["changes"] is None
    changed = {c["path"]: (c["before"], c["after"]) for c in revs[1]["changes"]}
    assert changed["financing[regional].spent"] == ("600.5", "620.5")
    assert changed["note"] == ("Первая редакция записки", "Вторая редакция: расходы уточнены")
    with services.uow() as uow:
        from services.reports import revisions

        first, second = revisions(uow.session, rid)
        assert first.content["financing"][0]["spent"] == "600.5"  # the first revision is untouched
        assert second.content["financing"][0]["spent"] == "620.5"

    assert fire(econ, rid, "accept").json["state"] == "accepted"
    r = fire(it, rid, "publish")
    assert r.status_code == 200 and r.json["state"] == "published"
    assert not it.get(f"/api/v1/reports/{rid}").json["overdue"]

    with services.uow() as uow:
        subjects = set(uow.session.execute(select(OutgoingEmail.subject)).scalars())
    assert any("сведения соисполнителей собраны" in s for s in subjects)
    assert any(s.startswith("Представлен отчёт за 2016 год") for s in subjects)
    assert any("возвращён на доработку" in s for s in subjects)
    assert any("принят" in s for s in subjects)


def test_already_known_indicator_is_not_asked_again(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2016-Q1")
    it = as_user("it")
    assert it.put(f"/api/v1/reports/{rid}/inputs", json={"actuals": {"I12": "10"}}).status_code == 200
    fire(it, rid, "start_collection")
    req = it.get(f"/api/v1/reports/{rid}").json["collection"][0]["request_id"]
    form = as_user("mfc").get(f"/api/v1/requests/{req}").json["form"]
    keys = [f["key"] for f in form]
    assert keys == ["act_a18_done", "spent_regional", "spent_city"]  # I12 is known, I11 the service counts


def test_a_computed_indicator_is_not_typed_in(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2016-Q1")
    before = as_user("it").get(f"/api/v1/reports/{rid}").json
    r = as_user("it").put(f"/api/v1/reports/{rid}/inputs", json={"actuals": {"I11": "10", "I1": "95"}})
    assert r.status_code == 422
    assert list(r.json["error"]["fields"]) == ["actuals.I11"]
    assert "вычисляет сервис" in r.json["error"]["fields"]["actuals.I11"][0]
    after = as_user("it").get(f"/api/v1/reports/{rid}").json
    assert after["content"]["indicators"] == before["content"]["indicators"]  # nothing stored, I1 neither


def test_report_shows_which_co_executor_is_late(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2016-Q1")
    fire(as_user("it"), rid, "start_collection")
    from datetime import datetime, timedelta, timezone

    from services.reports import collection_status

    with services.uow() as uow:
        report = uow.session.get(Report, rid)
        later = datetime.now(timezone.utc) + timedelta(days=120)
        (line,) = collection_status(uow.session, report, now=later)
    assert line["department"] == "mfc" and line["overdue"] is True and line["accepted"] is False


def test_ready_only_when_the_last_of_several_requests_is_accepted(services, tokens, as_user):
    """A second request of the same report (as for a second co-executor): the first acceptance is not enough."""
    from services.information_requests import NewRequest, create_request
    from services.registry import actor_for
    from services.models.registry import User

    schedule(services)
    rid = report_id(as_user, "2016-Q2")
    it = as_user("it")
    fire(it, rid, "start_collection")
    with services.uow() as uow:
        executor = actor_for(uow.session.execute(select(User).where(User.email == "it@kotovsk.example")).scalar_one())
        _, (extra,) = create_request(uow, services, executor, NewRequest(
            program=PROGRAM, subject="Ещё сведения", body="", addressees=["finance"], send=True,
            origin=f"report:{rid}"))
        uow.commit()
        extra_id = extra.id
    collect_mfc(as_user, rid)  # the MFC's request accepted: one of two
    assert it.get(f"/api/v1/reports/{rid}").json["state"] == "collecting"
    lines = {c["department"]: c for c in it.get(f"/api/v1/reports/{rid}").json["collection"]}
    assert lines["mfc"]["accepted"] and not lines["finance"]["accepted"]
    r = as_user("finance").post(f"/api/v1/requests/{extra_id}/transitions",
                                json={"event": "answer", "data": {"text": "Сведения"}})
    assert r.status_code == 200, r.json
    assert it.post(f"/api/v1/requests/{extra_id}/transitions", json={"event": "accept"}).status_code == 200
    assert it.get(f"/api/v1/reports/{rid}").json["state"] == "ready"


# --- who may do what ------------------------------------------------------------------------------

# (state, event) -> the demo users who may fire it; every other user is refused (403 or 409).
# Written by hand from the issue, not read from the workflow definition.
ALLOWED = {
    ("draft", "start_collection"): {"it", "it_staff"},
    ("ready", "submit"): {"it", "it_staff"},
    ("submitted", "return"): {"econ"},
    ("submitted", "accept"): {"econ"},
    ("returned", "resubmit"): {"it", "it_staff"},
    ("accepted", "publish"): {"it", "it_staff"},
}
USERS = ("it", "it_staff", "mfc", "mfc_staff", "econ", "finance", "admin")
# Which events each state allows at all (anyone); the rest are 409 for a permitted party.
STATE_EVENTS = {
    "draft": {"start_collection"},
    "collecting": {"collection_complete"},
    "ready": {"submit"},
    "submitted": {"return", "accept"},
    "returned": {"resubmit"},
    "accepted": {"publish"},
    "published": set(),
}
EXECUTOR_EVENTS = {"start_collection", "submit", "resubmit", "publish"}
ECON_EVENTS = {"return", "accept"}


def _put_in_state(services, rid: int, state: str) -> None:
    with services.uow() as uow:
        report = uow.session.get(Report, rid)
        report.state = state
        uow.commit()


def _body(event: str) -> dict:
    if event in ("submit", "resubmit"):
        return {"data": {"note": "Записка"}}
    if event == "return":
        return {"comment": "Замечания"}
    return {}


@pytest.mark.parametrize("state", list(STATE_EVENTS))
def test_every_transition_per_role(services, tokens, as_user, state):
    """Per state, every user x every event: 200 when the table allows, else 403 (wrong party) or 409."""
    schedule(services)
    rid = report_id(as_user, "2016-Q3")
    for user in USERS:
        for event in ALL_EVENTS:
            _put_in_state(services, rid, state)
            allowed = user in ALLOWED.get((state, event), set())
            r = fire(as_user(user), rid, event, **_body(event))
            if allowed:
                assert r.status_code == 200, (state, user, event, r.json)
                continue
            party_ok = ((event in EXECUTOR_EVENTS and user in {"it", "it_staff"})
                        or (event in ECON_EVENTS and user == "econ"))
            expected = 409 if party_ok else 403
            assert r.status_code == expected, (state, user, event, r.status_code, r.json)
            if expected == 409:
                assert "allowed_events" in r.json["error"]


def test_collection_complete_is_never_fired_by_a_person(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2016-Q1")
    _put_in_state(services, rid, "collecting")
    for user in USERS:
        assert fire(as_user(user), rid, "collection_complete").status_code == 403


def test_unknown_event_and_extra_data_are_422(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2016-Q1")
    assert fire(as_user("it"), rid, "approve").status_code == 422
    r = fire(as_user("it"), rid, "start_collection", data={"x": 1})
    assert r.status_code == 422 and "data.x" in r.json["error"]["fields"]


def test_only_executor_edits_inputs_and_only_while_editable(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2016-Q1")
    assert as_user("econ").put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"city": "1"}}).status_code == 403
    r = as_user("it").put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"federal": "1"}})
    assert r.status_code == 422 and "spent.federal" in r.json["error"]["fields"]
    _put_in_state(services, rid, "submitted")
    assert as_user("it").put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"city": "1"}}).status_code == 409


def test_reports_need_login(services, tokens, as_user):
    schedule(services)
    assert as_user(None).get("/api/v1/reports").status_code == 401


# --- XLSX -------------------------------------------------------------------------------------------

def test_xlsx_matches_the_report_cell_by_cell(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2016")
    it = as_user("it")
    fire(it, rid, "start_collection")
    it.put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"regional": "500", "city": "3600.5"},
                                                  "activities": {"A1": True}})
    collect_mfc(as_user, rid)
    fire(it, rid, "submit", data={"note": "Пояснительная записка к годовому отчёту"})
    view = it.get(f"/api/v1/reports/{rid}").json
    r = it.get(f"/api/v1/reports/{rid}.xlsx")
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["Отчёт", "Показатели", "Финансирование", "Мероприятия", "Оценка эффективности"]
    ws = wb["Отчёт"]
    assert ws["A1"].value == view["content"]["program"]["title"]
    # The title line names the report by its registration number (given at submit) and date.
    reg_day = date.fromisoformat(view["registration_date"])
    assert view["registration_number"]
    assert ws["A2"].value == (f"Годовой отчёт о ходе реализации за 2016 год, рег. № {view['registration_number']} "
                              f"от {reg_day:%d.%m.%Y}")
    assert ws["A7"].value == "Пояснительная записка к годовому отчёту"

    def num(v):
        return None if v is None else float(Decimal(v))

    ind = wb["Показатели"]
    assert [c.value for c in ind[1]] == ["Код", "Показатель", "Ед. изм.", "План", "Факт", "Степень достижения",
                                         "Примечание"]
    for row, i in zip(ind.iter_rows(min_row=2, values_only=True), view["content"]["indicators"], strict=True):
        assert row[:6] == (i["code"], i["name"], i["unit"], num(i["plan"]), num(i["fact"]), num(i["achievement"]))
    assert ind["A13"].value == "I12" and ind["E13"].value == 850

    fin = wb["Финансирование"]
    assert fin["A1"].value == "Единица измерения: тыс. рублей"
    assert [c.value for c in fin[3]] == ["Средства бюджета области", 623.3, 600.5, 0.9634]
    assert [c.value for c in fin[4]] == ["Средства бюджета города", 3856.5, 3800.5, 0.9855]
    assert [c.value for c in fin[5]] == ["Итого", 4479.8, 4401, 0.9824]

    act = wb["Мероприятия"]
    rows = list(act.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 18
    it_name = "Отдел информационных технологий администрации города"
    assert rows[0] == ("A1", view["content"]["activities"][0]["title"], it_name, "да")
    assert rows[1][3] == "нет сведений"
    assert rows[17][:1] == ("A18",) and rows[17][2].startswith("Котовское муниципальное казенное учреждение")
    assert rows[17][3] == "да"

    ev = wb["Оценка эффективности"]
    assert ev["A4"].value == "Степень освоения средств" and ev["B4"].value == 0.9824
    assert ev["B7"].value == "не рассчитана"


# --- public ------------------------------------------------------------------------------------------

def _publish(as_user, services, period: str, **inputs) -> int:
    rid = report_id(as_user, period)
    it = as_user("it")
    fire(it, rid, "start_collection")
    it.put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"regional": "0", "city": "10"}, **inputs})
    collect_mfc(as_user, rid)
    fire(it, rid, "submit", data={"note": f"Записка {period}"})
    fire(as_user("econ"), rid, "accept")
    assert fire(it, rid, "publish").json["state"] == "published"
    return rid


def test_public_page_shows_exactly_the_published_content(services, tokens, as_user):
    schedule(services)
    anon = as_user(None)
    empty = anon.get(f"/api/v1/public/programs/{PROGRAM}")
    assert empty.status_code == 200 and empty.json["reports"] == []

    rid = _publish(as_user, services, "2016-Q1")
    # Another report is submitted and accepted but not published: it must not show.
    other = report_id(as_user, "2016-Q2")
    fire(as_user("it"), other, "start_collection")
    collect_mfc(as_user, other, ind_i12="999")
    fire(as_user("it"), other, "submit", data={"note": "Не опубликовано"})

    view = anon.get(f"/api/v1/public/programs/{PROGRAM}").json
    assert [r["period"] for r in view["reports"]] == ["2016-Q1"]
    pub = view["reports"][0]
    assert pub["id"] == rid and pub["content"]["note"] == "Записка 2016-Q1"
    with services.uow() as uow:
        from services.reports import revisions

        frozen = revisions(uow.session, rid)[-1].content
    assert [i["fact"] for i in pub["content"]["indicators"]] == [i["fact"] for i in frozen["indicators"]]
    assert all("source" not in i for i in pub["content"]["indicators"])
    assert "999" not in anon.get(f"/api/v1/public/programs/{PROGRAM}").get_data(as_text=True)

    for url in (f"/api/v1/public/programs/{PROGRAM}?format=csv", f"/api/v1/public/programs/{PROGRAM}.csv"):
        r = anon.get(url)
        assert r.status_code == 200 and r.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
        assert {row["period"] for row in rows} == {"2016-Q1"}
        i12 = next(row for row in rows if row["code"] == "I12")
        assert (i12["section"], i12["fact"], i12["plan"]) == ("indicator", "850", "")
        i11 = next(row for row in rows if row["code"] == "I11")
        assert (i11["section"], i11["fact"]) == ("indicator", "0.0")  # counted by the service
        city = next(row for row in rows if row["code"] == "city")
        assert (city["plan"], city["fact"]) == ("3856.5", "210")
        assert len(rows) == 12 + 2 + 18


def test_public_unknown_program_is_404(services, tokens, as_user):
    assert as_user(None).get("/api/v1/public/programs/nope").status_code == 404


# --- the real worker on real Redis -----------------------------------------------------------------

from tests.integration.conftest import smtp, stack, wait_for  # noqa: E402,F401  (fixtures)


def test_worker_moves_report_to_ready_when_last_answer_is_accepted(stack):
    """HTTP → PostgreSQL outbox → Redis → Celery worker → the reports.collection handler."""
    from services.web.app import create_app
    from tests.conftest import ApiClient, seed

    services, worker, _smtp = stack
    tokens = seed(services)
    client = create_app(services=services).test_client()
    users = {name: ApiClient(client, tokens[name]) for name in ("it", "mfc", "econ")}
    schedule(services)
    rid = report_id(lambda name: users[name], "2016-Q1")
    assert fire(users["it"], rid, "start_collection").json["state"] == "collecting"
    collect_mfc(lambda name: users[name], rid)

    def state():
        with services.uow() as uow:
            return uow.session.get(Report, rid).state

    wait_for(lambda: state() == "ready", timeout=30,
             what=f"the worker to complete the collection\n{worker.output()[-3000:]}")
    history = users["it"].get(f"/api/v1/reports/{rid}/history").json["items"]
    assert [h["event"] for h in history] == ["start_collection", "collection_complete"]


# --- the PDF as people read it: rendered by poppler, not only a %PDF header --------------------

def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        unavailable(f"poppler-utils ({tool})", "not installed (apt-get install poppler-utils)")
    return found


def pdf_text(data: bytes, tmp_path) -> list[str]:
    """The text of each page as pdftotext -layout reads it, whitespace (U+00A0 too) made one space."""
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    out = subprocess.run([_poppler("pdftotext"), "-layout", str(path), "-"], capture_output=True, check=True,
                         timeout=60).stdout.decode()
    return [" ".join(page.replace("\u00a0", " ").split()) for page in out.split("\f") if page.strip()]


def pdf_pages_as_png(data: bytes, tmp_path) -> list:
    path = tmp_path / "render.pdf"
    path.write_bytes(data)
    subprocess.run([_poppler("pdftoppm"), "-png", "-r", "60", str(path), str(tmp_path / "page")], check=True,
                   timeout=60)
    return sorted(tmp_path.glob("page*.png"))


def ru_amount(value: str) -> str:
    """'3856.5' -> '3 856,5', written here without Babel, so the test does not repeat the code."""
    return f"{Decimal(value):,.1f}".replace(",", " ").replace(".", ",")


def ru_percent(ratio: str) -> str:
    """'0.9634' -> '96,3 %'."""
    return f"{(Decimal(ratio) * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}".replace(".", ",") + " %"


def _submitted_annual(as_user) -> int:
    rid = report_id(as_user, "2016")
    it = as_user("it")
    fire(it, rid, "start_collection")
    it.put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"regional": "500", "city": "3600.5"},
                                                  "activities": {"A1": True}, "actuals": {"I1": "87.5"}})
    collect_mfc(as_user, rid)
    assert fire(it, rid, "submit", data={"note": "Записка к годовому отчёту"}).status_code == 200
    return rid


def test_pdf_is_a_russian_report_form(services, tokens, as_user, tmp_path):
    schedule(services)
    rid = _submitted_annual(as_user)
    it = as_user("it")
    view = it.get(f"/api/v1/reports/{rid}").json
    content = view["content"]
    r = it.get(f"/api/v1/reports/{rid}.pdf")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert as_user(None).get(f"/api/v1/reports/{rid}.pdf").status_code == 401

    pages = pdf_text(r.data, tmp_path)
    text = " ".join(pages)
    assert " ".join(content["program"]["title"].split()) in text
    assert "Годовой отчёт о ходе реализации за 2016 год" in text
    assert "Ответственный исполнитель Отдел информационных технологий администрации города" in text
    assert "Состояние Представлен" in text
    for f in [*content["financing"], content["financing_total"]]:
        assert ru_amount(f["plan"]) in text and ru_amount(f["spent"]) in text
        assert ru_percent(f["execution"]) in text, (f, text)
    assert "3 856,5" in text and "3 800,5" in text  # a thousands separator and a decimal comma
    assert "0.98" not in text and "3856.5" not in text  # no programmer's numbers
    i1 = next(i for i in content["indicators"] if i["code"] == "I1")
    assert i1["fact"] == "87.5" and "87,5" in text
    if os.environ.get("INTERDEPT_REPORT_PDF_OUT"):  # a look at the pages: docs/screenshots
        Path(os.environ["INTERDEPT_REPORT_PDF_OUT"]).write_bytes(r.data)
    ev = content["evaluation"]
    assert f"Степень освоения средств {ru_percent(ev['budget_execution']['value'])}" in text
    # Department names, never codes.
    assert not re.search(r"\b(it|mfc|economic-policy|finance)\b", text), text
    assert "Многофункциональный центр" in text
    # Every page says which of how many it is, and when the form was made.
    assert len(pages) >= 2
    for n, page in enumerate(pages, 1):
        assert f"Страница {n} из {len(pages)}" in page
        assert "Сформировано" in page
    assert "Отчёт не принят. Состояние: «Представлен»." in text

    pngs = pdf_pages_as_png(r.data, tmp_path)
    assert len(pngs) == len(pages)
    from PIL import Image

    with Image.open(pngs[0]) as img:
        assert img.width > img.height  # A4 landscape
        lo, hi = img.convert("L").getextrema()
        assert lo < 100 and hi > 200  # something is drawn on a white page


def test_pdf_acceptance_block_names_who_accepted_when_and_the_signature(services, tokens, as_user, app,
                                                                        tmp_path):
    schedule(services)
    rid = _submitted_annual(as_user)
    before = " ".join(pdf_text(as_user("it").get(f"/api/v1/reports/{rid}.pdf").data, tmp_path))
    assert "Отчёт не принят. Состояние: «Представлен»." in before
    assert fire(as_user("econ"), rid, "accept", comment="Принят без замечаний").json["state"] == "accepted"

    [sig] = app.test_client().get(f"/api/v1/signatures/report/{rid}").json["signatures"]
    accepted = next(h for h in as_user("it").get(f"/api/v1/reports/{rid}/history").json["items"]
                    if h["event"] == "accept")
    with services.uow() as uow:
        from services.models.registry import User

        econ = uow.session.get(User, accepted["actor_id"])
        person = econ.name or econ.email
    at = datetime.fromisoformat(accepted["at"]).astimezone(services.tz).strftime("%d.%m.%Y %H:%M")
    text = " ".join(pdf_text(as_user("econ").get(f"/api/v1/reports/{rid}.pdf").data, tmp_path))
    assert "не принят" not in text
    assert f"Отчёт принят: Отдел экономической политики администрации города, {person}, {at}." in text
    assert "Комментарий: Принят без замечаний" in text
    assert f"Ключ подписи: {sig['key_id']}" in text
    assert f"SHA-256 подписанного документа: {hashlib.sha256(sig['document'].encode()).hexdigest()}." in text
    assert "Ed25519" in text


def test_xlsx_figures_are_numbers_with_formats_and_departments_have_names(services, tokens, as_user):
    schedule(services)
    rid = _submitted_annual(as_user)
    content = as_user("it").get(f"/api/v1/reports/{rid}").json["content"]
    wb = load_workbook(io.BytesIO(as_user("it").get(f"/api/v1/reports/{rid}.xlsx").data))
    fin = wb["Финансирование"]
    for row in fin.iter_rows(min_row=3, max_row=3 + len(content["financing"])):
        assert [c.data_type for c in row[1:4]] == ["n", "n", "n"]
        assert [c.number_format for c in row[1:4]] == ["#,##0.0", "#,##0.0", "0.0%"]
    ind = wb["Показатели"]
    i1 = next(r for r in ind.iter_rows(min_row=2) if r[0].value == "I1")
    assert (i1[4].value, i1[4].data_type, i1[4].number_format) == (87.5, "n", "#,##0.0")
    assert i1[5].value is None  # no plan in the passport: no degree (tests/unit/test_report_form.py has one)
    ev = wb["Оценка эффективности"]
    assert (ev["B4"].data_type, ev["B4"].number_format) == ("n", "0.0%")  # budget execution, a fraction
    act = wb["Мероприятия"]
    executors = {row[2] for row in act.iter_rows(min_row=2, values_only=True)}
    names = {d["code"]: d["name"] for d in as_user("it").get(f"/api/v1/programs/{PROGRAM}").json["departments"]}
    assert executors == {names["it"], names["mfc"]}
    report = [c.value for row in wb["Отчёт"].iter_rows() for c in row if c.value]
    assert f"Ответственный исполнитель: {names['it']}" in report
    assert "Отчёт не принят. Состояние: «Представлен»." in report


def test_public_html_page_lists_only_published_reports(services, tokens, as_user):
    schedule(services)
    anon = as_user(None)
    assert "Опубликованных отчётов пока нет" in anon.get(f"/public/programs/{PROGRAM}").get_data(as_text=True)
    _publish(as_user, services, "2016-Q1")
    other = report_id(as_user, "2016-Q2")
    fire(as_user("it"), other, "start_collection")
    collect_mfc(as_user, other)
    fire(as_user("it"), other, "submit", data={"note": "Не опубликовано"})
    r = anon.get(f"/public/programs/{PROGRAM}")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "за 1 квартал 2016 г." in html and "Записка 2016-Q1" in html
    assert "2 квартал" not in html and "Не опубликовано" not in html


def test_report_inputs_out_of_the_stored_range_are_422(services, tokens, as_user):
    schedule(services)
    rid = report_id(as_user, "2017-Q1")
    for bad in ("1e999999", "NaN", "0.00001", "1" + "0" * 16):
        r = as_user("it").put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"city": bad}})
        assert r.status_code == 422, (bad, r.json)
        assert "spent.city" in r.json["error"]["fields"]
        r = as_user("it").put(f"/api/v1/reports/{rid}/inputs", json={"actuals": {"I1": bad}})
        assert r.status_code == 422 and "actuals.I1" in r.json["error"]["fields"]
    assert as_user("it").put(f"/api/v1/reports/{rid}/inputs", json={"spent": {"city": "1250.5"}}).status_code == 200
