"""Information requests through their use cases (services.information_requests), without HTTP.

Deadlines are written by hand from the Russian production calendar for 2025
(five-day week; Europe/Moscow):
  01.05 (Thu) holiday, 02.05 (Fri) day off moved from Sat 04.01, 03-04.05 weekend;
  08.05 (Thu) day off moved from Sun 23.02, 09.05 (Fri) holiday, 10-11.05 weekend.
So the working days after Wed 30.04.2025 are 05.05, 06.05, 07.05, 12.05, 13.05, 14.05, 15.05, 16.05, 19.05 ...
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from services import information_requests as ir
from services.adapters import audit
from services.models.audit import AuditEntry
from services.models.requests import Answer, InformationRequest
from services.models.reminders import ReminderStep
from services.models.workflow import OutboxEvent, TransitionRecord
from workflows.core import Forbidden, Invalid, NotAllowedNow, NotFound, Refusal

PROGRAM = "kotovsk-information-society"
MFC_PEOPLE = ["mfc.staff@kotovsk.example", "mfc@kotovsk.example"]

# Wed 30.04.2025 10:00 Moscow time.
SENT = datetime(2025, 4, 30, 7, 0, tzinfo=timezone.utc)


def at(y, m, d, hour=7):
    return datetime(y, m, d, hour, 0, tzinfo=timezone.utc)


def end_of_moscow_day(d: date) -> datetime:
    """23:59:59 Moscow time (UTC+3, no DST) in UTC."""
    return datetime(d.year, d.month, d.day, 20, 59, 59, tzinfo=timezone.utc)


def create(svc, actor, *, addressees=("mfc",), send=True, working_days=None) -> list[int]:
    with svc.uow() as uow:
        _, copies = ir.create_request(uow, svc, actor, ir.NewRequest(
            program=PROGRAM, subject="Сведения о заявлениях", body="Просим представить.",
            addressees=list(addressees), working_days=working_days, send=send))
        uow.commit()
        return [c.id for c in copies]


def fire(svc, actor, rid, event, comment="", data=None) -> None:
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actor, rid, event, comment, data)
        uow.commit()


def load(svc, rid) -> InformationRequest:
    with svc.uow() as uow:
        req = uow.session.get(InformationRequest, rid)
        uow.session.expunge(req)
        return req


def history(svc, rid) -> list[tuple]:
    with svc.uow() as uow:
        return [tuple(r) for r in uow.session.execute(
            select(TransitionRecord.event, TransitionRecord.from_state, TransitionRecord.to_state,
                   TransitionRecord.actor_department, TransitionRecord.actor_role)
            .where(TransitionRecord.workflow == "information_request", TransitionRecord.item_id == rid)
            .order_by(TransitionRecord.id)).all()]


def audit_trail(svc, rid) -> list[tuple]:
    with svc.uow() as uow:
        return [(e.action, e.before, e.after["state"], e.actor_department) for e in uow.session.execute(
            select(AuditEntry).where(AuditEntry.object_type == "information_request",
                                     AuditEntry.object_id == str(rid)).order_by(AuditEntry.id)).scalars()]


def events_of(svc, rid) -> list[tuple[str, bool]]:
    """(type, handled) of the request's outbox events, in order."""
    with svc.uow() as uow:
        rows = uow.session.execute(select(OutboxEvent).order_by(OutboxEvent.created_at)).scalars().all()
        return [(e.type, e.completed_at is not None) for e in rows if e.payload.get("item_id") == rid]


def pending_reminders(svc, rid) -> set[tuple[int, str]]:
    with svc.uow() as uow:
        return set(uow.session.execute(
            select(ReminderStep.deadline_revision, ReminderStep.due_date)
            .where(ReminderStep.item_kind == "information_request", ReminderStep.item_id == rid,
                   ReminderStep.state == "pending")).all())


# --- the happy path ------------------------------------------------------------------------------

