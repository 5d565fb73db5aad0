"""Jinja filters over services.adapters.formatting (Babel, ru_RU), dates and times in the municipality's zone."""
from __future__ import annotations

from flask import Flask

from services.adapters.formatting import (format_amount, format_date, format_date_long, format_datetime,
                                         format_month, format_number, format_percent, format_size)
from services.web.context import current_services
from services.change_labels import activity_change, cell_label, indicator_label, value_text
from workflows.amendment import AMENDMENT
from workflows.information_request import INFORMATION_REQUEST
from workflows.registration import label as registration_label
from workflows.report import REPORT
from workflows.time_zones import by_time_in_words


def _tz():
    return current_services().tz


def fmt_date(value) -> str:
    return format_date(value, _tz())


def fmt_datetime(value) -> str:
    return format_datetime(value, _tz())


def fmt_number(value, places: int | None = None) -> str:
    return format_number(value, places)


def fmt_percent(ratio) -> str:
    return format_percent(ratio)


def edit_num(value) -> str:
    """A figure in a form field, as a person types it: '620,8' (no group separator to edit around)."""
    return "" if value is None or value == "" else str(value).replace(".", ",")


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
    app.add_template_filter(registration_label, "regnum")
    app.add_template_filter(_labels(INFORMATION_REQUEST), "state_label")
    app.add_template_filter(_labels(REPORT), "report_state_label")
    app.add_template_filter(_labels(AMENDMENT), "amendment_state_label")
    app.add_template_filter(fmt_date, "d")
    app.add_template_filter(fmt_datetime, "dt")
    app.add_template_filter(fmt_number, "num")
    app.add_template_filter(fmt_percent, "pct")
    app.add_template_filter(format_month, "month")
    app.add_template_filter(format_amount, "amount")
    app.add_template_filter(format_size, "size")
    app.add_template_filter(edit_num, "edit_num")
    app.add_template_filter(lambda value: format_date_long(value, _tz()), "date_long")
    app.add_template_global(plural, "plural")
    app.add_template_global(cell_label, "cell_label")
    app.add_template_global(value_text, "value_text")
    app.add_template_global(activity_change, "activity_change")
    app.add_template_global(indicator_label, "indicator_label")
    app.add_template_global(lambda: by_time_in_words(current_services().settings.timezone), "tz_in_words")
