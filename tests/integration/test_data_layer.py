"""The data layer on both the embedded default (SQLite) and the real PostgreSQL server."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from services import information_requests as ir
from services.models.registry import IndicatorActual, Program, ProgramVersion
from services.models.requests import InformationRequest
from services.models.workflow import HandledEvent, OutboxEvent, TransitionRecord
from services.events.outbox import handle_event, relay, run_handler, handlers_for
from services.registry import actor_for, load_version, record_actual, seed_demo_users, seed_reference
from services.models.registry import User
from workflows.core import Forbidden, Invalid, NotAllowedNow

SLUG = "kotovsk-information-society"


def _seed(services):
    with services.uow() as uow:
        seed_reference(uow)
        seed_demo_users(uow)
        uow.commit()


def _actor(services, email):
    with services.uow() as uow:
        return actor_for(uow.session.execute(select(User).where(User.email == email)).scalar_one())


def _new_request(services, send=True, addressees=("mfc",)):
    it = _actor(services, "it@kotovsk.example")
    with services.uow() as uow:
        _, copies = ir.create_request(uow, services, it, ir.NewRequest(
            program=SLUG, subject="s", body="b", addressees=list(addressees), send=send))
        uow.commit()
        return [c.id for c in copies]


def _count(services, model, *where):
    with services.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_seeding_is_idempotent_and_keeps_exact_money(any_services):
    _seed(any_services)
    _seed(any_services)
    assert _count(any_services, Program) == 1
    assert _count(any_services, ProgramVersion) == 1
    with any_services.uow() as uow:
        passport = load_version(uow.session, SLUG).passport
    assert passport.financing_total() == Decimal("22427.3")
    assert passport.amount(2016, "city") == Decimal("3856.5")


def test_indicator_actual_keeps_decimal_digits_and_provenance(any_services):
    _seed(any_services)
    with any_services.uow() as uow:
        program = uow.session.execute(select(Program)).scalar_one()
        record_actual(uow, program.id, "I1", "2016", Decimal("99.1234"), request_id=7, answer_id=9, user_id=None)
        uow.commit()
    with any_services.uow() as uow:
        row = uow.session.execute(select(IndicatorActual)).scalar_one()
        assert row.value == Decimal("99.1234")
        assert (row.source_request_id, row.source_answer_id) == (7, 9)
        assert row.recorded_at.tzinfo is not None


def test_a_transition_commits_state_history_and_outbox_together(any_services):
    _seed(any_services)
    [rid] = _new_request(any_services, send=False)
    it = _actor(any_services, "it@kotovsk.example")
    with any_services.uow() as uow:
        ir.fire_transition(uow, any_services, it, rid, "send")
        uow.commit()
    assert _count(any_services, TransitionRecord, TransitionRecord.item_id == rid) == 1
    assert _count(any_services, OutboxEvent, OutboxEvent.type == "information_request.send") == 1
    with any_services.uow() as uow:
        req = uow.session.get(InformationRequest, rid)
        assert req.state == "sent" and req.due_at > req.sent_at


def test_refused_transitions_change_nothing(any_services):
    _seed(any_services)
    [rid] = _new_request(any_services)
    mfc = _actor(any_services, "mfc@kotovsk.example")
    it = _actor(any_services, "it@kotovsk.example")
    before = (_count(any_services, TransitionRecord), _count(any_services, OutboxEvent))
    for actor, event, error in [(mfc, "accept", Forbidden), (it, "accept", NotAllowedNow), (it, "answer", Forbidden)]:
        with any_services.uow() as uow, pytest.raises(error):
            ir.fire_transition(uow, any_services, actor, rid, event)
    with any_services.uow() as uow, pytest.raises(Invalid):
        ir.fire_transition(uow, any_services, mfc, rid, "answer", data={"unexpected": 1})
    assert (_count(any_services, TransitionRecord), _count(any_services, OutboxEvent)) == before
    with any_services.uow() as uow:
        assert uow.session.get(InformationRequest, rid).state == "sent"


def test_a_stale_concurrent_update_is_refused(any_services):
    _seed(any_services)
    [rid] = _new_request(any_services)
    first = any_services.session_factory()
    stale = first.get(InformationRequest, rid)
    first.expunge(stale)
    first.close()  # SQLite holds its write lock for a whole transaction: read, then let go
    with any_services.uow() as uow:
        req = uow.session.get(InformationRequest, rid)
        req.working_days = 7
        uow.commit()
    stale.working_days = 9
    second = any_services.session_factory()
    second.add(stale)
    with pytest.raises(StaleDataError):
        second.commit()
    second.close()
    with any_services.uow() as uow:
        assert uow.session.get(InformationRequest, rid).working_days == 7


def test_a_redelivered_event_is_handled_once(any_services):
    _seed(any_services)
    _new_request(any_services)
    with any_services.uow() as uow:
        event = uow.session.execute(
            select(OutboxEvent).where(OutboxEvent.type == "information_request.send")).scalar_one()
        uow.session.expunge(event)
    emails = sorted(any_services.settings.mail_dir.glob("*.eml"))
    assert len(emails) == 2  # the two MFC users, sent inline by the eager publisher
    for handler in handlers_for(any_services, event.type):
        assert run_handler(any_services, event, handler) is False
    assert handle_event(any_services, event.id) is True
    assert sorted(any_services.settings.mail_dir.glob("*.eml")) == emails
    assert _count(any_services, HandledEvent, HandledEvent.event_id == event.id) == len(handlers_for(any_services, event.type))


def test_relay_republishes_only_unfinished_events_after_the_timeout(any_services):
    _seed(any_services)
    published = []
    any_services.publisher = published.extend
    _new_request(any_services)  # "created" (nobody listens) and "send" (published, never handled)
    assert len(published) == 1
    with any_services.uow() as uow:
        created = uow.session.execute(
            select(OutboxEvent).where(OutboxEvent.type == "information_request.created")).scalar_one()
        assert created.completed_at is not None and created.publish_count == 0
    published.clear()
    now = datetime.now(timezone.utc)
    assert relay(any_services, now=now) == 0
    later = now + timedelta(seconds=any_services.settings.outbox_republish_after + 1)
    assert relay(any_services, now=later) == 1
    assert len(published) == 1
    for event_id in published:
        handle_event(any_services, event_id)
    assert relay(any_services, now=later + timedelta(hours=1)) == 0
