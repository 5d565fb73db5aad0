"""Execution discipline: how an addressee department kept the deadlines of the requests it received.

Pure domain code. The caller supplies each copy's facts (the local date it was sent, the deadline
in force with every extension and clarification pause already applied, the local date of the
answer, whether it was withdrawn) and a ``working_days_between(a, b)`` function (working days
in ``(a, b]`` by the production calendar).

The rules, as the page states them:

* **on time** — answered on or before the deadline in force (extensions counted);
* **late** — answered after it; the delay is the working days from the deadline to the answer;
* **overdue now** — not answered (or sent back for clarification) and the deadline has passed
  today; the delay so far is counted the same way;
* **open** — not answered and the deadline has not passed yet;
* **withdrawn** — the requester withdrew it: left out of every figure, counted on its own.

An item belongs to the month in which it was sent to the department (``sent``), and the period
filter is on that date too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Iterable

ON_TIME, LATE, OVERDUE, OPEN, WITHDRAWN = "on_time", "late", "overdue", "open", "withdrawn"
OUTCOMES = (ON_TIME, LATE, OVERDUE, OPEN, WITHDRAWN)

#: The figures one can drill down to: each is a set of items.
FIGURES = ("received", ON_TIME, LATE, OVERDUE, OPEN, "extended", WITHDRAWN)
FIGURE_LABELS = {
    "received": "Поступило",
    ON_TIME: "Исполнено в срок",
    LATE: "Исполнено с нарушением срока",
    OVERDUE: "Просрочено сейчас",
    OPEN: "На исполнении, срок не истёк",
    "extended": "С продлением срока",
    WITHDRAWN: "Отозвано (не учитывается)",
}
OUTCOME_LABELS = {ON_TIME: "В срок", LATE: "С опозданием", OVERDUE: "Просрочен", OPEN: "Срок не истёк",
                  WITHDRAWN: "Отозван"}

WorkingDaysBetween = Callable[[date, date], int]


@dataclass(frozen=True)
class ItemFacts:
    """One addressee's copy as the report needs it (dates are local dates of the municipality)."""

    item_id: int
    department: str
    sent: date
    due: date  # the deadline in force: extensions and clarification pauses applied
    answered: date | None = None  # the date of the answer that stands (None: none, or sent back)
    withdrawn: bool = False
    extensions: int = 0  # extensions granted
    extension_days: int = 0
    number: str | None = None  # the registration number, once sent

    @property
    def label(self) -> str:
        """How people quote the copy (``workflows.registration.label``)."""
        return self.number or f"№{self.item_id}"


@dataclass(frozen=True)
class Classified:
    facts: ItemFacts
    outcome: str
    delay: int  # working days past the deadline (late: at the answer; overdue: today); else 0

    @property
    def month(self) -> str:
        return f"{self.facts.sent.year:04d}-{self.facts.sent.month:02d}"

    def in_figure(self, figure: str) -> bool:
        if figure == "received":
            return self.outcome != WITHDRAWN
        if figure == "extended":
            return self.outcome != WITHDRAWN and self.facts.extensions > 0
        return self.outcome == figure


def classify(facts: ItemFacts, today: date, working_days_between: WorkingDaysBetween) -> Classified:
    """The outcome of one copy today, and its delay in working days."""
    if facts.withdrawn:
        return Classified(facts, WITHDRAWN, 0)
    if facts.answered is not None:
        if facts.answered <= facts.due:
            return Classified(facts, ON_TIME, 0)
        return Classified(facts, LATE, max(1, working_days_between(facts.due, facts.answered)))
    if today > facts.due:
        # max(1, ...): a deadline that passed over a weekend is still overdue, by less than a working day.
        return Classified(facts, OVERDUE, max(1, working_days_between(facts.due, today)))
    return Classified(facts, OPEN, 0)


@dataclass
class Figures:
    """The discipline figures of one department (and month, or the whole period)."""

    received: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    open: int = 0
    withdrawn: int = 0
    extended: int = 0  # items with at least one extension
    extensions: int = 0  # extensions granted
    late_delay_total: int = 0  # working days, over the late answers
    overdue_delay_total: int = 0

    def add(self, item: Classified) -> None:
        if item.outcome == WITHDRAWN:
            self.withdrawn += 1
            return
        self.received += 1
        setattr(self, item.outcome, getattr(self, item.outcome) + 1)
        if item.facts.extensions:
            self.extended += 1
            self.extensions += item.facts.extensions
        if item.outcome == LATE:
            self.late_delay_total += item.delay
        elif item.outcome == OVERDUE:
            self.overdue_delay_total += item.delay

    @property
    def answered(self) -> int:
        return self.on_time + self.late

    @property
    def average_delay(self) -> Decimal | None:
        """Mean working days late over the late answers, one decimal; None without a late answer."""
        if not self.late:
            return None
        return (Decimal(self.late_delay_total) / self.late).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def on_time_share(self) -> Decimal | None:
        """On-time answers among the answers; None without an answer."""
        if not self.answered:
            return None
        return (Decimal(self.on_time) / self.answered).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass
class DepartmentDiscipline:
    department: str
    total: Figures = field(default_factory=Figures)
    months: dict[str, Figures] = field(default_factory=dict)  # "YYYY-MM" -> figures, in month order


@dataclass
class Discipline:
    departments: list[DepartmentDiscipline]
    total: Figures
    months: list[str]  # every month of the period, in order


def months_between(start: date, end: date) -> list[str]:
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def aggregate(items: Iterable[Classified], start: date, end: date) -> Discipline:
    """Figures per addressee department (ordered by code) and per month of sending, and the total."""
    months = months_between(start, end)
    by_department: dict[str, DepartmentDiscipline] = {}
    total = Figures()
    for item in items:
        row = by_department.get(item.facts.department)
        if row is None:
            row = by_department[item.facts.department] = DepartmentDiscipline(
                item.facts.department, months={m: Figures() for m in months})
        row.total.add(item)
        row.months.setdefault(item.month, Figures()).add(item)
        total.add(item)
    return Discipline([by_department[k] for k in sorted(by_department)], total, months)


def select_items(items: Iterable[Classified], figure: str, department: str | None = None,
                 month: str | None = None) -> list[Classified]:
    """The items behind one number of the report."""
    if figure not in FIGURES:
        raise ValueError(f"unknown figure {figure!r}")
    return [i for i in items if i.in_figure(figure)
            and (department is None or i.facts.department == department)
            and (month is None or i.month == month)]
