"""Registration numbers through the use cases: given on the first send/submit, in that transaction."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from services import amendments as am
from services import information_requests as ir
from services import reports
from services.models.amendments import Amendment
from services.models.registration import RegistrationCounter
from services.models.reports import Report
from services.models.requests import InformationRequest, RequestThread
from workflows.core import Forbidden, NotAllowedNow, NotFound

PROGRAM = "kotovsk-information-society"
SENT = datetime(2025, 4, 30, 7, 0, tzinfo=timezone.utc)
RAISE_2017 = {"financing": [{"year": 2017, "source": "city", "amount": "3329.4"}]}


def create(svc, actor, *, addressees=("mfc",), send=True) -> list[int]:
    with svc.uow() as uow:
        _, copies = ir.create_request(uow, svc, actor, ir.NewRequest(
            program=PROGRAM, subject="Сведения", body="Просим представить.", addressees=list(addressees),
            send=send))
        uow.commit()
        return [c.id for c in copies]


def fire(svc, actor, rid, event, data=None) -> None:
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actor, rid, event, "", data)
        uow.commit()


def numbers(svc, model, ids) -> list[tuple]:
    with svc.uow() as uow:
        rows = {r.id: r for r in uow.session.execute(select(model).where(model.id.in_(ids))).unique().scalars()}
        return [(rows[i].registration_number, rows[i].registration_date) for i in ids]


def counters(svc) -> dict:
    with svc.uow() as uow:
        return {(c.department, c.year): c.last_seq
                for c in uow.session.execute(select(RegistrationCounter)).scalars()}


def test_a_sent_request_is_numbered_by_the_requesters_counter_and_each_copy_by_its_position(svc, actors, clock):
    clock(SENT)
    first = create(svc, actors["it"], addressees=("mfc", "finance"))
    second = create(svc, actors["it"])
    assert numbers(svc, InformationRequest, first) == [("ИТ-2025/00001/1", date(2025, 4, 30)),
                                                      ("ИТ-2025/00001/2", date(2025, 4, 30))]
    assert numbers(svc, InformationRequest, second) == [("ИТ-2025/00002/1", date(2025, 4, 30))]
    with svc.uow() as uow:
        thread = uow.session.get(InformationRequest, first[0]).thread
        assert (thread.registration_number, thread.registration_date) == ("ИТ-2025/00001", date(2025, 4, 30))
    assert counters(svc) == {("it", 2025): 2}


def test_a_draft_has_no_number_and_gets_one_when_sent_with_the_send_date(svc, actors, clock):
    clock(SENT)
    [a, b] = create(svc, actors["it"], addressees=("mfc", "finance"), send=False)
    assert numbers(svc, InformationRequest, [a, b]) == [(None, None), (None, None)]
    assert counters(svc) == {}
    # The second copy first, a year later (local time: 31.12.2025 21:30 UTC is 01.01.2026 in Moscow).
    clock(datetime(2025, 12, 31, 21, 30, tzinfo=timezone.utc))
    fire(svc, actors["it"], b, "send")
    clock(datetime(2026, 1, 12, 7, 0, tzinfo=timezone.utc))
    fire(svc, actors["it"], a, "send")
    # One number per thread; each copy keeps its place among the addressees, and its own date.
    assert numbers(svc, InformationRequest, [a, b]) == [("ИТ-2026/00001/1", date(2026, 1, 12)),
                                                      ("ИТ-2026/00001/2", date(2026, 1, 1))]
    assert counters(svc) == {("it", 2026): 1}


def test_a_refused_send_takes_no_number(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"], send=False)
    with pytest.raises(NotFound):
        fire(svc, actors["finance"], rid, "send")  # not the requester: to it the draft does not exist
    assert numbers(svc, InformationRequest, [rid]) == [(None, None)]
    assert counters(svc) == {}
    fire(svc, actors["it"], rid, "send")
    with pytest.raises(NotAllowedNow):
        fire(svc, actors["it"], rid, "send")  # already sent: the number stays, no new one is taken
    assert numbers(svc, InformationRequest, [rid]) == [("ИТ-2025/00001/1", date(2025, 4, 30))]
    assert counters(svc) == {("it", 2025): 1}


def test_a_send_rolled_back_after_the_number_gives_it_back(svc, actors, clock):
    """The increment is in the transition's transaction: a failure after it leaves no gap."""
    clock(SENT)
    [a] = create(svc, actors["it"], send=False)
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["it"], a, "send")
        uow.session.flush()
        assert uow.session.get(InformationRequest, a).registration_number == "ИТ-2025/00001/1"
        uow.rollback()  # e.g. a later step of the request failed
    assert counters(svc) == {}
    [b] = create(svc, actors["it"])
    assert numbers(svc, InformationRequest, [a, b]) == [(None, None), ("ИТ-2025/00001/1", date(2025, 4, 30))]


