"""One reminder mechanism for every kind of item with a deadline.

An item's use case calls ``reschedule`` whenever its deadline moves or it stops
waiting; that replaces the item's pending steps. The sweep takes due steps
through a partial index (cost follows the steps due, not the items open), marks
them fired and emits one ``reminders.due`` event; its handler groups the
reminders per recipient into digests or single emails, each with a dedupe key
of (item, rule, recipient, deadline revision).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, Protocol

from sqlalchemy import select, update

from config.reminders import load_reminder_config
from services.adapters.mail import queue_email
from services.models.base import utcnow
from services.models.registry import Department, User
from services.models.reminders import ReminderStep
from services.events.outbox import handles
from services.adapters.unit_of_work import UnitOfWork
from workflows.reminders import RULE_LABELS, URGENCY, Ladder, in_working_hours, plan


@dataclass
class ItemReminder:
    """What a reminder says about one item, and who is behind each audience."""

    title: str
    url: str
    due_date: date
    explanation: str
    audiences: dict[str, list[User]] = field(default_factory=dict)


class ReminderKind(Protocol):
    def describe(self, session, services, item_id: int) -> ItemReminder | None:
        """None when the item no longer waits on anyone (the reminder is dropped)."""


KINDS: dict[str, ReminderKind] = {}


def reminder_kind(name: str) -> Callable:
    def register(cls):
        KINDS[name] = cls()
        return cls

    return register


def ladder_for(kind: str, program_slug: str | None) -> Ladder:
    _, defaults, per_program = load_reminder_config()
    if program_slug and kind in per_program.get(program_slug, {}):
        return per_program[program_slug][kind]
    return defaults.get(kind, Ladder(()))


def reschedule(uow: UnitOfWork, services, kind: str, item_id: int, due: date | None, revision: int,
               program_slug: str | None = None, now: datetime | None = None) -> list[ReminderStep]:
    """Make the item's pending steps match its deadline; a no-op when nothing moved.

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
    uow.session.execute(update(ReminderStep).where(*pending_of_item, ReminderStep.deadline_revision != revision)
                        .values(state="cancelled"))
    hours, _, _ = load_reminder_config()
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


@handles("reminders.due", name="mail.reminders")
def send_reminders(uow: UnitOfWork, event, services) -> None:
    steps = uow.session.execute(
        select(ReminderStep).where(ReminderStep.id.in_(event.payload["step_ids"]))
    ).scalars().all()
    per_user: dict[int, tuple[User, list[tuple[ReminderStep, ItemReminder]]]] = {}
    for step in steps:
        kind = KINDS.get(step.item_kind)
        item = kind.describe(uow.session, services, step.item_id) if kind else None
        if item is None:
            continue
        for audience in ladder_rule(step).audience:
            for user in item.audiences.get(audience, []):
                if user is None or not user.active:
                    continue
                entries = per_user.setdefault(user.id, (user, []))[1]
                if all(s.id != step.id for s, _ in entries):
                    entries.append((step, item))
    now = datetime.fromisoformat(event.payload["at"])
    for user, entries in per_user.values():
        entries.sort(key=lambda e: (URGENCY.get(e[0].rule, 9), e[1].due_date))
        # Several steps of one item due at once (a late sweep): only the most urgent is worth saying.
        seen: set[tuple[str, int]] = set()
        entries[:] = [e for e in entries if not ((e[0].item_kind, e[0].item_id) in seen
                                                 or seen.add((e[0].item_kind, e[0].item_id)))]
        if user.reminder_mode == "digest" and len(entries) > 1:
            key = "reminder-digest:" + ",".join(_key(s, user) for s, _ in entries)
            queue_email(uow, services, dedupe_key=_hashed(key),
                        recipient=user.email, template="reminder_digest",
                        context={"user": user, "entries": [_entry(s, i, now, services) for s, i in entries]})
        else:
            for step, item in entries:
                queue_email(uow, services, dedupe_key=f"reminder:{_key(step, user)}", recipient=user.email,
                            template="reminder", context={"user": user, "e": _entry(step, item, now, services)})


def ladder_rule(step: ReminderStep):
    from workflows.reminders import Rule

    for ladder in (load_reminder_config()[1].get(step.item_kind), *[
            kinds.get(step.item_kind) for kinds in load_reminder_config()[2].values()]):
        if ladder:
            for rule in ladder.rules:
                if rule.name == step.rule:
                    return rule
    return Rule(step.rule, 0, ("assignee",))


def _key(step: ReminderStep, user: User) -> str:
    return f"{step.item_kind}:{step.item_id}:{step.rule}:{user.id}:{step.deadline_revision}"


def _hashed(key: str) -> str:
    import hashlib

    return "reminder-digest:" + hashlib.sha256(key.encode()).hexdigest()


