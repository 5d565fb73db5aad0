"""The approved passport of a municipal program: the figures every workflow starts from.

This module holds the passport's shape (and its writing back to plain data); the
checks that build one from a program file are in ``workflows.passport_parser``.

The passport is checked once, where it enters the system, so that nothing
downstream has to wonder whether a year's sources add up to its total or
whether an amount went through a float. Money is ``Decimal`` built from
strings, because the budget figures are exact to 0.1 thousand roubles and
a review that finds 4479.799999 is a review that stops trusting the data.

Error paths name the cell to fix. List items are named by their code (or,
for financing, their year) once that is known, else by their position:
``financing.years[2016].total``, ``indicators[I9].unit``, ``indicators[4].code``.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DIRECTIONS = ("increase", "decrease")
DEPARTMENT_ROLES = ("executor", "co_executor", "economic_policy", "finance")

_DECIMAL_RE = re.compile(r"-?\d+(?:\.\d+)?")
_COMMA_DECIMAL_RE = re.compile(r"-?\d+,\d+")
_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_KEY_RE = re.compile(r"\d{4}")


class PassportError(ValueError):
    """A passport refused, naming the cell to fix so a reviewer can find it in the file."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message

    def __reduce__(self):
        # Celery and multiprocessing pickle exceptions; rebuild with both parts.
        return (type(self), (self.field, self.message))


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    role: str


@dataclass(frozen=True)
class Subprogram:
    code: str
    title: str
    appendix: int | None = None


@dataclass(frozen=True)
class Goal:
    code: str
    text: str


@dataclass(frozen=True)
class Task:
    code: str
    text: str


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    unit: str
    direction: str
    targets: dict[int, Decimal]


@dataclass(frozen=True)
class FinancingCell:
    year: int
    source: str
    amount: Decimal


@dataclass(frozen=True)
class Activity:
    code: str
    title: str
    executor: str
    years: tuple[int, ...]
    task: str | None = None
    subprogram: str | None = None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    text: str


@dataclass(frozen=True)
class AmendmentRecord:
    date: dt.date
    number: str | None = None


@dataclass(frozen=True)
class Passport:
    """One version of a program passport.

    Year totals and the grand total are not stored: they were checked against
    the cells on the way in, so keeping them would only give them a chance to
    drift apart.
    """

    slug: str
    title: str
    period_start: int
    period_end: int
    approved_number: str
    approved_date: dt.date
    executor: str
    co_executors: tuple[str, ...]
    reviewers: tuple[str, ...]
    departments: tuple[Department, ...]
    subprograms: tuple[Subprogram, ...]
    goals: tuple[Goal, ...]
    tasks: tuple[Task, ...]
    indicators: tuple[Indicator, ...]
    financing: tuple[FinancingCell, ...]
    financing_unit: str
    sources: dict[str, str]
    activities: tuple[Activity, ...]
    sections: tuple[Section, ...]
    amendments: tuple[AmendmentRecord, ...]

    def financing_total(self) -> Decimal:
        return sum((cell.amount for cell in self.financing), Decimal("0"))

    def financing_years(self) -> tuple[int, ...]:
        return tuple(sorted({cell.year for cell in self.financing}))

    def year_total(self, year: int) -> Decimal:
        """Raises KeyError for a year the passport does not finance, so a typo is not read as zero."""
        cells = [cell.amount for cell in self.financing if cell.year == year]
        if not cells:
            raise KeyError(year)
        return sum(cells, Decimal("0"))

    def amount(self, year: int, source: str) -> Decimal:
        for cell in self.financing:
            if cell.year == year and cell.source == source:
                return cell.amount
        raise KeyError((year, source))

    def indicator(self, code: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.code == code:
                return indicator
        raise KeyError(code)


# --- writing --------------------------------------------------------------


def decimal_str(value: Decimal) -> str:
    # Fixed-point always: str() would write 1E-7, which the reader refuses.
    return format(value, "f")


def passport_to_dict(p: Passport) -> dict:
    """The JSON-ready snapshot of a version; ``parse_passport`` reads it back to an equal passport."""
    years = []
    for year in p.financing_years():
        entry: dict[str, Any] = {"year": year, "total": decimal_str(p.year_total(year))}
        for cell in p.financing:
            if cell.year == year:
                entry[cell.source] = decimal_str(cell.amount)
        years.append(entry)
    return {
        "slug": p.slug,
        "title": p.title,
        "period": {"start": p.period_start, "end": p.period_end},
        "approved_by": {"number": p.approved_number, "date": p.approved_date.isoformat()},
        "executor": p.executor,
        "co_executors": list(p.co_executors),
        "reviewers": list(p.reviewers),
        "departments": [{"code": d.code, "name": d.name, "role": d.role} for d in p.departments],
        "subprograms": [{"code": s.code, "title": s.title, "appendix": s.appendix} for s in p.subprograms],
        "goals": [{"code": g.code, "text": g.text} for g in p.goals],
        "tasks": [{"code": t.code, "text": t.text} for t in p.tasks],
        "indicators": [
            {
                "code": i.code,
                "name": i.name,
                "unit": i.unit,
                "direction": i.direction,
                # String keys: JSON objects have no other kind, and the reader takes both.
                "targets": {str(year): decimal_str(value) for year, value in i.targets.items()},
            }
            for i in p.indicators
        ],
        "financing": {
            "unit": p.financing_unit,
            "sources": dict(p.sources),
            "total": decimal_str(p.financing_total()),
            "years": years,
        },
        "activities": [
            {
                "code": a.code,
                "title": a.title,
                "executor": a.executor,
                "years": list(a.years),
                "task": a.task,
                "subprogram": a.subprogram,
            }
            for a in p.activities
        ],
        "sections": [{"key": s.key, "title": s.title, "text": s.text} for s in p.sections],
        "amendments": [{"date": a.date.isoformat(), "number": a.number} for a in p.amendments],
    }
