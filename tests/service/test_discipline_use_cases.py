"""The discipline report on a constructed history, dates by hand from the 2016 production calendar.

IT asks the MFC, 5 working days each; 07.03.2016 (Mon, moved from 03.01) and 08.03.2016 are days off:

* A: sent Tue 01.03, due Thu 10.03 (02, 03, 04, 09, 10), answered 04.03 and accepted: on time.
* B: sent Fri 26.02, due Fri 04.03, answered Thu 10.03: late by 2 working days (09, 10), 6 calendar days.
* C: sent 01.03, due 10.03, extended by 5 working days on 09.03 (due 17.03), answered 16.03: on time, extended.
* D: sent 01.03, due 10.03, never answered; today Mon 21.03: overdue by 7 working days (11, 14–18, 21).
* E: sent 01.03, withdrawn 03.03: counted in no figure.
* F: sent Fri 18.03, due 25.03: open.

Economic policy asks finance once (sent 01.03, answered 02.03): a department party to neither sees none of it.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from services import discipline as dc
from services import information_requests as ir
from workflows.core import Invalid

PROGRAM = "kotovsk-information-society"
ANSWER = {"text": "Сведения представлены."}


def at(y, m, d, hour=7):  # 10:00 Moscow time
    return datetime(y, m, d, hour, 0, tzinfo=timezone.utc)


def create(svc, actor, to="mfc", subject="Сведения") -> int:
    with svc.uow() as uow:
        _, copies = ir.create_request(uow, svc, actor, ir.NewRequest(
            program=PROGRAM, subject=subject, body="Просим представить.", addressees=[to], working_days=5,
            send=True))
        uow.commit()
        return copies[0].id


def fire(svc, actor, rid, event, comment="", data=None):
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actor, rid, event, comment, data)
        uow.commit()


def build_history(svc, actors) -> dict[str, int]:
    """The history above, acted at its instants; leaves the clock at Mon 21.03.2016 10:00."""

    def clock(moment):
        svc.clock = lambda: moment

    it, mfc = actors["it"], actors["mfc_staff"]
    ids = {}
    clock(at(2016, 2, 26))
    ids["B"] = create(svc, it, subject="Б: с опозданием")
    clock(at(2016, 3, 1))
    ids["A"] = create(svc, it, subject="А: в срок")
    ids["C"] = create(svc, it, subject="В: с продлением")
    ids["D"] = create(svc, it, subject="Г: просрочен")
    ids["E"] = create(svc, it, subject="Д: отозван")
    ids["X"] = create(svc, actors["econ"], to="finance", subject="Финансам")
    clock(at(2016, 3, 2))
    fire(svc, actors["finance"], ids["X"], "answer", "", ANSWER)
    clock(at(2016, 3, 3))
    fire(svc, it, ids["E"], "withdraw", "Не нужен")
    clock(at(2016, 3, 4))
    fire(svc, mfc, ids["A"], "answer", "", ANSWER)
    fire(svc, it, ids["A"], "accept")
    clock(at(2016, 3, 9))
    fire(svc, it, ids["C"], "extend_deadline", "Большой объём", {"working_days": 5})
    clock(at(2016, 3, 10))
    fire(svc, mfc, ids["B"], "answer", "", ANSWER)
    clock(at(2016, 3, 16))
    fire(svc, mfc, ids["C"], "answer", "", ANSWER)
    clock(at(2016, 3, 18))
    ids["F"] = create(svc, it, subject="Е: срок не истёк")
    clock(at(2016, 3, 21))
    return ids


@pytest.fixture
def history(svc, actors):
    return build_history(svc, actors)


def report(svc, actor, **kw):
    with svc.uow() as uow:
        return dc.discipline(uow.session, svc, actor, dc.DisciplineQuery(
            start=kw.pop("start", date(2016, 1, 1)), end=kw.pop("end", date(2016, 12, 31)), **kw))


def row(view, code):
    return next(d for d in view.report.departments if d.department == code)


def test_each_figure_of_the_mfc_on_the_constructed_history(svc, actors, history):
    view = report(svc, actors["econ"])
    mfc = row(view, "mfc").total
    assert (mfc.received, mfc.on_time, mfc.late, mfc.overdue, mfc.open, mfc.withdrawn) == (5, 2, 1, 1, 1, 1)
    assert (mfc.extended, mfc.extensions) == (1, 1)
    assert mfc.average_delay == Decimal("2.0")
    assert mfc.overdue_delay_total == 7
    by_id = {i.facts.item_id: i for i in view.items}
    assert (by_id[history["B"]].outcome, by_id[history["B"]].delay) == ("late", 2)
    assert by_id[history["B"]].facts.due == date(2016, 3, 4)
    assert (by_id[history["C"]].outcome, by_id[history["C"]].facts.due) == ("on_time", date(2016, 3, 17))
    assert (by_id[history["D"]].outcome, by_id[history["D"]].delay) == ("overdue", 7)
    assert by_id[history["E"]].outcome == "withdrawn"
    assert by_id[history["F"]].outcome == "open"
    # months of sending
    assert row(view, "mfc").months["2016-02"].late == 1
    assert row(view, "mfc").months["2016-03"].received == 4
    assert view.report.total.received == 6  # with finance's one
    assert [i.facts.item_id for i in dc.drill_down(view, "late", "mfc", "2016-02")] == [history["B"]]
    assert [i.facts.item_id for i in dc.drill_down(view, "extended", "mfc")] == [history["C"]]


def test_a_department_sees_only_the_items_it_is_a_party_to(svc, actors, history):
    mfc_view = report(svc, actors["mfc"])
    assert [d.department for d in mfc_view.report.departments] == ["mfc"]
    assert history["X"] not in {i.facts.item_id for i in mfc_view.items}
    it_view = report(svc, actors["it"])  # the requester of the MFC's items
    assert [d.department for d in it_view.report.departments] == ["mfc"]
    assert row(it_view, "mfc").total.received == 5
    # filtering by a department it is no party to gives nothing, not an error
    assert report(svc, actors["it"], department="finance").items == []
    econ = report(svc, actors["econ"])
    assert [d.department for d in econ.report.departments] == ["finance", "mfc"]
    assert history["A"] not in econ.visible  # counted for economic policy, but not its request to open
    assert history["A"] not in econ.subjects and history["X"] in econ.subjects  # its own request's subject
    assert it_view.subjects[history["A"]] == "А: в срок"
    assert report(svc, actors["finance"]).report.total.received == 6


def test_filters_program_department_and_period(svc, actors, history):
    assert report(svc, actors["econ"], department="mfc").report.total.received == 5
    assert report(svc, actors["econ"], program=PROGRAM).report.total.received == 6
    march = report(svc, actors["econ"], start=date(2016, 3, 1), end=date(2016, 3, 31))
    assert march.report.total.received == 5 and march.report.months == ["2016-03"]
    assert report(svc, actors["econ"], start=date(2017, 1, 1), end=date(2017, 12, 31)).items == []


@pytest.mark.parametrize("kw, field", [
    ({"start": date(2016, 5, 1), "end": date(2016, 4, 1)}, "to"),
    ({"department": "nope"}, "department"),
    ({"program": "nope"}, "program"),
    ({"start": date(1900, 1, 1)}, "from"),
    ({"start": date(1995, 1, 1), "end": date(2016, 1, 1)}, "to"),
])
def test_bad_filters_are_refused_naming_the_field(svc, actors, kw, field):
    with pytest.raises(Invalid) as exc:
        report(svc, actors["econ"], **kw)
    assert field in exc.value.fields


def test_drill_down_refuses_an_unknown_figure_or_a_month_outside_the_period(svc, actors, history):
    view = report(svc, actors["econ"])
    with pytest.raises(Invalid) as exc:
        dc.drill_down(view, "bogus")
    assert "figure" in exc.value.fields
    with pytest.raises(Invalid) as exc:
        dc.drill_down(view, "late", month="2017-01")
    assert "month" in exc.value.fields
