"""Working days by the Russian production calendar (five-day week).

``holidays`` (country RU) knows the public holidays, the days off transferred by
the yearly government decrees and the weekend days those decrees make working
(``weekend_workdays``, consulted by ``is_working_day``). Where it disagrees with
the official production calendar, operator overrides win (see
``config/calendar_overrides.yaml``). Each year is precomputed once into flat
tables, so the hot-path questions are a few index look-ups.
"""
from __future__ import annotations

from datetime import date, datetime
from threading import Lock
from typing import Iterable, Mapping, NamedTuple

import holidays

_WEEKEND_LABELS = {5: "Выходной день (суббота)", 6: "Выходной день (воскресенье)"}
_OVERRIDE_OFF_LABEL = "Дополнительный выходной день (решение оператора)"


class DayOff(NamedTuple):
    """A non-working day for explanations; ``weekend`` means an ordinary Saturday/Sunday."""

    day: date
    name: str
    weekend: bool


class _Year(NamedTuple):
    year: int
    first: int  # ordinal of 1 January
    working: bytes  # 1 for a working day, indexed by ordinal - first
    done: tuple[int, ...]  # working days on or before each day of the year
    ordinals: tuple[int, ...]  # ordinals of the working days, ascending
    names: dict[date, str]  # why a non-weekend-only day is off (holidays, transfers, overrides)


def _reasons(days: Iterable[date] | Mapping[date, str | None], what: str) -> dict[date, str | None]:
    """Normalise overrides given as dates or as {date: reason}; reject datetimes early."""
    items = days.items() if isinstance(days, Mapping) else ((d, None) for d in days)
    result: dict[date, str | None] = {}
    for d, reason in items:
        if isinstance(d, datetime) or not isinstance(d, date):
            raise TypeError(f"{what}: expected a date, got {d!r}")
        result[d] = reason
    return result


def _check_date(d: object) -> None:
    # A datetime would silently be taken as its naive date: a time-zone bug, not a date.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date (not a datetime), got {d!r}")


class ProductionCalendar:
    """The RU production calendar plus operator overrides; thread-safe, cached per year."""

    def __init__(
        self,
        days_off: Iterable[date] | Mapping[date, str | None] = (),
        working_days: Iterable[date] | Mapping[date, str | None] = (),
    ) -> None:
        self._days_off = _reasons(days_off, "days_off")
        self._working_days = _reasons(working_days, "working_days")
        both = sorted(set(self._days_off) & set(self._working_days))
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"dates both in days_off and working_days: {listed}")
        self._years: dict[int, _Year] = {}
        self._lock = Lock()

    def __repr__(self) -> str:
        return (
            f"ProductionCalendar(days_off={len(self._days_off)} overrides, "
            f"working_days={len(self._working_days)} overrides)"
        )

    # -- per-year tables -------------------------------------------------------------

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            with self._lock:
                table = self._years.get(year)
                if table is None:
                    table = self._years[year] = self._build(year)
        return table

    def _build(self, year: int) -> _Year:
        # Neighbouring years are loaded too: a decree may move a day across New Year,
        # and the library records the weekend workday only when it populates that year.
        ru = holidays.RU(years=range(max(1, year - 1), min(9999, year + 1) + 1), language="ru")
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        working = bytearray()
        done: list[int] = []
        ordinals: list[int] = []
        names: dict[date, str] = {}
        for ordinal in range(first, last + 1):
            d = date.fromordinal(ordinal)
            if d in self._working_days:
                is_working = True
            elif d in self._days_off:
                is_working = False
                names[d] = self._days_off[d] or _OVERRIDE_OFF_LABEL
            else:
                is_working = ru.is_working_day(d)
                if not is_working and (name := ru.get(d)):
                    names[d] = name
            working.append(is_working)
            if is_working:
                ordinals.append(ordinal)
            done.append(len(ordinals))
        return _Year(year, first, bytes(working), tuple(done), tuple(ordinals), names)

    # -- questions ----------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        _check_date(d)
        table = self._years.get(d.year) or self._year(d.year)
        return table.working[d.toordinal() - table.first] == 1

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (start not counted); n == 0: start or the next working day."""
        _check_date(start)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        table = self._years.get(start.year) or self._year(start.year)
        index = start.toordinal() - table.first
        if n == 0:
            if table.working[index]:
                return start
            n = 1
        rank = table.done[index] + n  # 1-based rank of the target within the year
        while rank > len(table.ordinals):
            rank -= len(table.ordinals)
            table = self._year(table.year + 1)
        return date.fromordinal(table.ordinals[rank - 1])

    def next_working_day(self, d: date, inclusive: bool = True) -> date:
        return self.add_working_days(d, 0 if inclusive else 1)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in the half-open interval (a, b]; 0 when b <= a."""
        _check_date(a)
        _check_date(b)
        if b <= a:
            return 0
        ta, tb = self._year(a.year), self._year(b.year)
        done_a = ta.done[a.toordinal() - ta.first]
        done_b = tb.done[b.toordinal() - tb.first]
        if a.year == b.year:
            return done_b - done_a
        middle = sum(len(self._year(y).ordinals) for y in range(a.year + 1, b.year))
        return len(ta.ordinals) - done_a + middle + done_b

    def working_days_in_year(self, year: int) -> int:
        return len(self._year(year).ordinals)

    def holidays_on(self, d: date) -> str | None:
        """Why ``d`` is a day off (holiday, transfer, override, weekend); None on a working day."""
        _check_date(d)
        table = self._year(d.year)
        if table.working[d.toordinal() - table.first]:
            return None
        return table.names.get(d) or _WEEKEND_LABELS.get(d.weekday(), _OVERRIDE_OFF_LABEL)

    def days_off_between(self, a: date, b: date) -> list[DayOff]:
        """Days off in (a, b], named, for human-readable explanations (not a hot path)."""
        _check_date(a)
        _check_date(b)
        result: list[DayOff] = []
        for ordinal in range(a.toordinal() + 1, b.toordinal() + 1):
            d = date.fromordinal(ordinal)
            table = self._years.get(d.year) or self._year(d.year)
            if table.working[ordinal - table.first]:
                continue
            name = table.names.get(d)
            if name is None:
                result.append(DayOff(d, _WEEKEND_LABELS.get(d.weekday(), _OVERRIDE_OFF_LABEL), True))
            else:
                result.append(DayOff(d, name, False))
        return result