def test_a_report_is_numbered_at_its_first_submission_and_keeps_it_when_resubmitted(svc, actors):
    reports.run_schedule(svc, date(2017, 6, 1), backlog=True)
    with svc.uow() as uow:
        report = uow.session.execute(select(Report).where(Report.period == "2016")).unique().scalar_one()
        rid, report.state = report.id, "ready"
        uow.commit()
    with svc.uow() as uow, pytest.raises(Forbidden):
        reports.fire_transition(uow, svc, actors["mfc"], rid, "submit", data={"note": "Записка"})
    assert numbers(svc, Report, [rid]) == [(None, None)]
    with svc.uow() as uow:
        reports.fire_transition(uow, svc, actors["it"], rid, "submit", data={"note": "Записка"})
        uow.commit()
    [(number, day)] = numbers(svc, Report, [rid])
    assert number == f"ИТ-{day.year}/00001"
    with svc.uow() as uow:
        reports.fire_transition(uow, svc, actors["econ"], rid, "return", comment="Уточните")
        uow.commit()
    with svc.uow() as uow:
        reports.fire_transition(uow, svc, actors["it"], rid, "resubmit", data={"note": "Уточнено"})
        uow.commit()
    assert numbers(svc, Report, [rid]) == [(number, day)]
    assert counters(svc) == {("it", day.year): 1}


def test_an_amendment_is_numbered_when_submitted_for_review_and_shares_the_executors_counter(svc, actors, clock):
    clock(SENT)
    create(svc, actors["it"])  # ИТ-<year of SENT>/00001 is the request's
    with svc.uow() as uow:
        aid = am.create_amendment(uow, svc, actors["it"], am.NewAmendment(
            program=PROGRAM, justification="Дополнительные средства.", changes=RAISE_2017)).id
        uow.commit()
    with svc.uow() as uow, pytest.raises(Forbidden):
        am.fire_transition(uow, svc, actors["econ"], aid, "submit_for_review")
    assert numbers(svc, Amendment, [aid]) == [(None, None)]
    with svc.uow() as uow:
        am.fire_transition(uow, svc, actors["it"], aid, "submit_for_review")
        uow.commit()
    [(number, day)] = numbers(svc, Amendment, [aid])
    # The amendment's clock is the real one (utcnow), the request's the test's: each year its own counter.
    expected_seq = 2 if day.year == 2025 else 1
    assert number == f"ИТ-{day.year}/{expected_seq:05d}"


def test_the_template_comes_from_the_settings(tmp_path):
    from tests.conftest import make_services, make_settings
    from services.registry import actor_for, seed_demo_users, seed_reference
    from services.models.registry import User

    svc = make_services(make_settings(tmp_path, INTERDEPT_REGISTRATION_TEMPLATE="ИСХ-{seq}/{department_prefix}/{year}"))
    try:
        with svc.uow() as uow:
            seed_reference(uow)
            seed_demo_users(uow)
            uow.commit()
        with svc.uow() as uow:
            it = actor_for(uow.session.execute(select(User).where(User.email == "it@kotovsk.example"))
                           .unique().scalar_one())
        svc.clock = lambda: SENT
        [rid] = create(svc, it)
        assert numbers(svc, InformationRequest, [rid]) == [("ИСХ-1/ИТ/2025/1", date(2025, 4, 30))]
    finally:
        svc.dispose()


def test_a_bad_template_stops_the_start(tmp_path):
    from tests.conftest import make_services, make_settings
    from workflows.registration import RegistrationConfigError

    with pytest.raises(RegistrationConfigError, match="year"):
        make_services(make_settings(tmp_path, INTERDEPT_REGISTRATION_TEMPLATE="{department_prefix}/{seq}"))
