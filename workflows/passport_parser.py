"""Reading a program file into a Passport: every figure checked once, where it enters.

Error paths name the cell to fix (see ``workflows.passport``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from workflows.passport import (
    decimal_str,
    Activity, AmendmentRecord, DEPARTMENT_ROLES, DIRECTIONS, Department, FinancingCell, Goal, Indicator, Passport, PassportError, Section, Subprogram, Task, _COMMA_DECIMAL_RE, _DECIMAL_RE, _ISO_DATE_RE, _YEAR_KEY_RE,
)


# --- reading --------------------------------------------------------------


def _fail(field: str, message: str) -> PassportError:
    return PassportError(field, message)


def _only(data: Mapping, allowed: Iterable[str], path: str) -> None:
    """Unknown keys are refused: a misspelt optional key would otherwise vanish silently."""
    allowed = tuple(allowed)
    for key in data:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise _fail(where, f"unknown key {key!r}; expected one of {', '.join(allowed)}")


def _mapping(value: Any, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected a mapping, found {type(value).__name__}")
    return value


def _required(data: Mapping, key: str, path: str) -> Any:
    if key not in data or data[key] is None:
        raise _fail(_join(path, key), "is required")
    return data[key]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _list(data: Mapping, key: str, path: str, *, required: bool) -> Sequence:
    where = _join(path, key)
    if key not in data or data[key] is None:
        if required:
            raise _fail(where, "is required")
        return ()
    value = data[key]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise _fail(where, f"expected a list, found {type(value).__name__}")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"expected text, found {type(value).__name__} {value!r}")
    if not value.strip():
        raise _fail(path, "must not be empty")
    return value


def _code(value: Any, path: str) -> str:
    code = _text(value, path)
    if code != code.strip() or any(ch.isspace() for ch in code):
        raise _fail(path, f"code {code!r} must not contain spaces")
    return code


def _int(value: Any, path: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"{what} must be a whole number, found {type(value).__name__} {value!r}")
    return value


def _decimal(value: Any, path: str, *, what: str, allow_negative: bool) -> Decimal:
    """Only strings (or Decimals) are accepted: a float has already lost the exact figure."""
    if isinstance(value, float):
        raise _fail(
            path,
            f"{what} must be a quoted decimal string, found float {value!r}; "
            f'write it as "{value}" so it stays exact',
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _fail(path, f"{what} must be a finite number, found {value}")
        number = value
    elif isinstance(value, str):
        if _COMMA_DECIMAL_RE.fullmatch(value):
            raise _fail(
                path,
                f"{what} {value!r} uses a decimal comma; write it with a dot: "
                f"{value.replace(',', '.')!r}",
            )
        if not _DECIMAL_RE.fullmatch(value):
            raise _fail(path, f"{what} must be a decimal number such as '2607.0', found {value!r}")
        number = Decimal(value)
    else:
        raise _fail(
            path,
            f"{what} must be a quoted decimal string, found {type(value).__name__} {value!r}",
        )
    if number < 0 and not allow_negative:
        raise _fail(path, f"{what} must not be negative, found {decimal_str(number)}")
    return number


def read_date(value: Any) -> dt.date:
    """A date as YAML gives it (a date, or text YYYY-MM-DD); ValueError says what was found instead."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"expected a date, found a date and time {value.isoformat()}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE_RE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a date as YYYY-MM-DD, found {value!r}")


def _date(value: Any, path: str) -> dt.date:
    try:
        return read_date(value)
    except ValueError as exc:
        raise _fail(path, str(exc)) from None


