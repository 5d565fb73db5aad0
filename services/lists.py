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
from typing import Mapping, Sequence

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
          count_limit: int | None, clamp: bool, join=None, order_join=None) -> ListPage:
    """Count (up to the limit past this page), then fetch one page in ``order``.

    ``join``: a table a condition needs (both queries); ``order_join``: one only the order needs
    (the page's query alone: the count still reads one table)."""
    ids = select(entity.id).select_from(entity)
    rows = select(entity)
    if join is not None:  # only when a condition needs it: the count then reads one table
        ids, rows = ids.join(join), rows.join(join)
    if order_join is not None and order_join is not join:
        rows = rows.join(order_join)
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


# --- sorting ----------------------------------------------------------------------

@dataclass(frozen=True)
class Sort:
    """A list's order as the URL writes it: a column's key, "-key" for descending.

    Every order ends with the id in the same direction, so equal values keep one order across pages
    and the reversed order is exactly the reverse."""

    key: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> "Sort":
        return cls(text[1:], True) if text.startswith("-") else cls(text)

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.key


def sort_values(columns: Mapping, aliases: Mapping[str, str]) -> tuple[str, ...]:
    """Every value ``sort`` may take: each column both ways, and the older words for some."""
    return tuple(v for key in columns for v in (key, f"-{key}")) + tuple(aliases)


@dataclass(frozen=True)
class _Reversed:
    """A part of a column's order that runs against the column's direction."""

    expr: object


def _ordered(sort: Sort, columns: Mapping, id_column, **context) -> list:
    out = []
    for e in columns[sort.key](**context) if sort.key in columns else []:
        down = sort.descending != isinstance(e, _Reversed)
        e = e.expr if isinstance(e, _Reversed) else e
        out.append((e.desc() if down else e.asc()).nulls_last())
    return out + [id_column.desc() if sort.descending else id_column.asc()]


def _rank(column, keys: Sequence):
    """A column ordered by a list of its values (states in workflow order, departments by name)."""
    return case({k: n for n, k in enumerate(keys)}, value=column, else_=len(keys)) if keys else literal(0)


def _names_order(session, model, label) -> list:
    return [i for i, _ in sorted(session.execute(select(model.id, label)).all(), key=lambda r: (search_key(r[1]), r[0]))]


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
    due_from: date | None = None  # the due date, both ends included
    due_to: date | None = None
    assignee: int | None = None  # "assigned to me": the caller's user id
    number: str | None = None  # part of the registration number
    sort: str = "-id"
    page: int = 1
    per_page: int | None = 20


REQUEST_COLUMNS = {
    "id": lambda **_: [],
    "number": lambda **_: [InformationRequest.registration_number],
    "subject": lambda **_: [RequestThread.subject],
    "from": lambda session, **_: [_rank(InformationRequest.requester_department_id,
                                        _names_order(session, Department, Department.name))],
    "to": lambda session, **_: [_rank(InformationRequest.department_id,
                                      _names_order(session, Department, Department.name))],
    "state": lambda **_: [_rank(InformationRequest.state, ir.WORKFLOW.states)],
    "due": lambda **_: [InformationRequest.due_at],
}
REQUEST_ALIASES = {"new": "-id", "old": "id"}  # the words the list used before its columns sorted
REQUEST_SORTS = sort_values(REQUEST_COLUMNS, REQUEST_ALIASES)


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
    if f.due_from:
        where.append(InformationRequest.due_date >= f.due_from)
    if f.due_to:
        where.append(InformationRequest.due_date <= f.due_to)
    if f.assignee is not None:
        where.append(InformationRequest.assignee_id == f.assignee)
    if f.number:
        where.append(_like(InformationRequest.registration_number, search_form(f.number)))
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


def _sort(text: str, columns: Mapping, aliases: Mapping[str, str], default: str) -> Sort:
    sort = Sort.parse(aliases.get(text, text))
    return sort if sort.key in columns else Sort.parse(default)


def _request_order(session, sort: Sort) -> list:
    return _ordered(sort, REQUEST_COLUMNS, InformationRequest.id, session=session)


def request_page(session, actor: Actor, f: RequestQuery, *, now: datetime | None = None,
                 count_limit: int | None = COUNT_LIMIT, clamp: bool = True) -> ListPage:
    where = request_conditions(session, actor, f, now or utcnow())
    sort = _sort(f.sort, REQUEST_COLUMNS, REQUEST_ALIASES, "-id")
    return _page(session, InformationRequest, where, _request_order(session, sort),
                 f.page, f.per_page, count_limit, clamp, join=RequestThread if words(f.q) else None,
                 order_join=RequestThread if sort.key == "subject" else None)


