"""One reminder mechanism for every kind of item with a deadline.

An item's use case calls ``reschedule`` whenever its deadline moves or it stops
waiting; that replaces the item's pending steps. The sweep takes due steps
through a partial index (cost follows the steps due, not the items open), marks
them fired and emits one ``reminders.due`` event; its handler groups the
reminders per recipient into digests or single emails, each with a dedupe key
of (item, rule, recipient, deadline revision).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import select, update

from config.reminders import load_reminder_config
from services.models.base import utcnow
from services.models.registry import User
from services.models.reminders import ReminderStep
from services.adapters.unit_of_work import UnitOfWork
from workflows.reminders import RULE_LABELS, Ladder, Rule, in_working_hours, plan
from services.adapters.formatting import format_date


@dataclass
class ItemReminder:
    """What a reminder says about one item, and who is behind each audience."""

    title: str
    url: str
    due_date: date
    explanation: str
    audiences: dict[str, list[User]] = field(default_factory=dict)


class Describer(Protocol):
    """Says what a reminder of one kind of item says; None when the item no longer waits on anyone.

    Each lives with its workflow's use cases; the composition root (services.bootstrap)
    names them per kind, so this mechanism knows no workflow.
    """

    def __call__(self, session, services, item_id: int) -> ItemReminder | None: ...


def ladder_for(kind: str, program_slug: str | None) -> Ladder:
    _, defaults, per_program = load_reminder_config()
    if program_slug and kind in per_program.get(program_slug, {}):
        return per_program[program_slug][kind]
    return defaults.get(kind, Ladder(()))


def reschedule(uow: UnitOfWork, services, kind: str, item_id: int, due: date | None, revision: int,
               program_slug: str | None = None, now: datetime | None = None,
               new_item: bool = False) -> list[ReminderStep]:
    """Make the item's pending steps match its deadline; a no-op when nothing moved.

    ``new_item``: the item was created in this transaction, so it has no steps yet (nothing to cancel
    or look up: the ladder is only added).

    No live deadline: every pending step is cancelled. A new deadline revision:
    the old revision's steps are cancelled and the ladder planned afresh. The
    same revision again (a pause that ended without moving the date): cancelled
    steps come back, fired ones stay fired, so nothing is ever sent twice.
    """
    now = now or utcnow()
    pending_of_item = (ReminderStep.item_kind == kind, ReminderStep.item_id == item_id,
                       ReminderStep.state == "pending")
    if due is None:
        uow.session.execute(update(ReminderStep).where(*pending_of_item).values(state="cancelled"))
        return []
    hours, _, _ = load_reminder_config()
    existing: dict = {}
    if not new_item:
        uow.session.execute(update(ReminderStep).where(*pending_of_item, ReminderStep.deadline_revision != revision)
                            .values(state="cancelled"))
        existing = {step.rule: step for step in uow.session.execute(
            select(ReminderStep).where(ReminderStep.item_kind == kind, ReminderStep.item_id == item_id,
                                       ReminderStep.deadline_revision == revision)
        ).scalars()}
    steps = []
    for planned in plan(services.calendar, services.tz, due, ladder_for(kind, program_slug), hours):
        # A step already past when planned (a short deadline) would only be noise now.
        if planned.fire_at <= now:
            continue
        step = existing.get(planned.rule.name)
        if step is None:
            step = ReminderStep(item_kind=kind, item_id=item_id, rule=planned.rule.name, deadline_revision=revision,
                                due_date=due.isoformat(), fire_at=planned.fire_at, state="pending")
            uow.session.add(step)
        elif step.state == "cancelled":
            step.state = "pending"
        steps.append(step)
    return steps


def sweep_reminders(services, now: datetime | None = None, batch: int = 500) -> int:
    """Fire due steps once; outside working hours nothing goes out (it waits for the morning)."""
    now = now or utcnow()
    hours, _, _ = load_reminder_config()
    if not in_working_hours(services.calendar, services.tz, now, hours):
        return 0
    fired = 0
    while True:
        with services.uow() as uow:
            query = (select(ReminderStep.id).where(ReminderStep.state == "pending", ReminderStep.fire_at <= now)
                     .order_by(ReminderStep.fire_at).limit(batch))
            if not services.settings.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = list(uow.session.execute(query).scalars())
            if not ids:
                return fired
            uow.session.execute(update(ReminderStep).where(ReminderStep.id.in_(ids))
                                .values(state="fired", fired_at=now))
            uow.emit("reminders.due", {"step_ids": ids, "at": now.isoformat()})
            uow.commit()
        fired += len(ids)
        if len(ids) < batch:
            return fired


def ladder_rule(step: ReminderStep) -> Rule:
    for ladder in (load_reminder_config()[1].get(step.item_kind), *[
            kinds.get(step.item_kind) for kinds in load_reminder_config()[2].values()]):
        if ladder:
            for rule in ladder.rules:
                if rule.name == step.rule:
                    return rule
    return Rule(step.rule, 0, ("assignee",))


def step_key(step: ReminderStep, user: User) -> str:
    return f"{step.item_kind}:{step.item_id}:{step.rule}:{user.id}:{step.deadline_revision}"


def digest_key(key: str) -> str:
    return "reminder-digest:" + hashlib.sha256(key.encode()).hexdigest()


def entry_of(step: ReminderStep, item: ItemReminder, now: datetime, services) -> dict:
    today = now.astimezone(services.tz).date()
    late = services.calendar.working_days_between(item.due_date, today) if today > item.due_date else 0
    return {"rule": step.rule, "label": RULE_LABELS.get(step.rule, step.rule), "title": item.title,
            "url": item.url, "due": format_date(item.due_date), "late_days": late,
            "explanation": item.explanation}
