"""Deadlines in working days, with clarification pauses and extensions.

Pure domain code: the caller supplies the calendar, the time zone and the
history (pauses, extensions); the result carries a Russian explanation so an
official or a citizen can check the arithmetic by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Sequence

from workflows.calendar import DayOff, ProductionCalendar
from workflows.time_zones import by_time_in_words, time_in_words

_LAST_SECOND = time(23, 59, 59)
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Pause:
    """The clock stopped while a clarification is awaited; ``ended`` None = still waiting."""

    started: datetime
    ended: datetime | None = None


@dataclass(frozen=True)
class Extension:
    """Extra working days granted to the addressee, added to the current due date."""

    working_days: int
    reason: str
    at: datetime


@dataclass(frozen=True)
class Deadline:
    due_date: date
    due_at: datetime  # the last second of due_date in the local time zone, in UTC
    explanation: str
    paused: bool
    remaining_working_days: int | None  # set while paused: days left after the resumption


def _fmt(d: date) -> str:
    return f"{d.day:02d}.{d.month:02d}.{d.year}"


def _days(n: int) -> str:
    """'N рабочих дней' with the Russian plural."""
    if n % 10 == 1 and n % 100 != 11:
        word = "рабочий день"
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = "рабочих дня"
    else:
        word = "рабочих дней"
    return f"{n} {word}"


def _runs(days: list[date]) -> str:
    """Consecutive dates folded into ranges: '01.01.2025–06.01.2025, 08.01.2025'."""
    parts: list[str] = []
    start = prev = days[0]
    for d in days[1:] + [None]:  # type: ignore[list-item]
        if d is not None and d.toordinal() == prev.toordinal() + 1:
            prev = d
            continue
        parts.append(_fmt(start) if start == prev else f"{_fmt(start)}–{_fmt(prev)}")
        if d is not None:
            start = prev = d
    return ", ".join(parts)


def _skipped(days_off: list[DayOff]) -> str:
    """' Пропущены нерабочие дни: ...' grouped by reason, or '' when none were skipped."""
    if not days_off:
        return ""
    weekends = [d.day for d in days_off if d.weekend]
    named: dict[str, list[date]] = {}
    for d in days_off:
        if not d.weekend:
            named.setdefault(d.name, []).append(d.day)
    parts = [f"{_runs(days)} — {name}" for name, days in named.items()]
    if weekends:
        parts.append(f"{_runs(weekends)} — выходные дни (суббота, воскресенье)")
    return " Пропущены нерабочие дни: " + "; ".join(parts) + "."


def _require_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a time-zone-aware datetime, got {value!r}")


def _due_at(due: date, tz: tzinfo) -> datetime:
    return datetime.combine(due, _LAST_SECOND, tzinfo=tz).astimezone(timezone.utc)


def compute_deadline(
    calendar: ProductionCalendar,
    sent_at: datetime,
    working_days: int,
    tz: tzinfo,
    pauses: Sequence[Pause] = (),
    extensions: Sequence[Extension] = (),
    state: str | None = None,
    closed_at: datetime | None = None,
) -> Deadline:
    """Due date = the N-th working day after the local sending date, then pauses and extensions in time order.

    A pause keeps the working days left after its local date (the pause day is
    used); on resumption at local date r they are counted again from r. A pause
    that starts after the due date has passed does not revive the deadline.
    Extensions granted during a pause are applied on resumption.

    A pause is the time the addressee's answer waits on the requester: it starts with
    the answer and ends when a clarification is asked for. ``state`` (the copy's state)
    chooses the closing sentence, so the note says what is true now: an answer under
    review, a closed request (``closed_at``: accepted or withdrawn), or a running clock.
    """
    _require_aware(sent_at, "sent_at")
    if isinstance(working_days, bool) or not isinstance(working_days, int) or working_days < 0:
        raise ValueError(f"working_days must be a non-negative integer, got {working_days!r}")

    sent_local = sent_at.astimezone(tz).date()
    due = calendar.add_working_days(sent_local, working_days)
    lines = [
        f"Отправлено {_fmt(sent_local)} (дата {by_time_in_words(tz)}). "
        f"Срок — {_days(working_days)}, отсчёт со следующего дня "
        f"({_fmt(sent_local + timedelta(days=1))}).",
        f"Срок исполнения — {_fmt(due)}."
        + _skipped(calendar.days_off_between(sent_local, due)),
    ]

    # Time-ordered events; at one instant a resumption precedes a new pause and an extension.
    events: list[tuple[datetime, int, int, Pause | Extension]] = []
    ordered = sorted(pauses, key=lambda p: p.started)
    for i, pause in enumerate(ordered):
        _require_aware(pause.started, "Pause.started")
        if pause.started < sent_at:
            raise ValueError(f"pause {pause!r} starts before the request was sent ({sent_at})")
        if pause.ended is not None:
            _require_aware(pause.ended, "Pause.ended")
            if pause.ended < pause.started:
                raise ValueError(f"pause {pause!r} ends before it starts")
        if i + 1 < len(ordered):
            nxt = ordered[i + 1]
            if pause.ended is None or pause.ended > nxt.started:
                raise ValueError(f"pauses overlap: {pause!r} and {nxt!r}")
        events.append((pause.started, 1, i, pause))
        if pause.ended is not None:
            events.append((pause.ended, 0, i, pause))
    for i, ext in enumerate(extensions):
        _require_aware(ext.at, "Extension.at")
        if isinstance(ext.working_days, bool) or not isinstance(ext.working_days, int) or ext.working_days < 1:
            raise ValueError(f"extension {ext!r}: working_days must be a positive integer")
        if ext.at < sent_at:
            raise ValueError(f"extension {ext!r} is dated before the request was sent ({sent_at})")
        events.append((ext.at, 2, i, ext))
    events.sort(key=lambda e: (e[0], e[1], e[2]))

    paused = False
    remaining = 0
    pending = 0  # extension days granted during the current pause
    ignored: set[int] = set()
    for instant, kind, index, item in events:
        local = instant.astimezone(tz).date()
        if kind == 1:  # a pause starts
            if local > due:
                ignored.add(index)
                lines.append(
                    f"Ответ дан {_fmt(local)}, после истечения срока ({_fmt(due)}): "
                    f"срок не приостанавливался."
                )
                continue
            paused = True
            remaining = calendar.working_days_between(local, due)
            lines.append(
                f"Ответ дан {_fmt(local)}: срок приостановлен на время рассмотрения ответа, день ответа "
                f"засчитан, до срока {_fmt(due)} оставалось {_days(remaining)}."
            )
        elif kind == 0:  # a pause ends
            if index in ignored:
                continue
            paused = False
            due = calendar.add_working_days(local, remaining)
            if remaining:
                lines.append(
                    f"Возобновление {_fmt(local)} (запрошено уточнение): оставшиеся {_days(remaining)} отсчитаны "
                    f"со следующего дня, новый срок — {_fmt(due)}."
                    + _skipped(calendar.days_off_between(local, due))
                )
            else:
                where = "в день возобновления" if due == local else "в ближайший рабочий день"
                lines.append(
                    f"Возобновление {_fmt(local)} (запрошено уточнение): рабочих дней не оставалось, срок истекает "
                    f"{where} — {_fmt(due)}."
                )
            if pending:
                previous, due = due, calendar.add_working_days(due, pending)
                lines.append(
                    f"Продление на {_days(pending)}, предоставленное во время рассмотрения ответа, "
                    f"применено: новый срок — {_fmt(due)}."
                    + _skipped(calendar.days_off_between(previous, due))
                )
                pending = 0
        else:  # an extension
            assert isinstance(item, Extension)
            reason = f", основание: {item.reason}" if item.reason else ""
            if paused:
                pending += item.working_days
                lines.append(
                    f"Продление на {_days(item.working_days)} ({_fmt(local)}{reason}) — "
                    f"во время рассмотрения ответа; будет добавлено, если запросят уточнение."
                )
                continue
            late = " (продление оформлено после истечения срока)" if local > due else ""
            previous, due = due, calendar.add_working_days(due, item.working_days)
            lines.append(
                f"Продление на {_days(item.working_days)} ({_fmt(local)}{reason}){late}: "
                f"новый срок — {_fmt(due)}."
                + _skipped(calendar.days_off_between(previous, due))
            )

    lines.append(_closing(state, closed_at, tz, due, paused, remaining + pending))
    if paused:
        left = remaining + pending
        return Deadline(due, _due_at(due, tz), "\n".join(lines), True, left)
    return Deadline(due, _due_at(due, tz), "\n".join(lines), False, None)


def _closing(state: str | None, closed_at: datetime | None, tz: tzinfo, due: date, paused: bool,
             left: int) -> str:
    """The last sentence of a note: what the deadline is *now*, in the copy's state."""
    closed = f" {_fmt(closed_at.astimezone(tz).date())}" if closed_at is not None else ""
    if state == "accepted":
        return f"Ответ принят{closed}: запрос закрыт, срок больше не отсчитывается."
    if state == "withdrawn":
        return f"Запрос отозван{closed}: срок больше не отсчитывается."
    if paused:
        then = (f"на уточнение останется {_days(left)}" if left else
                "рабочих дней на уточнение не останется: срок истечёт в день запроса или в ближайший рабочий день")
        return (
            f"Ответ на рассмотрении у запросившего подразделения, срок приостановлен. "
            f"Если запросившее подразделение попросит уточнить ответ, {then}; "
            f"дата {_fmt(due)} — последний рассчитанный срок, справочно."
        )
    if state == "answered":  # answered after the due date: the clock was not paused
        return f"Ответ на рассмотрении у запросившего подразделения; срок истёк {_fmt(due)}."
    if state == "clarification_requested":
        return f"Срок ответа на уточнение: {_fmt(due)}, до 23:59:59 ({time_in_words(tz)})."
    return f"Итоговый срок: {_fmt(due)}, до 23:59:59 ({time_in_words(tz)})."


def is_overdue(deadline: Deadline, now: datetime) -> bool:
    """True from the first instant after the due date; never while the clock is paused."""
    _require_aware(now, "now")
    if deadline.paused:
        return False
    return now >= deadline.due_at + _ONE_SECOND


def due_date_for_rule(calendar: ProductionCalendar, nominal: date) -> date:
    """A scheduled report falls due on its nominal date, or the next working day if that is off."""
    return calendar.next_working_day(nominal, inclusive=True)