def thread_copies(session, actor: Actor, thread_id: int) -> list[InformationRequest]:
    """The visible copies of one thread (a handful: one per addressee)."""
    return list(request_page(session, actor, RequestQuery(thread=thread_id, sort="id", per_page=None)).items)


def waiting_on_others(session, actor: Actor, *, limit: int = 200) -> ListPage:
    """What my department sent and still waits for, soonest deadline first (the home page)."""
    where = [ir.visible_filter(actor), InformationRequest.state.in_(AWAITING_ADDRESSEE),
             InformationRequest.requester_department_id == _my_department_id(actor)]
    return _page(session, InformationRequest, where, _request_order(session, Sort("due")), 1, limit, COUNT_LIMIT,
                 True)


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
    due_from: date | None = None
    due_to: date | None = None
    number: str | None = None
    sort: str = "-period"
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
    overdue = _report_overdue(now)
    if f.overdue is True:
        where.append(overdue)
    elif f.overdue is False:
        where.append(~overdue)
    if f.due_from:
        where.append(Report.due_date >= f.due_from)
    if f.due_to:
        where.append(Report.due_date <= f.due_to)
    if f.number:
        where.append(_like(Report.registration_number, search_form(f.number)))
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


def _report_overdue(now: datetime):
    return and_(Report.state.in_(NOT_SUBMITTED), Report.due_at < now)


REPORT_COLUMNS = {
    # the annual report after its year's fourth quarter
    "period": lambda **_: [Report.year, func.coalesce(Report.quarter, 5)],
    "number": lambda **_: [Report.registration_number],
    "program": lambda session, **_: [_rank(Report.program_id, _names_order(session, Program, Program.title))],
    "state": lambda **_: [_rank(Report.state, rp.WORKFLOW.states)],
    "due": lambda **_: [Report.due_date],
    # days late: none first, then as the deadline passed longer ago (a later deadline is fewer days late)
    "late": lambda now, **_: [case((_report_overdue(now), 1), else_=0),
                              _Reversed(case((_report_overdue(now), Report.due_at), else_=None))],
}
REPORT_SORTS = sort_values(REPORT_COLUMNS, {})


def report_page(session, actor: Actor, f: ReportQuery, *, now: datetime | None = None,
                count_limit: int | None = COUNT_LIMIT, clamp: bool = True) -> ListPage:
    now = now or utcnow()
    sort = _sort(f.sort, REPORT_COLUMNS, {}, "-period")
    where = report_conditions(session, actor, f, now)
    return _page(session, Report, where, _ordered(sort, REPORT_COLUMNS, Report.id, session=session, now=now),
                 f.page, f.per_page, count_limit, clamp)


# --- amendments ---------------------------------------------------------------------

@dataclass
class AmendmentQuery:
    q: str | None = None
    program: str | None = None
    state: str | None = None
    exclude_states: tuple[str, ...] = ()
    overdue: bool | None = None  # its review past the deadline
    due_from: date | None = None
    due_to: date | None = None
    number: str | None = None
    sort: str = "-id"
    page: int = 1
    per_page: int | None = 20


AMENDMENT_COLUMNS = {
    "id": lambda **_: [],
    "number": lambda **_: [Amendment.registration_number],
    "justification": lambda **_: [Amendment.justification],
    "program": lambda session, **_: [_rank(Amendment.program_id, _names_order(session, Program, Program.title))],
    "state": lambda **_: [_rank(Amendment.state, am.WORKFLOW.states)],
    "due": lambda **_: [Amendment.due_at],
}
AMENDMENT_ALIASES = {"new": "-id", "old": "id"}
AMENDMENT_SORTS = sort_values(AMENDMENT_COLUMNS, AMENDMENT_ALIASES)
IN_REVIEW = ("under_review",)


def amendment_visibility(session, actor: Actor):
    """``am.can_see`` against each program's current passport (programs are few)."""
    if actor.has_role("admin"):
        return true()
    visible = [p.id for p in session.execute(select(Program)).scalars()
               if am.can_see(actor, load_version(session, p.slug).passport)]
    return Amendment.program_id.in_(visible) if visible else false()


def amendment_conditions(session, actor: Actor, f: AmendmentQuery, now: datetime) -> list:
    where = [amendment_visibility(session, actor)]
    if f.program:
        where.append(Amendment.program_id == select(Program.id).where(Program.slug == f.program).scalar_subquery())
    if f.state:
        where.append(Amendment.state == f.state)
    if f.exclude_states:
        where.append(Amendment.state.not_in(f.exclude_states))
    overdue = and_(Amendment.state.in_(IN_REVIEW), Amendment.due_at < now)
    if f.overdue is True:
        where.append(overdue)
    elif f.overdue is False:
        where.append(~overdue | Amendment.due_at.is_(None))
    if f.due_from:
        where.append(Amendment.due_date >= f.due_from)
    if f.due_to:
        where.append(Amendment.due_date <= f.due_to)
    if f.number:
        where.append(_like(Amendment.registration_number, search_form(f.number)))
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


