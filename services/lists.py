"""The lists of requests, reports and amendments: filtered, searched, sorted and paged in the database.

A list page costs the same with a thousand items or a million: the database returns one page in the
chosen order (an index serves each order) and counts the matches up to ``COUNT_LIMIT`` past the page,
so a list of more reads "more than N" instead of counting every row on every page view (the one part
that would grow with the table). Callers that promise an exact total (the API) pass
``count_limit=None``. Who may see what is the same rule as ``get_visible`` in each use-case module,
written as a WHERE clause, so nothing is dropped and nothing extra shown.

Search: every word of the query must occur (as a substring, ignoring case, "ё" read as "е") in one of
the row's texts: the subject and body (justification and resolution number), a department's or
program's name, the state's label, the registration number; a number finds the item with that number.
Registration numbers are written in upper case (``workflows.registration``), so the word, upper-cased,
is matched as a substring of the number on both databases (a thread's number finds all its copies). The free texts are
matched in a normalised column kept on write (``services.models.search``), with a trigram GIN index
on PostgreSQL; names and labels are few, so the words are matched against them here and become
``IN (...)`` lists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence

from sqlalchemy import String, and_, case, cast, false, func, literal, or_, select, true

from services import amendments as am
from services import information_requests as ir
from services import reports as rp
from services.models.amendments import Amendment
from services.models.base import utcnow
from services.models.registry import Department, Program, ProgramVersion
from services.models.reports import Report
from services.models.requests import InformationRequest, RequestThread
from services.models.search import search_key
from services.registry import load_version
from workflows.core import Actor
from workflows.information_request import AWAITING_ADDRESSEE
from workflows.passport_parser import parse_passport
from workflows.registration import search_form
from workflows.report import NOT_SUBMITTED

COUNT_LIMIT = 10_000
REQUEST_SORTS = ("new", "old", "due")
AMENDMENT_SORTS = ("new", "old")
REPORT_SORTS = ("period", "due")
KIND_LABELS = {"annual": "годовой", "quarterly": "квартальный"}
_MAX_ID = 2 ** 63 - 1


@dataclass(frozen=True)
class ListPage:
    """One page; ``total`` is exact when ``exact``, else a lower bound (there are at least that many)."""

    items: Sequence
    total: int
    page: int
    per_page: int
    exact: bool = True

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total


def words(q: str | None) -> list[str]:
    return search_key(q or "").split()


def _like(column, word: str):
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def _labels_matching(labels: dict[str, str], word: str) -> list[str]:
    return [key for key, label in labels.items() if word in search_key(label)]


def _number(word: str) -> int | None:
    return int(word) if word.isascii() and word.isdigit() and int(word) <= _MAX_ID else None


def _page(session, entity, where: list, order: list, page: int, per_page: int | None,
          count_limit: int | None, clamp: bool, join=None) -> ListPage:
    """Count (up to the limit past this page), then fetch one page in ``order``."""
    ids = select(entity.id).select_from(entity)
    rows = select(entity)
    if join is not None:  # only when a condition needs it: the count then reads one table
        ids, rows = ids.join(join), rows.join(join)
    ids, rows = ids.where(*where), rows.where(*where)
    if per_page is None:  # everything (the reports API's contract; reports are few per program)
        items = session.execute(rows.order_by(*order)).unique().scalars().all()
        return ListPage(list(items), len(items), 1, max(1, len(items)))
    if count_limit is None:
        total, exact = session.execute(select(func.count()).select_from(ids.subquery())).scalar_one(), True
    else:
        cap = max(count_limit, page * per_page) + 1  # one more than we report exactly
        total = session.execute(select(func.count()).select_from(ids.limit(cap).subquery())).scalar_one()
        exact = total < cap
    if clamp and exact:
        page = min(page, max(1, math.ceil(total / per_page)))
    items = session.execute(rows.order_by(*order).offset((page - 1) * per_page).limit(per_page)
                            ).unique().scalars().all()
    return ListPage(list(items), total, page, per_page, exact)


# --- information requests ---------------------------------------------------------

@dataclass
class RequestQuery:
    q: str | None = None
    state: str | None = None
    box: str | None = None  # "in": addressed to my department; "out": sent by it
    overdue: bool | None = None
    thread: int | None = None
    department: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    sort: str = "new"
    page: int = 1
    per_page: int | None = 20


def _department_ids(session) -> dict[int, str]:
    return dict(session.execute(select(Department.id, Department.name)).all())


def _my_department_id(actor: Actor):
    return select(Department.id).where(Department.code == actor.department).scalar_subquery()


def request_conditions(session, actor: Actor, f: RequestQuery, now: datetime) -> list:
    where = [ir.visible_filter(actor)]
    if f.thread is not None:
        where.append(InformationRequest.thread_id == f.thread)
    if f.state:
        where.append(InformationRequest.state == f.state)
    if f.department:
        where.append(InformationRequest.department_id ==
                     select(Department.id).where(Department.code == f.department).scalar_subquery())
    if f.box == "in":
        where.append(InformationRequest.department_id == _my_department_id(actor))
    elif f.box == "out":
        where.append(InformationRequest.requester_department_id == _my_department_id(actor))
    overdue = and_(InformationRequest.state.in_(AWAITING_ADDRESSEE), InformationRequest.due_at < now)
    if f.overdue is True:
        where.append(overdue)
    elif f.overdue is False:
        where.append(~overdue | InformationRequest.due_at.is_(None))
    if f.due_before:
        where.append(InformationRequest.due_at < f.due_before)
    if f.due_after:
        where.append(InformationRequest.due_at > f.due_after)
    found = words(f.q)
    departments = _department_ids(session) if found else {}
    for word in found:
        match = [_like(RequestThread.search_text, word),
                 _like(InformationRequest.registration_number, search_form(word))]
        dept_ids = [i for i, name in departments.items() if word in search_key(name)]
        if dept_ids:
            match += [InformationRequest.department_id.in_(dept_ids),
                      InformationRequest.requester_department_id.in_(dept_ids)]
        states = _labels_matching(ir.WORKFLOW.state_labels, word)
        if states:
            match.append(InformationRequest.state.in_(states))
        if _number(word) is not None:
            match.append(InformationRequest.id == _number(word))
        where.append(or_(*match))
    return where


def _request_order(sort: str) -> list:
    if sort == "old":
        return [InformationRequest.id.asc()]
    if sort == "due":
        return [InformationRequest.due_at.asc().nulls_last(), InformationRequest.id.asc()]
    return [InformationRequest.id.desc()]


def request_page(session, actor: Actor, f: RequestQuery, *, now: datetime | None = None,
                 count_limit: int | None = COUNT_LIMIT, clamp: bool = True) -> ListPage:
    where = request_conditions(session, actor, f, now or utcnow())
    return _page(session, InformationRequest, where, _request_order(f.sort if f.sort in REQUEST_SORTS else "new"),
                 f.page, f.per_page, count_limit, clamp, join=RequestThread if words(f.q) else None)


def thread_copies(session, actor: Actor, thread_id: int) -> list[InformationRequest]:
    """The visible copies of one thread (a handful: one per addressee)."""
    return list(request_page(session, actor, RequestQuery(thread=thread_id, sort="old", per_page=None)).items)


def waiting_on_others(session, actor: Actor, *, limit: int = 200) -> ListPage:
    """What my department sent and still waits for, soonest deadline first (the home page)."""
    where = [ir.visible_filter(actor), InformationRequest.state.in_(AWAITING_ADDRESSEE),
             InformationRequest.requester_department_id == _my_department_id(actor)]
    return _page(session, InformationRequest, where, _request_order("due"), 1, limit, COUNT_LIMIT, True)


# --- reports ------------------------------------------------------------------------

@dataclass
class ReportQuery:
    q: str | None = None
    program: str | None = None
    period: str | None = None
    kind: str | None = None
    state: str | None = None
    overdue: bool | None = None
    exclude_states: tuple[str, ...] = ()
    sort: str = "period"
    page: int = 1
    per_page: int | None = 20


def _period_key(on: date) -> int:
    """A date's place among period ends: year * 10 + its quarter (an annual period ends with Q4)."""
    return on.year * 10 + (on.month - 1) // 3 + 1


