"""The reminder sweep's event: group the due reminders per recipient into digests or single emails.

Each dedupe key is (item, rule, recipient, deadline revision), so a redelivered
``reminders.due`` queues nothing twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from services.adapters.mail import queue_email
from services.adapters.unit_of_work import UnitOfWork
from services.models.registry import User
from services.models.reminders import ReminderStep
from services.reminders import ItemReminder, digest_key, entry_of, ladder_rule, step_key
from workflows.reminders import URGENCY


def send_reminders(uow: UnitOfWork, event, services) -> None:
    steps = uow.session.execute(
        select(ReminderStep).where(ReminderStep.id.in_(event.payload["step_ids"]))
    ).scalars().all()
    per_user: dict[int, tuple[User, list[tuple[ReminderStep, ItemReminder]]]] = {}
    for step in steps:
        describe = services.reminder_kinds.get(step.item_kind)
        item = describe(uow.session, services, step.item_id) if describe else None
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
            key = "reminder-digest:" + ",".join(step_key(s, user) for s, _ in entries)
            queue_email(uow, services, dedupe_key=digest_key(key),
                        recipient=user.email, template="reminder_digest",
                        context={"user": user, "entries": [entry_of(s, i, now, services) for s, i in entries]})
        else:
            for step, item in entries:
                queue_email(uow, services, dedupe_key=f"reminder:{step_key(step, user)}", recipient=user.email,
                            template="reminder", context={"user": user, "e": entry_of(step, item, now, services)},
                            item=f"{step.item_kind}:{step.item_id}")
