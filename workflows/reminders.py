"""Reminder ladders: which reminder goes out when, in working days around a due date.

Every step lands at the start of working hours on a working day, so "never on
a day off, only in working hours" holds by construction; ``next_send_instant``
covers a sweep that runs late (after an outage or over a weekend).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone, tzinfo
from typing import Mapping, Sequence

from workflows.calendar import ProductionCalendar

AUDIENCES = ("assignee", "assignee_head", "requester", "executor", "economic_policy")
RULE_LABELS = {
    "due_soon": "Скоро срок",
    "due_today": "Срок сегодня",
    "overdue": "Просрочено",
    "escalation": "Эскалация: просрочено",
}
URGENCY = {"escalation": 0, "overdue": 1, "due_today": 2, "due_soon": 3}


@dataclass(frozen=True)
class Rule:
    name: str
    offset: int
    audience: tuple[str, ...]


@dataclass(frozen=True)
class WorkingHours:
    start: time = time(9, 0)
    end: time = time(18, 0)


@dataclass(frozen=True)
class Ladder:
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class PlannedStep:
    rule: Rule
    day: date
    fire_at: datetime  # UTC


def subtract_working_days(calendar: ProductionCalendar, day: date, n: int) -> date:
    """The n-th working day before ``day`` (``day`` itself not counted)."""
    from datetime import timedelta

    current = day
    while n > 0:
        current -= timedelta(days=1)
        if calendar.is_working_day(current):
            n -= 1
    return current


def step_day(calendar: ProductionCalendar, due: date, offset: int) -> date:
    due = calendar.next_working_day(due)
    if offset < 0:
        return subtract_working_days(calendar, due, -offset)
    return calendar.add_working_days(due, offset) if offset else due


def plan(calendar: ProductionCalendar, tz: tzinfo, due: date, ladder: Ladder,
         hours: WorkingHours = WorkingHours()) -> list[PlannedStep]:
    steps = []
    for rule in ladder.rules:
        day = step_day(calendar, due, rule.offset)
        local = datetime.combine(day, hours.start, tzinfo=tz)
        steps.append(PlannedStep(rule, day, local.astimezone(timezone.utc)))
    return steps


def in_working_hours(calendar: ProductionCalendar, tz: tzinfo, now: datetime,
                     hours: WorkingHours = WorkingHours()) -> bool:
    local = now.astimezone(tz)
    return calendar.is_working_day(local.date()) and hours.start <= local.time() < hours.end


def next_send_instant(calendar: ProductionCalendar, tz: tzinfo, now: datetime,
                      hours: WorkingHours = WorkingHours()) -> datetime:
    """Now, if inside working hours; else the start of the next working morning (UTC)."""
    if in_working_hours(calendar, tz, now, hours):
        return now
    local = now.astimezone(tz)
    day = local.date()
    if not (calendar.is_working_day(day) and local.time() < hours.start):
        day = calendar.next_working_day(day, inclusive=False)
    return datetime.combine(day, hours.start, tzinfo=tz).astimezone(timezone.utc)


def parse_ladders(data: Mapping) -> tuple[WorkingHours, dict[str, Ladder], dict[str, dict[str, Ladder]]]:
    """The reminders config; errors name the entry."""
    wh = data.get("working_hours") or {}
    try:
        hours = WorkingHours(time.fromisoformat(str(wh.get("start", "09:00"))),
                             time.fromisoformat(str(wh.get("end", "18:00"))))
    except ValueError as exc:
        raise ValueError(f"working_hours: {exc}") from None
    if hours.start >= hours.end:
        raise ValueError("working_hours: start must be before end")

    def ladder(rules: Sequence[Mapping], where: str) -> Ladder:
        parsed = []
        for i, raw in enumerate(rules or []):
            at = f"{where}[{i}]"
            name, offset, audience = raw.get("rule"), raw.get("offset"), tuple(raw.get("audience") or ())
            if name not in RULE_LABELS:
                raise ValueError(f"{at}.rule: one of {', '.join(RULE_LABELS)}")
            if not isinstance(offset, int) or isinstance(offset, bool) or not -30 <= offset <= 60:
                raise ValueError(f"{at}.offset: an integer number of working days")
            bad = [a for a in audience if a not in AUDIENCES]
            if not audience or bad:
                raise ValueError(f"{at}.audience: from {', '.join(AUDIENCES)}")
            parsed.append(Rule(name, offset, audience))
        return Ladder(tuple(parsed))

    defaults = {kind: ladder(rules, f"ladders.{kind}") for kind, rules in (data.get("ladders") or {}).items()}
    per_program = {
        slug: {kind: ladder(rules, f"programs.{slug}.{kind}") for kind, rules in (kinds or {}).items()}
        for slug, kinds in (data.get("programs") or {}).items()
    }
    return hours, defaults, per_program
