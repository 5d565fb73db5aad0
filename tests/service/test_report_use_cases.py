"""Progress reports through their use cases (services.reports), without HTTP.

Due dates by hand (config/report_rules.yaml: quarterly on the 20th of the next month, annual on
1 March of the next year, co-executors 10 days earlier; a day off moves to the next working day):
  2015-Q1: Mon 20.04.2015; co-executors Fri 10.04.2015
  2015-Q2: Mon 20.07.2015; co-executors Fri 10.07.2015
  2015-Q3: Tue 20.10.2015; co-executors Sat 10.10.2015 -> Mon 12.10.2015
  2015:    Tue 01.03.2016; co-executors Sat 20.02.2016, a working Saturday in 2016
           (the day off moved to Mon 22.02.2016), so it stays.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services import information_requests as ir
from services import reports
from services.models.registry import IndicatorActual
from services.models.reports import Report
from services.models.workflow import OutboxEvent
from workflows.core import Forbidden, NotAllowedNow

PROGRAM = "kotovsk-information-society"


def by_period(svc) -> dict[str, Report]:
    with svc.uow() as uow:
        rows = uow.session.execute(select(Report)).unique().scalars().all()
        for r in rows:
            uow.session.expunge(r)
        return {r.period: r for r in rows}


def test_schedule_creates_each_cycle_once_with_calendar_due_dates(svc):
    assert reports.run_schedule(svc, date(2015, 12, 31), year=2015) == 4
    cycles = by_period(svc)
    assert {p: (r.kind, r.state, r.due_date, r.co_executor_due_date) for p, r in cycles.items()} == {
        "2015-Q1": ("quarterly", "draft", date(2015, 4, 20), date(2015, 4, 10)),
        "2015-Q2": ("quarterly", "draft", date(2015, 7, 20), date(2015, 7, 10)),
        "2015-Q3": ("quarterly", "draft", date(2015, 10, 20), date(2015, 10, 12)),
        "2015": ("annual", "draft", date(2016, 3, 1), date(2016, 2, 20)),
    }
    # End of the due day in Moscow (UTC+3).
    assert cycles["2015"].due_at == datetime(2016, 3, 1, 20, 59, 59, tzinfo=timezone.utc)
    with svc.uow() as uow:
        created = uow.session.execute(select(func.count()).select_from(OutboxEvent)
                                      .where(OutboxEvent.type == "report.created")).scalar_one()
        assert created == 4

    # Idempotent: a second run creates nothing and emits nothing.
    assert reports.run_schedule(svc, date(2015, 12, 31), year=2015) == 0
    assert len(by_period(svc)) == 4
    with svc.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(OutboxEvent)
                                   .where(OutboxEvent.type == "report.created")).scalar_one() == 4


def test_schedule_creates_only_the_periods_already_begun(svc):
    assert reports.run_schedule(svc, date(2016, 5, 1), year=2016) == 3
    assert sorted(by_period(svc)) == ["2016", "2016-Q1", "2016-Q2"]  # Q3 begins 01.07


def test_collection_sends_a_request_and_its_acceptance_makes_the_report_ready(svc, actors):
    reports.run_schedule(svc, date(2017, 6, 1), backlog=True)
    rid = by_period(svc)["2016"].id
    with svc.uow() as uow, pytest.raises(Forbidden):  # only the executor starts the collection
        reports.fire_transition(uow, svc, actors["mfc"], rid, "start_collection")
    with svc.uow() as uow, pytest.raises(NotAllowedNow):  # nothing to submit yet
        reports.fire_transition(uow, svc, actors["it"], rid, "submit", data={"note": "Записка"})
    assert by_period(svc)["2016"].state == "draft"

    with svc.uow() as uow:
        reports.fire_transition(uow, svc, actors["it"], rid, "start_collection")
        uow.commit()
    assert by_period(svc)["2016"].state == "collecting"
    with svc.uow() as uow:
        (req,) = reports.report_requests(uow.session, rid)
        req_id = req.id
        assert (req.department.code, req.state) == ("mfc", "sent")
        assert reports.report_id_from_origin(req.thread.origin) == rid
        # The co-executors' date of the rule (20.02.2017) has passed: the text names the request's own
        # due date (it said "до 20.02.2017" before).
        assert req.due_date > date(2017, 2, 20)
        assert req.thread.body.endswith(f"просим представить сведения до {req.due_date:%d.%m.%Y}.")
        keys = {item["key"] for item in req.thread.form}
    assert {"ind_i12", "spent_regional", "spent_city"} <= keys and "ind_i11" not in keys  # I11: computed

    answer = {"ind_i12": "850", "act_a18_done": 1, "spent_regional": "100.5", "spent_city": "200"}
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["mfc"], req_id, "answer", data={k: answer[k] for k in keys})
        uow.commit()
    assert by_period(svc)["2016"].state == "collecting"  # answered is not yet accepted
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["it"], req_id, "accept")
        uow.commit()

    # The eager handler of information_request.accept completed the collection by itself.
    assert by_period(svc)["2016"].state == "ready"
    with svc.uow() as uow:
        actuals = {(a.indicator, a.period): (a.value, a.source_request_id) for a in uow.session.execute(
            select(IndicatorActual)).scalars()}
        assert actuals == {("I12", "2016"): (Decimal("850"), req_id)}
        history = reports.history(uow.session, actors["it"], rid)
        assert [(h.event, h.from_state, h.to_state, h.actor_id) for h in history] == [
            ("start_collection", "draft", "collecting", actors["it"].user_id),
            ("collection_complete", "collecting", "ready", None),
        ]


def _send(svc, actor, subject: str, send: bool = True) -> None:
    with svc.uow() as uow:
        ir.create_request(uow, svc, actor, ir.NewRequest(program=PROGRAM, subject=subject, body="-",
                                                         addressees=["mfc"], working_days=5, send=send))
        uow.commit()


def test_i11_is_the_service_own_count_of_requests_per_month(svc, actors, clock):
    """I11 ("межведомственные запросы, среднее в месяц") is counted from the requests sent, by the
    local date of sending: 3 in the first quarter (one at 23:30 on 31 March, Moscow), 2 in July,
    one still a draft and one sent on 1 January 2017 (not 2016)."""
    reports.run_schedule(svc, date(2017, 6, 1), backlog=True)
    for moment, subject, send in (
        (datetime(2016, 1, 11, 9, tzinfo=timezone.utc), "Январь", True),
        (datetime(2016, 2, 1, 9, tzinfo=timezone.utc), "Февраль", True),
        (datetime(2016, 3, 31, 20, 30, tzinfo=timezone.utc), "31 марта, 23:30 по Москве", True),
        (datetime(2016, 3, 31, 21, 30, tzinfo=timezone.utc), "1 апреля, 00:30 по Москве", False),
        (datetime(2016, 7, 5, 9, tzinfo=timezone.utc), "Июль 1", True),
        (datetime(2016, 7, 6, 9, tzinfo=timezone.utc), "Июль 2", True),
        (datetime(2016, 12, 31, 21, 30, tzinfo=timezone.utc), "1 января 2017 по Москве", True),
    ):
        clock(moment)
        _send(svc, actors["it"], subject, send)
    cycles = by_period(svc)
    with svc.uow() as uow:
        def i11(period, today):
            content = reports.content_of(uow.session, uow.session.get(Report, cycles[period].id),
                                         tz=svc.tz, today=today)
            return next((i["fact"], i["source"]) for i in content["indicators"] if i["code"] == "I11")

        source = {"computed": "interdepartmental_requests_per_month"}
        assert i11("2016-Q1", date(2016, 4, 5)) == ("1.0", {**source, "count": 3, "months": 3})
        assert i11("2016", date(2017, 2, 1)) == ("0.4", {**source, "count": 5, "months": 12})  # 5/12
        assert i11("2016", date(2016, 7, 31)) == ("0.7", {**source, "count": 5, "months": 7})  # year under way
        assert i11("2016-Q3", date(2017, 2, 1)) == ("0.7", {**source, "count": 2, "months": 3})
