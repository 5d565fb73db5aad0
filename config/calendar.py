"""Loads the reviewed production-calendar overrides into a ``ProductionCalendar``.

The overrides file is small, edited by hand and read once at start-up, so it is
validated strictly: a typo must stop the service rather than shift deadlines.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from config.paths import config_file, read_yaml

from workflows.calendar import ProductionCalendar

DEFAULT_OVERRIDES_PATH = Path(__file__).resolve().with_name("calendar_overrides.yaml")

_LISTS = ("days_off", "working_days")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _DatesAsStringsLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, to name an impossible date's entry."""


_DatesAsStringsLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _entry_date(raw: Any, where: str) -> date:
    # safe_load turns an unquoted YYYY-MM-DD into a date; accept a quoted one too.
    if isinstance(raw, datetime):
        raise ValueError(f"{where}: 'date' must be a date without time, got {raw!r}")
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and _ISO_DATE.fullmatch(raw.strip()):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: 'date' must be YYYY-MM-DD, got {raw!r}")


def _parse_list(raw: Any, key: str, path: Path) -> dict[date, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ValueError(f"{path}: '{key}' must be a list of {{date, reason}} entries")
    result: dict[date, str] = {}
    for i, entry in enumerate(raw):
        where = f"{path}: {key}[{i}] {entry!r}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping with 'date' and 'reason'")
        unknown = set(entry) - {"date", "reason"}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(map(str, unknown))}")
        if "date" not in entry:
            raise ValueError(f"{where}: 'date' is missing")
        day = _entry_date(entry["date"], where)
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"{where}: 'reason' (citing the decree) is required")
        if day in result:
            raise ValueError(f"{where}: {day.isoformat()} is listed twice in '{key}'")
        result[day] = reason.strip()
    return result


def load_production_calendar(path: str | Path | None = None) -> ProductionCalendar:
    """Read and validate the overrides file; ValueError names the bad entry."""
    path = Path(path) if path is not None else config_file("calendar_overrides.yaml")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except ValueError:
        # safe_load raises a bare ValueError for an impossible date such as
        # 2025-02-30; re-read with dates as strings so validation names the entry.
        data = yaml.load(text, Loader=_DatesAsStringsLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        read_yaml(path)  # raises, naming the file and the line
        raise
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with 'days_off' and 'working_days'")
    unknown = set(data) - set(_LISTS)
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(map(str, unknown))}")
    days_off = _parse_list(data.get("days_off"), "days_off", path)
    working_days = _parse_list(data.get("working_days"), "working_days", path)
    both = sorted(set(days_off) & set(working_days))
    if both:
        listed = ", ".join(d.isoformat() for d in both)
        raise ValueError(f"{path}: dates both in days_off and working_days: {listed}")
    return ProductionCalendar(days_off=days_off, working_days=working_days)


@lru_cache(maxsize=1)
def get_production_calendar() -> ProductionCalendar:
    """The process-wide calendar from the default file: its per-year cache is then shared."""
    return load_production_calendar()
