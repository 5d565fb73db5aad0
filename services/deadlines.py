"""The deadline sweep: records each missed deadline once, as an event.

The query is on the (state, due_at) index, so its cost follows the number of
items due, not the number open. On PostgreSQL rows are taken with SKIP LOCKED
so two sweeps at once share the work instead of doubling it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from services.adapters.job_runs import REMINDER_SWEEP, timed_run
from services.models.base import utcnow
from services.models.requests import InformationRequest
from workflows.information_request import AWAITING_ADDRESSEE
from services.reminders import sweep_reminders


def sweep(services, now: datetime | None = None, batch: int = 500) -> int:
    """Record missed deadlines, then fire the reminder steps that are due."""
    now = now or utcnow()
    with timed_run(services.session_factory, REMINDER_SWEEP):
        return record_missed_deadlines(services, now, batch) + sweep_reminders(services, now, batch)


def record_missed_deadlines(services, now: datetime, batch: int = 500) -> int:
    recorded = 0
    while True:
        with services.uow() as uow:
            query = (
                select(InformationRequest)
                .where(InformationRequest.state.in_(AWAITING_ADDRESSEE))
                .where(InformationRequest.due_at < now)
                .where(or_(InformationRequest.missed_revision.is_(None),
                           InformationRequest.missed_revision != InformationRequest.deadline_revision))
                .order_by(InformationRequest.due_at)
                .limit(batch)
            )
            if not services.settings.is_sqlite:
                query = query.with_for_update(skip_locked=True, of=InformationRequest)
            rows = uow.session.execute(query).unique().scalars().all()
            for req in rows:
                req.missed_revision = req.deadline_revision
                uow.emit("information_request.deadline_missed", {
                    "item_id": req.id, "thread_id": req.thread_id, "department": req.department.code,
                    "due_date": req.due_date.isoformat() if req.due_date else None,
                    "deadline_revision": req.deadline_revision,
                })
            uow.commit()
        recorded += len(rows)
        if len(rows) < batch:
            return recorded
