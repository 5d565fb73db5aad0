"""Jinja filters: dates as dd.mm.yyyy, times in the municipality's zone, numbers the Russian way."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from flask import Flask

from services.web.context import current_services
from workflows.amendment import AMENDMENT
from workflows.information_request import INFORMATION_REQUEST
from workflows.report import REPORT
from workflows.time_zones import by_time_in_words


def _tz():
    return current_services().tz


def fmt_date(value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(_tz()).date()
    return value.strftime("%d.%m.%Y")


def fmt_datetime(value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return fmt_date(value)
    local = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(_tz())
    return local.strftime("%d.%m.%Y %H:%M")


def fmt_number(value, places: int | None = None) -> str:
    """1234567.5 -> '1 234 567,5' (thin no-break space, decimal comma)."""
    if value in (None, ""):
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
    text = format(number, "f")
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    out = sign + "\u202f".join(groups or ["0"])
    return out + ("," + frac if frac else "")


def fmt_percent(ratio) -> str:
    if ratio in (None, ""):
        return "—"
    try:
        return fmt_number(Decimal(str(ratio)) * 100, 1) + " %"
    except InvalidOperation:
        return str(ratio)


def plural(n: int, one: str, few: str, many: str) -> str:
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _labels(workflow):
    return lambda state: workflow.state_labels.get(state, state)


def register(app: Flask) -> None:
    app.add_template_filter(_labels(INFORMATION_REQUEST), "state_label")
    app.add_template_filter(_labels(REPORT), "report_state_label")
    app.add_template_filter(_labels(AMENDMENT), "amendment_state_label")
    app.add_template_filter(fmt_date, "d")
    app.add_template_filter(fmt_datetime, "dt")
    app.add_template_filter(fmt_number, "num")
    app.add_template_filter(fmt_percent, "pct")
    app.add_template_global(plural, "plural")
    app.add_template_global(lambda: by_time_in_words(current_services().settings.timezone), "tz_in_words")