def amendment_page(session, actor: Actor, f: AmendmentQuery, *, now: datetime | None = None,
                   count_limit: int | None = COUNT_LIMIT, clamp: bool = True) -> ListPage:
    sort = _sort(f.sort, AMENDMENT_COLUMNS, AMENDMENT_ALIASES, "-id")
    order = _ordered(sort, AMENDMENT_COLUMNS, Amendment.id, session=session)
    return _page(session, Amendment, amendment_conditions(session, actor, f, now or utcnow()), order, f.page,
                 f.per_page, count_limit, clamp)


# --- a list's query string ------------------------------------------------------------

LIST_KINDS = ("requests", "reports", "amendments")
ONE = ("1",)  # a checkbox: checked or absent
TEXT_MAX = 200
NUMBER_MAX = 64
NOT_OFFERED = "Такого значения нет в списке."
# Each list's filters: the name in the URL and the values it may take (None: free text or a date).
FILTERS: dict[str, dict[str, object]] = {
    "requests": {"q": None, "number": None, "state": ir.WORKFLOW.states, "box": ("in", "out"),
                 "department": "departments", "mine": ONE, "overdue": ONE, "due_from": None, "due_to": None,
                 "sort": REQUEST_SORTS},
    "reports": {"q": None, "number": None, "program": "programs", "kind": tuple(KIND_LABELS),
                "state": rp.WORKFLOW.states, "overdue": ONE, "due_from": None, "due_to": None,
                "sort": REPORT_SORTS},
    "amendments": {"q": None, "number": None, "program": "programs", "state": am.WORKFLOW.states,
                   "overdue": ONE, "due_from": None, "due_to": None, "sort": AMENDMENT_SORTS},
}
PAGING = ("page",)
_QUERIES = {"requests": RequestQuery, "reports": ReportQuery, "amendments": AmendmentQuery}


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def due_range_problem(due_from: date | None, due_to: date | None) -> str | None:
    """A reversed range is refused at its end (the field named), never read as empty."""
    return "Конец срока раньше начала." if due_from and due_to and due_to < due_from else None


def parse_list_args(session, actor: Actor, kind: str, args: Mapping[str, str]):
    """A list's filters from its query string: the query, and each refused value named at its field.

    A name no list offers, a value no form offers, a malformed date or a reversed range is refused
    (the page answers 422 showing the list with the rest of the filters), never ignored."""
    allowed = FILTERS[kind]
    errors: dict[str, list[str]] = {}
    values: dict[str, object] = {}
    for name in args:
        if name not in allowed and name not in PAGING:
            errors[name[:100]] = ["Такого отбора нет."]
    for name, choices in allowed.items():
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        if choices == "departments":
            choices = set(_department_codes(session))
        elif choices == "programs":
            choices = set(session.execute(select(Program.slug)).scalars())
        if choices is None and name in ("due_from", "due_to"):
            values[name] = _date(raw)
            if values[name] is None:
                errors[name] = ["Дата в виде ГГГГ-ММ-ДД."]
        elif choices is None:
            limit = NUMBER_MAX if name == "number" else TEXT_MAX
            if len(raw) > limit:
                errors[name] = [f"Не длиннее {limit} символов."]
            else:
                values[name] = raw
        elif raw not in choices:
            errors[name] = [NOT_OFFERED]
        else:
            values[name] = raw
    problem = due_range_problem(values.get("due_from"), values.get("due_to"))
    if problem:
        errors["due_to"] = [problem]
        values.pop("due_to")
    for flag in ("overdue", "mine"):
        if flag in values:
            values[flag] = True
    if values.pop("mine", False):
        values["assignee"] = actor.user_id
    return _QUERIES[kind](**{k: v for k, v in values.items() if v is not None}), errors


def _department_codes(session) -> list[str]:
    return list(session.execute(select(Department.code)).scalars())


DEFAULT_SORTS = {"requests": "-id", "reports": "-period", "amendments": "-id"}
_ALIASES = {"requests": REQUEST_ALIASES, "reports": {}, "amendments": AMENDMENT_ALIASES}


def shown_sort(kind: str, text: str | None) -> str:
    """The order a list is in, as its column headers show it ("new" is "-id")."""
    return _ALIASES[kind].get(text or "", text or "") or DEFAULT_SORTS[kind]
