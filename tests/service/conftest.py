"""The service tier: use cases called directly (no HTTP) on eager SQLite Services.

``svc`` is the eager SQLite Services with the reference program and the demo users
seeded; ``actors`` the demo users as workflow Actors by short name; ``snapshot``
counts the rows every use case writes beside its own (history, audit, outbox,
email, reminders), so a test can say exactly what a step added, or that a refusal
added nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

import pytest
from sqlalchemy import func, select

from services.models.audit import AuditEntry
from services.models.mail import OutgoingEmail
from services.models.registry import User
from services.models.reminders import ReminderStep
from services.models.workflow import OutboxEvent, TransitionRecord
from services.registry import actor_for, seed_demo_users, seed_reference
from workflows.core import Actor

PROGRAM = "kotovsk-information-society"
USERS = {
    "it": "it@kotovsk.example", "it_staff": "it.staff@kotovsk.example", "mfc": "mfc@kotovsk.example",
    "mfc_staff": "mfc.staff@kotovsk.example", "econ": "econ@kotovsk.example",
    "finance": "finance@kotovsk.example", "admin": "admin@kotovsk.example",
}


@pytest.fixture
def svc(sqlite_services):
    with sqlite_services.uow() as uow:
        seed_reference(uow)
        seed_demo_users(uow)
        uow.commit()
    return sqlite_services


@pytest.fixture
def actors(svc) -> dict[str, Actor]:
    with svc.uow() as uow:
        users = uow.session.execute(select(User).where(User.email.in_(USERS.values()))).unique().scalars()
        by_email = {u.email: u for u in users}
        return {name: actor_for(by_email[email]) for name, email in USERS.items()}


@pytest.fixture
def user_ids(actors) -> dict[str, int]:
    return {name: actor.user_id for name, actor in actors.items()}


@pytest.fixture
def clock(svc) -> Callable[[datetime], None]:
    """``clock(moment)`` makes the use cases act at that instant (services.now())."""

    def set_clock(moment: datetime) -> None:
        assert moment.tzinfo is not None
        svc.clock = lambda: moment

    return set_clock


def _count(session, model, *where) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


@pytest.fixture
def snapshot(svc) -> Callable[[], dict[str, int]]:
    def take() -> dict[str, int]:
        with svc.uow() as uow:
            s = uow.session
            return {
                "transitions": _count(s, TransitionRecord),
                "audit": _count(s, AuditEntry),
                "outbox": _count(s, OutboxEvent),
                "emails": _count(s, OutgoingEmail),
                "reminders": _count(s, ReminderStep),
            }

    return take


@pytest.fixture
def emails_of(svc) -> Callable[[str], list[tuple[str, str]]]:
    """(recipient, state) of the emails queued by the handlers of events of one type, by recipient."""

    def read(event_type: str) -> list[tuple[str, str]]:
        with svc.uow() as uow:
            ids = uow.session.execute(select(OutboxEvent.id).where(OutboxEvent.type == event_type)).scalars().all()
            rows = uow.session.execute(select(OutgoingEmail)).scalars().all()
            return sorted((e.recipient, e.state) for e in rows if e.dedupe_key.split(":", 1)[0] in ids)

    return read

