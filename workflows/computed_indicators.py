"""Indicators the service computes from its own records instead of asking anyone for them.

The Kotovsk program's I11 is "количество межведомственных запросов (среднее значение в месяц)":
exactly the requests this service carries. Its actual for a period is the number of
interdepartmental requests sent in the period (each addressee's copy is one request, as each is
answered on its own) divided by the period's months; a period still under way counts the months
begun so far, so a quarter's average in its second month is not diluted by a month to come.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

REQUESTS_PER_MONTH = "interdepartmental_requests_per_month"
RULES = {REQUESTS_PER_MONTH: "межведомственные запросы, направленные через сервис, в среднем за месяц"}


@dataclass(frozen=True)
class Computed:
    value: Decimal | None
    count: int
    months: int
    rule: str

    def provenance(self) -> dict:
        return {"computed": self.rule, "count": self.count, "months": self.months}


def months_counted(start: date, end: date, today: date) -> int:
    """Months of [start, end] begun by ``today`` (0 for a period not yet begun)."""
    last = min(end, today)
    if last < start:
        return 0
    return (last.year - start.year) * 12 + (last.month - start.month) + 1


def requests_per_month(sent_on: Iterable[date], start: date, end: date, today: date) -> Computed:
    """The average per month of the requests sent within [start, end], to one decimal place."""
    count = sum(1 for day in sent_on if start <= day <= end)
    months = months_counted(start, end, today)
    value = None if months == 0 else (Decimal(count) / months).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Computed(value, count, months, REQUESTS_PER_MONTH)