REPORT_PERIOD_KEY = Report.year * 10 + func.coalesce(Report.quarter, 4)


def report_visibility(session, actor: Actor):
    """``rp.can_see`` of the version in force at each report's period end, as a WHERE clause.

    The version in force changes only at resolution dates, so per program the period keys split into a
    few ranges with one version each; the clause lists the ranges whose version names the department.
    """
    if actor.has_role("admin"):
        return true()
    versions: dict[int, list] = {}
    for v in session.execute(select(ProgramVersion).order_by(ProgramVersion.program_id, ProgramVersion.number)
                             ).scalars():
        versions.setdefault(v.program_id, []).append(v)
    clauses = []
    for program_id, rows in versions.items():
        bounds = sorted({_period_key(v.resolution_date) for v in rows if v.resolution_date is not None})
        starts: list[int | None] = [None, *bounds]
        for i, start in enumerate(starts):
            adopted = [v for v in rows if v.resolution_date is not None and start is not None
                       and _period_key(v.resolution_date) <= start]
            version = adopted[-1] if adopted else rows[0]
            if not rp.can_see(actor, parse_passport(version.passport)):
                continue
            clause = [Report.program_id == program_id]
            if start is not None:
                clause.append(REPORT_PERIOD_KEY >= start)
            if i + 1 < len(starts):
                clause.append(REPORT_PERIOD_KEY < starts[i + 1])
            clauses.append(and_(*clause))
    return or_(*clauses) if clauses else false()


