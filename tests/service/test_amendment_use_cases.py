"""Program amendments through their use cases (services.amendments), without HTTP."""
from __future__ import annotations

import re

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from services import amendments as am
from services.models.amendments import Amendment, AmendmentReview
from services.models.audit import AuditEntry
from services.models.mail import OutgoingEmail
from services.models.registry import Program, ProgramVersion
from services.models.workflow import TransitionRecord
from services.registry import load_version
from services.signing import signatures_for, verify_signature
from workflows.core import Conflict, Forbidden, Invalid, NotAllowedNow, NotFound

PROGRAM = "kotovsk-information-society"
# +100.0 to the city budget in 2017 (3229.4 in the seeded passport) and a target for I3.
RAISE_2017 = {"financing": [{"year": 2017, "source": "city", "amount": "3329.4"}],
              "indicator_targets": [{"indicator": "I3", "year": 2017, "value": "10"}]}
REVIEWERS = ["econ@kotovsk.example", "finance@kotovsk.example"]


def create(svc, actor, changes=None, justification="Дополнительные средства на развитие сервисов.") -> int:
    with svc.uow() as uow:
        a = am.create_amendment(uow, svc, actor, am.NewAmendment(
            program=PROGRAM, justification=justification, changes=changes or RAISE_2017))
        uow.commit()
        return a.id


def fire(svc, actor, aid, event, comment="", data=None) -> dict:
    with svc.uow() as uow:
        _, report = am.fire_transition(uow, svc, actor, aid, event, comment, data)
        uow.commit()
        return report


def load(svc, aid) -> Amendment:
    with svc.uow() as uow:
        a = uow.session.get(Amendment, aid)
        uow.session.expunge(a)
        return a


def reviews(svc, aid) -> list[tuple]:
    with svc.uow() as uow:
        return [(r.department, r.revision, r.decision, r.remarks) for r in am.reviews_of(uow.session, aid)]


def history(svc, aid) -> list[tuple[str, str, str]]:
    with svc.uow() as uow:
        return [tuple(r) for r in uow.session.execute(
            select(TransitionRecord.event, TransitionRecord.from_state, TransitionRecord.to_state)
            .where(TransitionRecord.workflow == "amendment", TransitionRecord.item_id == aid)
            .order_by(TransitionRecord.id)).all()]


def city_2017(svc, number=None) -> Decimal:
    with svc.uow() as uow:
        return load_version(uow.session, PROGRAM, number).passport.amount(2017, "city")


def current_version(svc) -> int:
    with svc.uow() as uow:
        return uow.session.execute(select(Program.current_version).where(Program.slug == PROGRAM)).scalar_one()


def test_draft_review_by_both_approvers_then_adopt_makes_a_new_program_version(svc, actors, emails_of):
    base = current_version(svc)
    before = city_2017(svc)
    assert before == Decimal("3229.4")

    aid = create(svc, actors["it"])
    a = load(svc, aid)
    assert (a.state, a.revision, a.base_version, a.due_date) == ("draft", 1, base, None)

    fire(svc, actors["it"], aid, "submit_for_review")
    a = load(svc, aid)
    assert a.state == "under_review" and a.submitted_at is not None
    assert a.due_date is not None and a.due_date > a.submitted_at.date()
    assert a.due_at == datetime(a.due_date.year, a.due_date.month, a.due_date.day, 20, 59, 59, tzinfo=timezone.utc)
    assert emails_of("amendment.submit_for_review") == [(e, "sent") for e in REVIEWERS]

    fire(svc, actors["econ"], aid, "approve")
    assert load(svc, aid).state == "under_review"  # finance has not decided yet
    fire(svc, actors["finance"], aid, "approve")
    assert load(svc, aid).state == "approved"
    assert reviews(svc, aid) == [("economic-policy", 1, "approve", ""), ("finance", 1, "approve", "")]
    assert current_version(svc) == base  # approved is not yet in force

    fire(svc, actors["it"], aid, "adopt", data={"resolution_number": "245", "resolution_date": "2026-11-20"})
    a = load(svc, aid)
    assert (a.state, a.adopted_version, a.resolution_number, a.resolution_date) == (
        "adopted", base + 1, "245", date(2026, 11, 20))
    assert a.closed_at is not None and a.due_date is None
    assert current_version(svc) == base + 1
    assert city_2017(svc) == Decimal("3329.4")
    assert city_2017(svc, base) == before  # the previous version is kept as it was
    assert history(svc, aid) == [
        ("submit_for_review", "draft", "under_review"),
        ("approve", "under_review", "under_review"),
        ("approve", "under_review", "approved"),
        ("adopt", "approved", "adopted"),
    ]
    with svc.uow() as uow:
        version = uow.session.execute(select(ProgramVersion).where(ProgramVersion.number == base + 1)).scalar_one()
        assert (version.resolution_number, version.resolution_date) == ("245", date(2026, 11, 20))
        # The version note is read by people on the program page: names and local dates, no codes.
        assert "постановление №245 от 20.11.2026" in version.note
        assert "Отдел экономической политики администрации города (" in version.note
        assert "Финансовый отдел администрации города (" in version.note
        assert not re.search(r"economic-policy|finance \(|UTC|\d{4}-\d{2}-\d{2}", version.note), version.note
        adopted_mail = uow.session.execute(select(OutgoingEmail.text_body).where(
            OutgoingEmail.subject.like("%утверждена редакция%"))).scalars().first()
        assert adopted_mail is not None and "от 20.11.2026" in adopted_mail and "2026-11-20" not in adopted_mail
        actions = uow.session.execute(select(AuditEntry.action).where(
            AuditEntry.object_type == "amendment", AuditEntry.object_id == str(aid))
            .order_by(AuditEntry.id)).scalars().all()
        assert [x for x in actions if x.startswith("amendment.")] == [
            "amendment.submit_for_review", "amendment.approve", "amendment.approve", "amendment.adopt"]
        assert actions.count("decision.signed") == 3  # each approval and the adoption is signed
        signed = signatures_for(uow.session, "amendment", aid)
        assert sorted(s.decision for s in signed) == ["adopt", "approve", "approve"]
        assert all(verify_signature(uow.session, s) for s in signed)


