"""GET /api/v1/calendar/working-days on real cases of the Russian production calendar.

The 2026 New Year holidays (decree of the Government of 24.09.2025 N 1466):
1-8 January are holidays, 3 January (Saturday) is moved to Friday 9 January,
and 31 December 2025 is a day off moved from 5 January 2025; the first working
day of 2026 is Monday 12 January.
"""
from __future__ import annotations

from datetime import date

import pytest


def working_day(as_user, start: str, add: int | str):
    response = as_user(None).get(f"/api/v1/calendar/working-days?start={start}&add={add}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_calendar_knows_the_2026_new_year_holidays(services):
    cal = services.calendar
    for day in range(1, 12):
        assert not cal.is_working_day(date(2026, 1, day)), day
    assert not cal.is_working_day(date(2025, 12, 31))
    assert cal.is_working_day(date(2025, 12, 30))
    assert cal.is_working_day(date(2026, 1, 12))


@pytest.mark.parametrize("start,add,expected", [
    ("2025-12-30", 1, "2026-01-12"),    # 31.12 and 1-11.01 are off
    ("2025-12-31", 1, "2026-01-12"),
    ("2025-10-31", 1, "2025-11-01"),    # Saturday 1 November 2025 was a working day
    ("2025-11-01", 1, "2025-11-05"),    # 2-4 November off (Sunday, 3rd moved, 4th holiday)
    ("2025-03-14", 5, "2025-03-21"),    # an ordinary week
    ("2025-03-14", 0, "2025-03-14"),
    ("2025-05-07", 1, "2025-05-12"),    # 8-11 May off (Victory Day run)
])
def test_working_days(as_user, start, add, expected):
    body = working_day(as_user, start, add)
    assert body["date"] == expected
    assert expected[8:10] + "." + expected[5:7] + "." + expected[0:4] in body["explanation"]


def test_explanation_names_the_holidays(as_user):
    body = working_day(as_user, "2025-12-30", 1)
    assert "Новогодние каникулы" in body["explanation"]


def test_needs_no_token(as_user):
    assert as_user(None).get("/api/v1/calendar/working-days?start=2025-10-31&add=1").status_code == 200