def _entry(step: ReminderStep, item: ItemReminder, now: datetime, services) -> dict:
    today = now.astimezone(services.tz).date()
    late = services.calendar.working_days_between(item.due_date, today) if today > item.due_date else 0
    return {"rule": step.rule, "label": RULE_LABELS.get(step.rule, step.rule), "title": item.title,
            "url": item.url, "due": item.due_date.strftime("%d.%m.%Y"), "late_days": late,
            "explanation": item.explanation}


def users_of(session, department_id: int | None = None, code: str | None = None, heads_only: bool = False):
    query = select(User).where(User.active.is_(True))
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    if code is not None:
        query = query.join(Department).where(Department.code == code)
    if heads_only:
        query = query.where(User.is_head.is_(True))
    return list(session.execute(query.order_by(User.id)).scalars())


@reminder_kind("information_request")
class InformationRequestReminders:
    def describe(self, session, services, item_id: int) -> ItemReminder | None:
        from services.information_requests import deadline_of
        from services.models.requests import InformationRequest
        from services.registry import load_version
        from workflows.information_request import AWAITING_ADDRESSEE

        req = session.get(InformationRequest, item_id)
        if req is None or req.state not in AWAITING_ADDRESSEE or req.due_date is None:
            return None
        deadline = deadline_of(services, req)
        executor = load_version(session, req.thread.program.slug).passport.executor
        assignee = [req.assignee] if req.assignee else users_of(session, req.department_id)
        return ItemReminder(
            title=f"Запрос №{req.id} «{req.thread.subject}» ({req.department.name})",
            url=f"{services.settings.base_url}/requests/{req.id}",
            due_date=req.due_date,
            explanation=deadline.explanation if deadline else "",
            audiences={
                "assignee": assignee,
                "assignee_head": users_of(session, req.department_id, heads_only=True),
                "requester": [req.thread.created_by],
                "executor": users_of(session, code=executor),
                "economic_policy": users_of(session, code="economic-policy"),
            },
        )


@reminder_kind("report")
class ReportReminders:
    def describe(self, session, services, item_id: int) -> ItemReminder | None:
        from services.models.reports import Report
        from services.reports import _passport, period_label
        from workflows.report import NOT_SUBMITTED

        report = session.get(Report, item_id)
        if report is None or report.state not in NOT_SUBMITTED:
            return None
        executor = _passport(session, report).passport.executor
        kind = "Годовой отчёт" if report.kind == "annual" else "Квартальный отчёт"
        return ItemReminder(
            title=f"{kind} за {period_label(report)} ({report.program.title[:80]})",
            url=f"{services.settings.base_url}/reports/{report.id}",
            due_date=report.due_date,
            explanation=f"Срок представления отчёта в отдел экономической политики — {report.due_date:%d.%m.%Y} "
                        f"(если срок по правилу выпал на нерабочий день, он перенесён на следующий рабочий).",
            audiences={
                "assignee": users_of(session, code=executor),
                "assignee_head": users_of(session, code=executor, heads_only=True),
                "requester": users_of(session, code="economic-policy"),
                "executor": users_of(session, code=executor),
                "economic_policy": users_of(session, code="economic-policy"),
            },
        )


@reminder_kind("amendment_review")
class AmendmentReviewReminders:
    """The reviewing departments that have not yet decided on the current revision owe the review."""

    def describe(self, session, services, item_id: int) -> ItemReminder | None:
        from services.amendments import current_passport, review_status
        from services.models.amendments import Amendment

        amendment = session.get(Amendment, item_id)
        if amendment is None or amendment.state != "under_review" or amendment.due_date is None:
            return None
        passport = current_passport(session, amendment)
        pending = [d for d, s in review_status(session, amendment, passport).items() if s["decision"] == "pending"]
        if not pending:
            return None
        author = session.get(User, amendment.created_by_id) if amendment.created_by_id else None
        return ItemReminder(
            title=f"Согласование проекта изменений №{amendment.id} (редакция {amendment.revision}) "
                  f"программы «{amendment.program.title[:80]}»",
            url=f"{services.settings.base_url}/amendments/{amendment.id}",
            due_date=amendment.due_date,
            explanation=f"Срок согласования — {amendment.review_working_days} рабочих дней с даты направления "
                        f"({amendment.submitted_at.astimezone(services.tz):%d.%m.%Y}); ожидается решение: "
                        f"{', '.join(pending)}.",
            audiences={
                "assignee": [u for code in pending for u in users_of(session, code=code)],
                "assignee_head": [u for code in pending for u in users_of(session, code=code, heads_only=True)],
                "requester": [author] if author else users_of(session, code=passport.executor),
                "executor": users_of(session, code=passport.executor),
                "economic_policy": users_of(session, code="economic-policy"),
            },
        )