def test_send_answer_accept_stores_state_history_audit_events_and_mail_at_each_step(
        svc, actors, clock, emails_of):
    clock(SENT)
    [rid] = create(svc, actors["it"])  # created and sent in one transaction

    req = load(svc, rid)
    assert req.state == "sent" and req.sent_at == SENT
    assert req.working_days == 5
    assert req.due_date == date(2025, 5, 13)  # 05, 06, 07, 12, 13 May
    assert req.due_at == end_of_moscow_day(date(2025, 5, 13))
    assert history(svc, rid) == [("send", "draft", "sent", "it", "requester")]
    assert audit_trail(svc, rid) == [("information_request.send", {"state": "draft"}, "sent", "it")]
    assert events_of(svc, rid) == [("information_request.created", True), ("information_request.send", True)]
    assert emails_of("information_request.send") == [(e, "sent") for e in MFC_PEOPLE]
    assert pending_reminders(svc, rid) and {due for _, due in pending_reminders(svc, rid)} == {"2025-05-13"}

    clock(at(2025, 5, 6))
    fire(svc, actors["mfc_staff"], rid, "answer", "См. ответ", {"text": "За квартал 120 заявлений."})
    req = load(svc, rid)
    assert req.state == "answered" and req.answered_at == at(2025, 5, 6)
    assert req.pauses == [{"started": at(2025, 5, 6).isoformat(), "ended": None}]
    assert req.due_at is None  # the clock is paused while the requester reviews
    assert pending_reminders(svc, rid) == set()
    with svc.uow() as uow:
        answer = ir.latest_answer(uow.session, rid)
        assert (answer.data, answer.comment, answer.author_id) == (
            {"text": "За квартал 120 заявлений."}, "См. ответ", actors["mfc_staff"].user_id)
    assert history(svc, rid)[-1] == ("answer", "sent", "answered", "mfc", "addressee")
    assert emails_of("information_request.answer") == [("it@kotovsk.example", "sent")]

    clock(at(2025, 5, 7))
    fire(svc, actors["it_staff"], rid, "accept")
    req = load(svc, rid)
    assert req.state == "accepted" and req.closed_at == at(2025, 5, 7)
    assert history(svc, rid) == [
        ("send", "draft", "sent", "it", "requester"),
        ("answer", "sent", "answered", "mfc", "addressee"),
        ("accept", "answered", "accepted", "it", "requester"),
    ]
    assert [a[0] for a in audit_trail(svc, rid)] == [
        "information_request.send", "information_request.answer", "information_request.accept"]
    assert [t for t, _ in events_of(svc, rid)] == [
        "information_request.created", "information_request.send", "information_request.answer",
        "information_request.accept"]
    assert all(handled for _, handled in events_of(svc, rid))
    assert emails_of("information_request.accept") == [(e, "sent") for e in MFC_PEOPLE]
    with svc.uow() as uow:
        assert audit.verify(uow.session, b"").ok  # nothing sealed in a unit test: no entry may be out of the chain


def test_a_draft_waits_without_clock_or_mail_until_sent(svc, actors, clock, emails_of):
    clock(SENT)
    [rid] = create(svc, actors["it"], send=False)
    req = load(svc, rid)
    assert (req.state, req.sent_at, req.due_date, req.due_at) == ("draft", None, None, None)
    assert history(svc, rid) == []
    assert events_of(svc, rid) == [("information_request.created", True)]
    assert emails_of("information_request.send") == []

    clock(at(2025, 5, 5))  # Monday after the May holidays
    fire(svc, actors["it"], rid, "send")
    req = load(svc, rid)
    # Counted from the next day: 06, 07, 12, 13, 14 May.
    assert req.sent_at == at(2025, 5, 5) and req.due_date == date(2025, 5, 14)
    assert emails_of("information_request.send") == [(e, "sent") for e in MFC_PEOPLE]


def test_one_request_fans_out_into_independent_copies_per_addressee(svc, actors, clock):
    clock(SENT)
    mfc_copy, finance_copy = create(svc, actors["it"], addressees=("mfc", "finance"), working_days=3)
    with svc.uow() as uow:
        copies = {r.id: r for r in uow.session.execute(
            select(InformationRequest).where(InformationRequest.id.in_([mfc_copy, finance_copy]))).unique().scalars()}
        assert copies[mfc_copy].thread_id == copies[finance_copy].thread_id
        assert (copies[mfc_copy].department.code, copies[finance_copy].department.code) == ("mfc", "finance")
        assert {r.due_date for r in copies.values()} == {date(2025, 5, 7)}  # 05, 06, 07 May
    fire(svc, actors["mfc"], mfc_copy, "answer", data={"text": "Ответ МФЦ"})
    assert load(svc, mfc_copy).state == "answered"
    assert load(svc, finance_copy).state == "sent"
    with pytest.raises(NotFound):  # the MFC does not see the finance copy at all
        fire(svc, actors["mfc"], finance_copy, "answer", data={"text": "Чужой ответ"})
    assert load(svc, finance_copy).state == "sent"


# --- clarification, extension, withdrawal, delegation ------------------------------------------

