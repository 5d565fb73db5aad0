"""The execution-discipline report: the use case behind the API, the page and the exports.

Who sees what (decided here, stated in the README and on the page): economic policy, finance and
the admin see every department's figures; any other department sees the figures made of the items
it is a party to — the requests it received and the requests it sent — and nothing of other
departments' items. In the drill-down, the subject of a request is shown only to those who may open
it (its parties, the admin): economic policy and finance see the others' number, departments, dates,
outcome and delay, not what was asked. The visibility is in the query, so a number and its drill-down are made of the
same rows.

Dates are local (the municipality's zone): the month of an item is the month it was sent, the
period filter is on that date, and "today" (for "overdue now") is the local date of ``services.now()``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from services.information_requests import deadline_of, visible_filter
from services.models.registry import Department, Program
from services.models.requests import InformationRequest, RequestThread
from workflows.core import Actor, Invalid
from workflows.discipline import (
    FIGURES, Classified, Discipline, ItemFacts, aggregate, classify, select_items,
)

SEES_ALL = ("admin", "economic_policy", "finance")
MAX_PERIOD_DAYS = 366 * 10  # ten years at most in one report


@dataclass(frozen=True)
class DisciplineQuery:
    program: str | None = None
    department: str | None = None
    start: date | None = None
    end: date | None = None


@dataclass
class DisciplineView:
    query: DisciplineQuery
    start: date
    end: date
    today: date
    report: Discipline
    items: list[Classified]
    names: dict[str, str]  # department code -> name
    program_title: str | None
    subjects: dict[int, str]  # item id -> subject, only of the items the caller may open (``visible``)
    requesters: dict[int, str]  # item id -> requester department code
    visible: set[int]  # item ids the caller may open (its request page)


def sees_all(actor: Actor) -> bool:
    return actor.has_role(*SEES_ALL)


def _local_start(day: date, tz) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(timezone.utc)


def _check(session, query: DisciplineQuery, today: date) -> tuple[date, date, Program | None, Department | None]:
    errors: dict[str, list[str]] = {}
    start = query.start or date(today.year, 1, 1)
    end = query.end or date(today.year, 12, 31)
    if query.start is not None and not 1990 <= query.start.year <= 2100:
        errors["from"] = ["Год от 1990 до 2100."]
    if query.end is not None and not 1990 <= query.end.year <= 2100:
        errors["to"] = ["Год от 1990 до 2100."]
    if not errors and start > end:
        errors["to"] = ["Конец периода раньше его начала."]
    elif not errors and (end - start).days > MAX_PERIOD_DAYS:
        errors["to"] = ["Период не длиннее десяти лет."]
    program = department = None
    if query.program is not None:
        program = session.execute(select(Program).where(Program.slug == query.program)).scalar_one_or_none()
        if program is None:
            errors["program"] = ["Нет такой программы."]
    if query.department is not None:
        department = session.execute(
            select(Department).where(Department.code == query.department)).scalar_one_or_none()
        if department is None:
            errors["department"] = ["Нет такого подразделения."]
    if errors:
        raise Invalid("Отчёт не построен: проверьте фильтры.", fields=errors)
    return start, end, program, department


def facts_of(services, req: InformationRequest) -> ItemFacts:
    tz = services.tz
    deadline = deadline_of(services, req)
    answered = (req.answered_at.astimezone(tz).date()
                if req.answered_at is not None and req.state in ("answered", "accepted") else None)
    return ItemFacts(
        item_id=req.id, number=req.registration_number, department=req.department.code, sent=req.sent_at.astimezone(tz).date(),
        due=deadline.due_date, answered=answered, withdrawn=req.state == "withdrawn",
        extensions=len(req.extensions or []),
        extension_days=sum(int(e.get("working_days") or 0) for e in req.extensions or []),
    )


def discipline(session, services, actor: Actor, query: DisciplineQuery) -> DisciplineView:
    """The report for the caller: only the items it may count, classified as of today."""
    tz = services.tz
    today = services.now().astimezone(tz).date()
    start, end, program, department = _check(session, query, today)
    stmt = (select(InformationRequest).join(RequestThread, RequestThread.id == InformationRequest.thread_id)
            .where(InformationRequest.sent_at.is_not(None),
                   InformationRequest.sent_at >= _local_start(start, tz),
                   InformationRequest.sent_at < _local_start(end + timedelta(days=1), tz)))
    if not sees_all(actor):
        stmt = stmt.where(visible_filter(actor))
    if program is not None:
        stmt = stmt.where(RequestThread.program_id == program.id)
    if department is not None:
        stmt = stmt.where(InformationRequest.department_id == department.id)
    rows = session.execute(stmt.order_by(InformationRequest.sent_at, InformationRequest.id)).unique().scalars().all()
    between = services.calendar.working_days_between
    items = [classify(facts_of(services, req), today, between) for req in rows]
    names = {d.code: d.name for d in session.execute(select(Department)).scalars()}
    own = actor.department
    visible = {req.id for req in rows if actor.has_role("admin") or own in (
        req.department.code, req.thread.requester_department.code)}
    return DisciplineView(
        query=query, start=start, end=end, today=today, report=aggregate(items, start, end), items=items,
        names=names, program_title=program.title if program is not None else None,
        # A subject is the request's content: shown only to those who may open the request (its parties and
        # the admin), as everywhere else; economic policy and finance count the others by number and dates.
        subjects={req.id: req.thread.subject for req in rows if req.id in visible},
        requesters={req.id: req.thread.requester_department.code for req in rows},
        visible=visible,
    )


def drill_down(view: DisciplineView, figure: str = "received", department: str | None = None,
               month: str | None = None) -> list[Classified]:
    """The items behind one number: a figure, for one department and month (None: all)."""
    errors = {}
    if figure not in FIGURES:
        errors["figure"] = ["Нет такого показателя."]
    if month is not None and month not in view.report.months:
        errors["month"] = ["Месяц вне периода отчёта (ГГГГ-ММ)."]
    if errors:
        raise Invalid("Список не построен: проверьте фильтры.", fields=errors)
    return select_items(view.items, figure, department, month)
