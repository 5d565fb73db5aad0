"""Giving out registration numbers (the rules are ``workflows.registration``).

``next_number`` increments the (department, year) counter with one
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` in the caller's unit of work, i.e. in the same
transaction as the send/submit it numbers. On PostgreSQL the statement holds the counter row's lock
until that transaction ends, so concurrent sends of one department queue on it and each gets the next
number; SQLite serialises writers anyway. A transition that fails after taking a number rolls the
increment back with everything else, so numbers are never skipped, and never reused (the counter only
grows; each table's unique constraint is the last guard).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from config.registration import load_prefixes
from services.adapters.unit_of_work import UnitOfWork
from services.models.registration import RegistrationCounter
from services.models.requests import InformationRequest, RequestThread
from workflows.registration import NumberTemplate, copy_number, default_prefix, parse_template


@dataclass(frozen=True)
class Numbering:
    """The template and the prefixes in force (checked when the services start)."""

    template: NumberTemplate
    prefixes: dict[str, str] = field(default_factory=dict)

    def prefix(self, department_code: str) -> str:
        return self.prefixes.get(department_code) or default_prefix(department_code)


def load_numbering(settings) -> Numbering:
    return Numbering(parse_template(settings.registration_template), load_prefixes())


def _increment(session, department: str, year: int) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = RegistrationCounter.__table__
    stmt = insert(table).values(department=department, year=year, last_seq=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.department, table.c.year],
                                      set_={"last_seq": table.c.last_seq + 1}).returning(table.c.last_seq)
    return session.execute(stmt).scalar_one()


def next_number(uow: UnitOfWork, services, department_code: str, now: datetime) -> tuple[str, date]:
    """The department's next number for the (local) year of ``now``, and that local date."""
    local = now.astimezone(services.tz).date()
    seq = _increment(uow.session, department_code, local.year)
    numbering: Numbering = services.registration
    return numbering.template.render(numbering.prefix(department_code), local.year, seq), local


def lock_thread(uow: UnitOfWork, req: InformationRequest) -> str | None:
    """Lock the copy's thread row and read its number as committed.

    So two of a thread's copies sent at once do not both number the thread. ``_fire`` calls this before
    the send writes anything: once a transaction has updated its copy twice, PostgreSQL re-checks the
    copy's foreign key on each further update and holds FOR KEY SHARE on the thread, and two sends each
    holding that while waiting for the other's row lock deadlock. (FOR NO KEY UPDATE: the weakest lock
    that excludes another send, and that lets others' foreign-key checks pass.)
    """
    return uow.session.execute(
        select(RequestThread.registration_number).where(RequestThread.id == req.thread_id)
        .with_for_update(key_share=True)
    ).scalar_one()


_UNREAD = object()


def register_copy(uow: UnitOfWork, services, req: InformationRequest, now: datetime,
                  locked=_UNREAD, position: int | None = None) -> None:
    """Number a copy on its first send: the thread's number (taken now if this is the thread's first
    send) and the copy's position among the thread's copies. ``locked``: what ``lock_thread`` returned
    earlier in this transaction (the lock is still held, so the number cannot have changed since):
    the thread is not read and locked a second time. ``position``: the copy's place among its thread's
    copies when the caller knows it (copies created together in this transaction), else counted."""
    if req.registration_number is not None:
        return  # sent before (e.g. withdrawn and sent again): the number stays
    session = uow.session
    thread_number = lock_thread(uow, req) if locked is _UNREAD else locked
    thread: RequestThread = req.thread
    if thread_number is None:
        thread_number, day = next_number(uow, services, thread.requester_department.code, now)
        thread.registration_number, thread.registration_date = thread_number, day
    elif thread.registration_number != thread_number:
        session.refresh(thread, ["registration_number", "registration_date"])
    if position is None:
        position = session.execute(
            select(func.count()).select_from(InformationRequest)
            .where(InformationRequest.thread_id == req.thread_id, InformationRequest.id <= req.id)
        ).scalar_one()
    req.registration_number = copy_number(thread_number, position)
    req.registration_date = now.astimezone(services.tz).date()


def register_item(uow: UnitOfWork, services, item, department_code: str, now: datetime) -> None:
    """Number a report or an amendment on its first submission (a resubmission keeps the number)."""
    if item.registration_number is None:
        item.registration_number, item.registration_date = next_number(uow, services, department_code, now)