def test_clarification_gives_back_the_working_days_left_at_answer_time(svc, actors, clock, emails_of):
    clock(SENT)
    [rid] = create(svc, actors["it"])  # due 13.05
    revision_sent = load(svc, rid).deadline_revision

    # Answered Tue 06.05: 3 working days were left (07, 12, 13 May).
    clock(at(2025, 5, 6))
    fire(svc, actors["mfc"], rid, "answer", data={"text": "Черновой ответ"})

    # Clarification asked Fri 16.05: the 3 days run again from the next day: 19, 20, 21 May.
    clock(at(2025, 5, 16))
    with pytest.raises(Invalid):  # a clarification needs its question
        fire(svc, actors["it"], rid, "request_clarification", "   ")
    fire(svc, actors["it"], rid, "request_clarification", "Уточните данные за апрель.")
    req = load(svc, rid)
    assert req.state == "clarification_requested"
    assert req.pauses == [{"started": at(2025, 5, 6).isoformat(), "ended": at(2025, 5, 16).isoformat()}]
    assert req.due_date == date(2025, 5, 21)
    assert req.due_at == end_of_moscow_day(date(2025, 5, 21))
    assert req.deadline_revision > revision_sent
    assert {due for _, due in pending_reminders(svc, rid)} == {"2025-05-21"}
    assert history(svc, rid)[-1] == ("request_clarification", "answered", "clarification_requested",
                                     "it", "requester")
    with svc.uow() as uow:
        row = uow.session.execute(select(TransitionRecord).where(
            TransitionRecord.event == "request_clarification")).scalar_one()
        assert row.comment == "Уточните данные за апрель."
    assert emails_of("information_request.request_clarification") == [(e, "sent") for e in MFC_PEOPLE]

    clock(at(2025, 5, 19))
    fire(svc, actors["mfc"], rid, "answer", data={"text": "Уточнённый ответ"})
    req = load(svc, rid)
    assert req.state == "answered" and len(req.pauses) == 2
    with svc.uow() as uow:
        texts = uow.session.execute(select(Answer.data).where(Answer.request_id == rid)
                                    .order_by(Answer.id)).scalars().all()
        assert texts == [{"text": "Черновой ответ"}, {"text": "Уточнённый ответ"}]


def test_extend_deadline_adds_working_days_to_the_current_due_date(svc, actors, clock, emails_of):
    clock(SENT)
    [rid] = create(svc, actors["it"])  # due Tue 13.05
    clock(at(2025, 5, 5))
    fire(svc, actors["it"], rid, "extend_deadline", "Большой объём сведений", {"working_days": 3})
    req = load(svc, rid)
    assert req.state == "sent"
    assert req.due_date == date(2025, 5, 16)  # 14, 15, 16 May
    assert req.due_at == end_of_moscow_day(date(2025, 5, 16))
    assert req.extensions == [{"working_days": 3, "reason": "Большой объём сведений",
                               "at": at(2025, 5, 5).isoformat()}]
    assert history(svc, rid)[-1][:3] == ("extend_deadline", "sent", "sent")
    assert {due for _, due in pending_reminders(svc, rid)} == {"2025-05-16"}
    assert emails_of("information_request.extend_deadline") == [(e, "sent") for e in MFC_PEOPLE]

    # A second extension across the June holidays: 12.06 (Thu) holiday, 13.06 (Fri) day off moved
    # from Sat 08.03, 14-15.06 weekend. From Fri 16.05: 19-23.05 (5), 26-30.05 (10), 02-06.06 (15),
    # 09, 10, 11.06 (18), 16.06 (19), 17.06 (20).
    fire(svc, actors["it"], rid, "extend_deadline", "Ещё продление", {"working_days": 20})
    assert load(svc, rid).due_date == date(2025, 6, 17)
    with svc.uow() as uow:
        explanation = ir.deadline_of(svc, uow.session.get(InformationRequest, rid)).explanation
    assert "17.06.2025" in explanation and "12.06.2025" in explanation


@pytest.mark.parametrize("data, comment", [
    ({"working_days": 0}, "Причина"),
    ({"working_days": 61}, "Причина"),
    ({"working_days": 3}, ""),
    ({}, "Причина"),
])
def test_an_invalid_extension_is_refused_and_the_deadline_stays(svc, actors, clock, snapshot, data, comment):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    before, counts = load(svc, rid), snapshot()
    with pytest.raises(Invalid):
        fire(svc, actors["it"], rid, "extend_deadline", comment, data)
    after = load(svc, rid)
    assert (after.due_date, after.extensions, after.version) == (before.due_date, [], before.version)
    assert snapshot() == counts


