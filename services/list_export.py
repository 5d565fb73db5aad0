"""A list as a file: exactly the rows the filtered list holds (every page), as CSV or XLSX.

The columns are the page's, in words: department names, state labels, dates as dates (a date
cell in XLSX, dd.mm.yyyy in CSV, which Russian spreadsheets read as a date). Text that a
spreadsheet would take for a formula is written as text (the report exports' rule).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from io import BytesIO, StringIO
from typing import Any, Callable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

from services.adapters.formatting import format_date, format_datetime
from services.report_export import clean_text, csv_field, looks_like_formula

FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Any], Any]  # the row's value: str, int, date or datetime (None for blank)
    width: int = 16


@dataclass(frozen=True)
class ExportedList:
    filename: str
    mimetype: str
    body: bytes


def _csv_text(value, tz: tzinfo) -> str:
    if isinstance(value, datetime):
        return format_datetime(value, tz)
    if isinstance(value, date):
        return format_date(value)
    return csv_field(value)


def build_csv(columns: Sequence[Column], rows: Sequence, tz: tzinfo) -> bytes:
    """Semicolon-separated with a BOM: what a Russian Excel opens straight away in the right columns."""
    out = StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.title for c in columns])
    for row in rows:
        writer.writerow([_csv_text(c.value(row), tz) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def build_xlsx(title: str, columns: Sequence[Column], rows: Sequence, tz: tzinfo) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    for n, column in enumerate(columns, start=1):
        sheet.cell(row=1, column=n, value=column.title).font = Font(bold=True)
        sheet.column_dimensions[sheet.cell(row=1, column=n).column_letter].width = column.width
    for r, row in enumerate(rows, start=2):
        for n, column in enumerate(columns, start=1):
            value = column.value(row)
            if isinstance(value, datetime):  # local time, without a zone (Excel has none)
                cell = sheet.cell(row=r, column=n, value=value.astimezone(tz).replace(tzinfo=None))
                cell.number_format = "DD.MM.YYYY HH:MM"
            elif isinstance(value, date):
                cell = sheet.cell(row=r, column=n, value=value)
                cell.number_format = "DD.MM.YYYY"
            elif isinstance(value, str):
                text = clean_text(value)
                cell = sheet.cell(row=r, column=n, value=text)
                if looks_like_formula(text):
                    cell.data_type = "s"
            else:
                sheet.cell(row=r, column=n, value=value)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def export_list(name: str, title: str, columns: Sequence[Column], rows: Sequence, fmt: str, *,
                tz: tzinfo, on: date) -> ExportedList:
    """``fmt`` is 'csv' or 'xlsx' (the caller has refused anything else)."""
    filename = f"{name}-{on:%Y-%m-%d}.{fmt}"
    body = build_csv(columns, rows, tz) if fmt == "csv" else build_xlsx(title, columns, rows, tz)
    return ExportedList(filename, FORMATS[fmt], body)