def _period_label_sql():
    """``rp.period_label`` in SQL: "2 квартал 2016 г." or "2016 год"."""
    year = cast(Report.year, String)
    return case((Report.quarter.is_not(None), cast(Report.quarter, String) + literal(" квартал ") + year
                 + literal(" г.")), else_=year + literal(" год"))


def report_conditions(session, actor: Actor, f: ReportQuery, now: datetime) -> list:
    where = [report_visibility(session, actor)]
    if f.program:
        where.append(Report.program_id == select(Program.id).where(Program.slug == f.program).scalar_subquery())
    if f.period:
        where.append(Report.period == f.period)
    if f.kind:
        where.append(Report.kind == f.kind)
    if f.state:
        where.append(Report.state == f.state)
    if f.exclude_states:
        where.append(Report.state.not_in(f.exclude_states))
    overdue = and_(Report.state.in_(NOT_SUBMITTED), Report.due_at < now)
    if f.overdue is True:
        where.append(overdue)
    elif f.overdue is False:
        where.append(~overdue)
    found = words(f.q)
    programs = dict(session.execute(select(Program.id, Program.title + literal(" ") + Program.slug)).all()) \
        if found else {}
    for word in found:
        match = [_like(func.lower(Report.period), word), _like(_period_label_sql(), word),
                 _like(Report.registration_number, search_form(word))]
        program_ids = [i for i, text in programs.items() if word in search_key(text)]
        if program_ids:
            match.append(Report.program_id.in_(program_ids))
        states = _labels_matching(rp.WORKFLOW.state_labels, word)
        if states:
            match.append(Report.state.in_(states))
        kinds = _labels_matching(KIND_LABELS, word)
        if kinds:
            match.append(Report.kind.in_(kinds))
        where.append(or_(*match))
    return where


def report_page(session, actor: Actor, f: ReportQuery, *, now: datetime | None = None,
                count_limit: int | None = COUNT_LIMIT, clamp: bool = True) -> ListPage:
    if f.sort == "due":
        order = [Report.due_date, Report.id]
    else:  # latest period first; the annual report after its year's fourth quarter
        order = [Report.year.desc(), func.coalesce(Report.quarter, 5).desc(), Report.id.desc()]
    where = report_conditions(session, actor, f, now or utcnow())
    return _page(session, Report, where, order, f.page, f.per_page, count_limit, clamp)


# --- amendments ---------------------------------------------------------------------

@dataclass
class AmendmentQuery:
    q: str | None = None
    program: str | None = None
    state: str | None = None
    exclude_states: tuple[str, ...] = ()
    sort: str = "new"
    page: int = 1
    per_page: int | None = 20


def amendment_visibility(session, actor: Actor):
    """``am.can_see`` against each program's current passport (programs are few)."""
    if actor.has_role("admin"):
        return true()
    visible = [p.id for p in session.execute(select(Program)).scalars()
               if am.can_see(actor, load_version(session, p.slug).passport)]
    return Amendment.program_id.in_(visible) if visible else false()


def amendment_conditions(session, actor: Actor, f: AmendmentQuery) -> list:
    where = [amendment_visibility(session, actor)]
    if f.program:
        where.append(Amendment.program_id == select(Program.id).where(Program.slug == f.program).scalar_subquery())
    if f.state:
        where.append(Amendment.state == f.state)
    if f.exclude_states:
        where.append(Amendment.state.not_in(f.exclude_states))
    found = words(f.q)
    programs = dict(session.execute(select(Program.id, Program.title)).all()) if found else {}
    for word in found:
        match = [_like(Amendment.search_text, word), _like(Amendment.registration_number, search_form(word))]
        program_ids = [i for i, title in programs.items() if word in search_key(title)]
        if program_ids:
            match.append(Amendment.program_id.in_(program_ids))
        states = _labels_matching(am.WORKFLOW.state_labels, word)
        if states:
            match.append(Amendment.state.in_(states))
        if _number(word) is not None:
            match.append(Amendment.id == _number(word))
        where.append(or_(*match))
    return where


def amendment_page(session, actor: Actor, f: AmendmentQuery, *, count_limit: int | None = COUNT_LIMIT,
                   clamp: bool = True) -> ListPage:
    order = [Amendment.id.asc()] if f.sort == "old" else [Amendment.id.desc()]
    return _page(session, Amendment, amendment_conditions(session, actor, f), order, f.page, f.per_page,
                 count_limit, clamp)