def test_withdraw_closes_the_request_stops_reminders_and_tells_the_addressee(svc, actors, clock, emails_of):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    assert pending_reminders(svc, rid)
    clock(at(2025, 5, 5))
    fire(svc, actors["it"], rid, "withdraw", "Сведения больше не нужны")
    req = load(svc, rid)
    assert req.state == "withdrawn" and req.closed_at == at(2025, 5, 5)
    assert pending_reminders(svc, rid) == set()
    assert emails_of("information_request.withdraw") == [(e, "sent") for e in MFC_PEOPLE]
    with pytest.raises(NotAllowedNow):  # final: nothing more happens to it
        fire(svc, actors["mfc"], rid, "answer", data={"text": "Поздний ответ"})
    assert load(svc, rid).state == "withdrawn"


def test_the_addressee_head_delegates_and_only_the_assignee_is_told(svc, actors, user_ids, clock, emails_of,
                                                                      snapshot):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    counts = snapshot()
    with pytest.raises(Forbidden):  # staff are not the head
        fire(svc, actors["mfc_staff"], rid, "delegate", data={"assignee_id": user_ids["mfc_staff"]})
    with pytest.raises(Invalid):  # only someone of the addressee department
        fire(svc, actors["mfc"], rid, "delegate", data={"assignee_id": user_ids["it_staff"]})
    assert snapshot() == counts and load(svc, rid).assignee_id is None

    fire(svc, actors["mfc"], rid, "delegate", data={"assignee_id": user_ids["mfc_staff"]})
    req = load(svc, rid)
    assert (req.state, req.assignee_id) == ("sent", user_ids["mfc_staff"])
    assert history(svc, rid)[-1] == ("delegate", "sent", "sent", "mfc", "addressee_head")
    assert emails_of("information_request.delegate") == [("mfc.staff@kotovsk.example", "sent")]


# --- refusals change nothing ---------------------------------------------------------------------

@pytest.mark.parametrize("who, event, data, error", [
    ("mfc", "accept", None, Forbidden),                        # the addressee cannot accept
    ("mfc", "withdraw", None, Forbidden),                      # nor withdraw
    ("it", "answer", {"text": "Сам себе"}, Forbidden),         # the requester cannot answer
    ("it", "accept", None, NotAllowedNow),                     # nothing to accept yet
    ("it", "request_clarification", None, NotAllowedNow),      # nothing to clarify yet
    ("it", "send", None, NotAllowedNow),                       # already sent
    ("econ", "answer", {"text": "Посторонний"}, NotFound),     # not a party: the request does not exist
    ("mfc", "answer", {"text": ""}, Invalid),                  # an empty answer
    ("mfc", "answer", {"unexpected": 1}, Invalid),             # an unknown field
    ("mfc", "no_such_event", None, Refusal),
])
def test_a_refused_transition_changes_nothing(svc, actors, clock, snapshot, who, event, data, error):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    before, counts = load(svc, rid), snapshot()
    with pytest.raises(error):
        fire(svc, actors[who], rid, event, "Комментарий", data)
    after = load(svc, rid)
    assert (after.state, after.version, after.due_date, after.pauses, after.answered_at) == (
        before.state, before.version, before.due_date, before.pauses, before.answered_at)
    assert snapshot() == counts
    with svc.uow() as uow:
        assert ir.latest_answer(uow.session, rid) is None


@pytest.mark.parametrize("who, addressees, error", [
    ("mfc", ("it",), Forbidden),              # a co-executor does not create requests
    ("it", ("it",), Invalid),                 # not to one's own department
    ("it", (), Invalid),
    ("it", ("no-such-dept",), Invalid),
])
def test_a_refused_creation_writes_nothing(svc, actors, snapshot, who, addressees, error):
    counts = snapshot()
    with pytest.raises(error):
        create(svc, actors[who], addressees=addressees)
    assert snapshot() == counts
    with svc.uow() as uow:
        assert uow.session.execute(select(InformationRequest.id)).first() is None


def test_inbox_lists_what_each_department_must_act_on(svc, actors, clock):
    clock(SENT)
    [sent] = create(svc, actors["it"])
    [draft] = create(svc, actors["it"], send=False)
    [answered] = create(svc, actors["it"])
    fire(svc, actors["mfc"], answered, "answer", data={"text": "Готово"})
    with svc.uow() as uow:
        mfc_inbox = {r.id for r in ir.inbox(uow.session, actors["mfc"], now=SENT)}
        it_inbox = {r.id for r in ir.inbox(uow.session, actors["it"], now=SENT)}
        finance_inbox = ir.inbox(uow.session, actors["finance"], now=SENT)
    assert mfc_inbox == {sent}
    assert it_inbox == {draft, answered}
    assert finance_inbox == []