def test_a_return_needs_a_revision_and_the_new_revision_is_reviewed_afresh(svc, actors, emails_of):
    aid = create(svc, actors["it"])
    fire(svc, actors["it"], aid, "submit_for_review")
    fire(svc, actors["econ"], aid, "approve")
    fire(svc, actors["finance"], aid, "return", data={"remarks": "Уточните источник."})
    assert load(svc, aid).state == "returned"
    assert reviews(svc, aid)[-1] == ("finance", 1, "return", "Уточните источник.")
    assert "it@kotovsk.example" in {r for r, _ in emails_of("amendment.return")}

    with svc.uow() as uow:
        am.revise(uow, svc, actors["it"], aid, justification="Уточнено: средства бюджета города.")
        uow.commit()
    a = load(svc, aid)
    assert (a.state, a.revision, a.justification) == ("under_review", 2, "Уточнено: средства бюджета города.")
    fire(svc, actors["finance"], aid, "approve")
    # Economic policy's approval was of revision 1: it lapsed, so one approval is still missing.
    assert load(svc, aid).state == "under_review"
    fire(svc, actors["econ"], aid, "approve")
    assert load(svc, aid).state == "approved"
    with svc.uow() as uow:
        assert [r.revision for r in am.revisions_of(uow.session, aid)] == [1, 2]


@pytest.mark.parametrize("who, event, data, error, state", [
    ("econ", "approve", None, NotAllowedNow, "draft"),          # not submitted yet
    ("econ", "submit_for_review", None, Forbidden, "draft"),    # only the executor submits
    ("it", "approve", None, Forbidden, "under_review"),         # the executor does not approve itself
    ("mfc", "approve", None, Forbidden, "under_review"),        # a co-executor is not a reviewer
    ("econ", "approve", {"remarks": "x"}, Invalid, "under_review"),  # approve takes no data
    ("it", "adopt", {"resolution_number": "1", "resolution_date": "2026-01-01"}, NotAllowedNow, "under_review"),
])
def test_a_refused_amendment_decision_changes_nothing(svc, actors, snapshot, who, event, data, error, state):
    aid = create(svc, actors["it"])
    if state == "under_review":
        fire(svc, actors["it"], aid, "submit_for_review")
    before, counts, version = load(svc, aid), snapshot(), current_version(svc)
    with pytest.raises(error):
        fire(svc, actors[who], aid, event, data=data)
    after = load(svc, aid)
    assert (after.state, after.version, after.revision) == (before.state, before.version, before.revision)
    assert snapshot() == counts and current_version(svc) == version
    assert reviews(svc, aid) == []


def test_a_department_decides_once_per_revision(svc, actors, snapshot):
    aid = create(svc, actors["it"])
    fire(svc, actors["it"], aid, "submit_for_review")
    fire(svc, actors["econ"], aid, "approve")
    counts = snapshot()
    with pytest.raises(Conflict):
        fire(svc, actors["econ"], aid, "return", data={"remarks": "Передумали"})
    assert snapshot() == counts
    assert reviews(svc, aid) == [("economic-policy", 1, "approve", "")]
    assert load(svc, aid).state == "under_review"


def test_only_the_executor_drafts_and_only_with_a_justification(svc, actors, snapshot):
    counts = snapshot()
    with pytest.raises(Forbidden):
        create(svc, actors["econ"])
    with pytest.raises(Invalid):
        create(svc, actors["it"], justification="  ")
    assert snapshot() == counts
    with svc.uow() as uow:
        assert uow.session.execute(select(Amendment.id)).first() is None
        assert uow.session.execute(select(AmendmentReview.id)).first() is None
    with svc.uow() as uow, pytest.raises(NotFound):
        am.create_amendment(uow, svc, actors["it"], am.NewAmendment(
            program="no-such-program", justification="x", changes=RAISE_2017))


def test_the_review_reminder_names_the_departments_still_to_decide(svc, actors):
    """The reminder email's explanation is read by people: department names, not codes."""
    aid = create(svc, actors["it"])
    fire(svc, actors["it"], aid, "submit_for_review")
    fire(svc, actors["econ"], aid, "approve")
    submitted = load(svc, aid).submitted_at.astimezone(svc.tz)
    with svc.uow() as uow:
        reminder = am.describe_reminder(uow.session, svc, aid)
    assert reminder.explanation.endswith("ожидается решение: Финансовый отдел администрации города.")
    assert f"({submitted:%d.%m.%Y})" in reminder.explanation
    assert "finance" not in reminder.explanation and "economic" not in reminder.explanation