def _document_number(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(
            path,
            f"document number must be quoted text (numbers may carry letters or leading zeros), "
            f"found {type(value).__name__} {value!r}",
        )
    return _text(value, path)


def _unique(codes: Iterable[tuple[str, str]], what: str) -> None:
    """``codes`` yields (code, path); the error names the second occurrence."""
    first: dict[str, str] = {}
    for code, path in codes:
        if code in first:
            raise _fail(path, f"duplicate {what} {code} (already used at {first[code]})")
        first[code] = path


def _in_period(year: int, start: int, end: int, path: str, what: str) -> None:
    if not start <= year <= end:
        raise _fail(path, f"{what} {year} is outside the program period {start}-{end}")


def parse_passport(data: Mapping) -> Passport:
    """Build a passport from the YAML/JSON mapping shape, refusing anything a reviewer would."""
    data = _mapping(data, "")
    _only(
        data,
        (
            "slug", "title", "period", "approved_by", "executor", "co_executors", "reviewers",
            "departments", "subprograms", "goals", "tasks", "indicators", "financing",
            "activities", "sections", "amendments",
        ),
        "",
    )
    slug = _code(_required(data, "slug", ""), "slug")
    title = _text(_required(data, "title", ""), "title")

    period = _mapping(_required(data, "period", ""), "period")
    _only(period, ("start", "end"), "period")
    start = _int(_required(period, "start", "period"), "period.start", "year")
    end = _int(_required(period, "end", "period"), "period.end", "year")
    if end < start:
        raise _fail("period.end", f"period ends in {end}, before it starts in {start}")

    approved = _mapping(_required(data, "approved_by", ""), "approved_by")
    _only(approved, ("number", "date"), "approved_by")
    approved_number = _document_number(_required(approved, "number", "approved_by"), "approved_by.number")
    approved_date = _date(_required(approved, "date", "approved_by"), "approved_by.date")

    departments = _parse_departments(data)
    department_codes = {d.code: d for d in departments}

    def known_department(code: str, path: str) -> None:
        if departments and code not in department_codes:
            raise _fail(path, f"department {code!r} is not among departments ({', '.join(department_codes)})")

    executor = _code(_required(data, "executor", ""), "executor")
    known_department(executor, "executor")
    if departments and department_codes[executor].role != "executor":
        raise _fail("executor", f"department {executor!r} has role {department_codes[executor].role!r}, not 'executor'")

    co_executors = tuple(
        _code(value, f"co_executors[{i}]") for i, value in enumerate(_list(data, "co_executors", "", required=False))
    )
    _unique(((c, f"co_executors[{i}]") for i, c in enumerate(co_executors)), "co-executor")
    for i, code in enumerate(co_executors):
        path = f"co_executors[{i}]"
        if code == executor:
            raise _fail(path, f"{code!r} is the responsible executor and cannot also be a co-executor")
        known_department(code, path)
        if departments and department_codes[code].role != "co_executor":
            raise _fail(path, f"department {code!r} has role {department_codes[code].role!r}, not 'co_executor'")

    reviewers = tuple(
        _code(value, f"reviewers[{i}]") for i, value in enumerate(_list(data, "reviewers", "", required=False))
    )
    _unique(((c, f"reviewers[{i}]") for i, c in enumerate(reviewers)), "reviewer")
    for i, code in enumerate(reviewers):
        known_department(code, f"reviewers[{i}]")

    subprograms = _parse_subprograms(data)
    goals = _parse_texts(data, "goals", Goal)
    tasks = _parse_texts(data, "tasks", Task)
    indicators = _parse_indicators(data, start, end)
    financing, unit, sources = _parse_financing(data, start, end)
    activities = _parse_activities(
        data, start, end,
        executors={executor, *co_executors},
        tasks={t.code for t in tasks},
        subprograms={s.code for s in subprograms},
    )
    sections = _parse_sections(data)
    amendments = _parse_amendments(data, approved_date)

    return Passport(
        slug=slug,
        title=title,
        period_start=start,
        period_end=end,
        approved_number=approved_number,
        approved_date=approved_date,
        executor=executor,
        co_executors=co_executors,
        reviewers=reviewers,
        departments=departments,
        subprograms=subprograms,
        goals=goals,
        tasks=tasks,
        indicators=indicators,
        financing=financing,
        financing_unit=unit,
        sources=sources,
        activities=activities,
        sections=sections,
        amendments=amendments,
    )


def _items(data: Mapping, key: str, *, required: bool) -> list[tuple[str, Mapping]]:
    return [
        (f"{key}[{i}]", _mapping(item, f"{key}[{i}]"))
        for i, item in enumerate(_list(data, key, "", required=required))
    ]


def _parse_departments(data: Mapping) -> tuple[Department, ...]:
    result = []
    for path, item in _items(data, "departments", required=False):
        _only(item, ("code", "name", "role"), path)
        code = _code(_required(item, "code", path), f"{path}.code")
        name = _text(_required(item, "name", path), f"departments[{code}].name")
        role = _text(_required(item, "role", path), f"departments[{code}].role")
        if role not in DEPARTMENT_ROLES:
            raise _fail(f"departments[{code}].role", f"role {role!r} is not one of {', '.join(DEPARTMENT_ROLES)}")
        result.append((Department(code, name, role), f"{path}.code"))
    _unique(((d.code, p) for d, p in result), "department code")
    return tuple(d for d, _ in result)


def _parse_subprograms(data: Mapping) -> tuple[Subprogram, ...]:
    result = []
    for path, item in _items(data, "subprograms", required=False):
        _only(item, ("code", "title", "appendix"), path)
        code = _code(_required(item, "code", path), f"{path}.code")
        title = _text(_required(item, "title", path), f"subprograms[{code}].title")
        appendix = item.get("appendix")
        if appendix is not None:
            appendix = _int(appendix, f"subprograms[{code}].appendix", "appendix number")
        result.append((Subprogram(code, title, appendix), f"{path}.code"))
    _unique(((s.code, p) for s, p in result), "subprogram code")
    return tuple(s for s, _ in result)


def _parse_texts(data: Mapping, key: str, cls: type) -> tuple:
    result = []
    for path, item in _items(data, key, required=True):
        _only(item, ("code", "text"), path)
        code = _code(_required(item, "code", path), f"{path}.code")
        text = _text(_required(item, "text", path), f"{key}[{code}].text")
        result.append((cls(code, text), f"{path}.code"))
    _unique(((x.code, p) for x, p in result), f"{key[:-1]} code")
    return tuple(x for x, _ in result)


def _parse_indicators(data: Mapping, start: int, end: int) -> tuple[Indicator, ...]:
    result = []
    for path, item in _items(data, "indicators", required=True):
        _only(item, ("code", "name", "unit", "direction", "targets"), path)
        code = _code(_required(item, "code", path), f"{path}.code")
        named = f"indicators[{code}]"
        name = _text(_required(item, "name", path), f"{named}.name")
        unit = _text(_required(item, "unit", path), f"{named}.unit")
        direction = _required(item, "direction", path)
        if direction not in DIRECTIONS:
            raise _fail(f"{named}.direction", f"direction must be one of {', '.join(DIRECTIONS)}, found {direction!r}")
        raw_targets = item.get("targets") or {}
        raw_targets = _mapping(raw_targets, f"{named}.targets")
        targets: dict[int, Decimal] = {}
        for key, value in raw_targets.items():
            year = _target_year(key, f"{named}.targets")
            where = f"{named}.targets[{year}]"
            _in_period(year, start, end, where, "target year")
            if year in targets:
                raise _fail(where, f"target for {year} is given twice")
            targets[year] = _decimal(value, where, what="target", allow_negative=True)
        targets = dict(sorted(targets.items()))
        result.append((Indicator(code, name, unit, direction, targets), f"{path}.code"))
    _unique(((x.code, p) for x, p in result), "indicator code")
    return tuple(x for x, _ in result)


def _target_year(key: Any, path: str) -> int:
    """Years arrive as ints from YAML and as strings from JSON; both mean the same year."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and _YEAR_KEY_RE.fullmatch(key):
        return int(key)
    raise _fail(path, f"target keys must be years, found {key!r}")


def _parse_financing(data: Mapping, start: int, end: int) -> tuple[tuple[FinancingCell, ...], str, dict[str, str]]:
    fin = _mapping(_required(data, "financing", ""), "financing")
    _only(fin, ("unit", "sources", "total", "years"), "financing")
    unit = _text(_required(fin, "unit", "financing"), "financing.unit")

    raw_sources = _mapping(_required(fin, "sources", "financing"), "financing.sources")
    if not raw_sources:
        raise _fail("financing.sources", "at least one source of financing is required")
    sources: dict[str, str] = {}
    for key, label in raw_sources.items():
        code = _code(key, f"financing.sources.{key}")
        if code in ("year", "total"):
            raise _fail(f"financing.sources.{code}", f"{code!r} is reserved and cannot name a source")
        sources[code] = _text(label, f"financing.sources.{code}")

    cells: list[FinancingCell] = []
    year_sums: dict[int, Decimal] = {}
    for i, raw in enumerate(_list(fin, "years", "financing", required=True)):
        entry = _mapping(raw, f"financing.years[{i}]")
        year = _int(_required(entry, "year", f"financing.years[{i}]"), f"financing.years[{i}].year", "year")
        ypath = f"financing.years[{year}]"
        _in_period(year, start, end, f"{ypath}.year", "year")
        if year in year_sums:
            raise _fail(f"{ypath}.year", f"year {year} is listed twice")
        _only(entry, ("year", "total", *sources), ypath)
        amounts: dict[str, Decimal] = {}
        for source in sources:
            if source not in entry:
                raise _fail(f"{ypath}.{source}", f'amount for source {source!r} is missing (write "0.0" if there is none)')
            amounts[source] = _decimal(entry[source], f"{ypath}.{source}", what="amount", allow_negative=False)
        total = _decimal(_required(entry, "total", ypath), f"{ypath}.total", what="amount", allow_negative=False)
        found = sum(amounts.values(), Decimal("0"))
        if total != found:
            parts = " + ".join(f"{s} {decimal_str(a)}" for s, a in amounts.items())
            raise _fail(
                f"{ypath}.total",
                f"year {year} total {decimal_str(total)} is not the sum of its sources "
                f"{decimal_str(found)} ({parts})",
            )
        year_sums[year] = found
        cells.extend(FinancingCell(year, source, amount) for source, amount in amounts.items())

    grand = _decimal(_required(fin, "total", "financing"), "financing.total", what="amount", allow_negative=False)
    found = sum(year_sums.values(), Decimal("0"))
    if grand != found:
        raise _fail(
            "financing.total",
            f"grand total {decimal_str(grand)} is not the sum of year totals {decimal_str(found)}",
        )

    order = {source: n for n, source in enumerate(sources)}
    cells.sort(key=lambda cell: (cell.year, order[cell.source]))
    return tuple(cells), unit, sources


def _parse_activities(
    data: Mapping, start: int, end: int, *, executors: set[str], tasks: set[str], subprograms: set[str]
) -> tuple[Activity, ...]:
    result = []
    for path, item in _items(data, "activities", required=False):
        _only(item, ("code", "title", "executor", "years", "task", "subprogram"), path)
        code = _code(_required(item, "code", path), f"{path}.code")
        named = f"activities[{code}]"
        title = _text(_required(item, "title", path), f"{named}.title")
        executor = _code(_required(item, "executor", path), f"{named}.executor")
        if executor not in executors:
            raise _fail(
                f"{named}.executor",
                f"{executor!r} is neither the executor nor a co-executor ({', '.join(sorted(executors))})",
            )
        years: list[int] = []
        for n, value in enumerate(_list(item, "years", named, required=True)):
            year = _int(value, f"{named}.years[{n}]", "year")
            _in_period(year, start, end, f"{named}.years[{n}]", "year")
            if year in years:
                raise _fail(f"{named}.years[{n}]", f"year {year} is listed twice")
            years.append(year)
        task = item.get("task")
        if task is not None and task not in tasks:
            raise _fail(f"{named}.task", f"task {task!r} is not among the passport's tasks")
        subprogram = item.get("subprogram")
        if subprogram is not None and subprogram not in subprograms:
            raise _fail(f"{named}.subprogram", f"subprogram {subprogram!r} is not among the passport's subprograms")
        result.append((Activity(code, title, executor, tuple(years), task, subprogram), f"{path}.code"))
    _unique(((x.code, p) for x, p in result), "activity code")
    return tuple(x for x, _ in result)


def _parse_sections(data: Mapping) -> tuple[Section, ...]:
    result = []
    for path, item in _items(data, "sections", required=False):
        _only(item, ("key", "title", "text"), path)
        key = _code(_required(item, "key", path), f"{path}.key")
        title = _text(_required(item, "title", path), f"sections[{key}].title")
        text = _text(_required(item, "text", path), f"sections[{key}].text")
        result.append((Section(key, title, text), f"{path}.key"))
    _unique(((x.key, p) for x, p in result), "section key")
    return tuple(x for x, _ in result)


def _parse_amendments(data: Mapping, approved: dt.date) -> tuple[AmendmentRecord, ...]:
    result: list[AmendmentRecord] = []
    for path, item in _items(data, "amendments", required=False):
        _only(item, ("date", "number"), path)
        date = _date(_required(item, "date", path), f"{path}.date")
        number = _document_number(item.get("number"), f"{path}.number")
        if date < approved:
            raise _fail(f"{path}.date", f"amendment of {date.isoformat()} predates the approval of {approved.isoformat()}")
        if result and date < result[-1].date:
            raise _fail(
                f"{path}.date",
                f"amendments must be in date order: {date.isoformat()} comes after {result[-1].date.isoformat()}",
            )
        result.append(AmendmentRecord(date, number))
    return tuple(result)
