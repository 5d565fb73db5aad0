"""The reminder ladder on real production-calendar cases."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from config.calendar import get_production_calendar
from config.reminders import load_reminder_config
from workflows.reminders import Ladder, Rule, WorkingHours, in_working_hours, next_send_instant, parse_ladders, plan

MSK = ZoneInfo("Europe/Moscow")
CAL = get_production_calendar()
DEFAULT = load_reminder_config()[1]["information_request"]


def _days(due: date, ladder: Ladder = DEFAULT) -> dict[str, date]:
    return {step.rule.name: step.day for step in plan(CAL, MSK, due, ladder)}


def test_due_after_the_new_year_holiday_run():
    # 30-31.12.2024 and 01-08.01.2025 were days off; Saturday 28.12.2024 was a working day.
    assert _days(date(2025, 1, 9)) == {
        "due_soon": date(2024, 12, 27), "due_today": date(2025, 1, 9),
        "overdue": date(2025, 1, 10), "escalation": date(2025, 1, 14),
    }


def test_a_step_that_would_fall_on_saturday_goes_out_on_monday_morning():
    steps = {s.rule.name: s for s in plan(CAL, MSK, date(2026, 11, 27), DEFAULT)}  # due on a Friday
    assert steps["overdue"].day == date(2026, 11, 30)
    assert steps["overdue"].fire_at == datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)  # 09:00 MSK


def test_a_working_saturday_is_a_reminder_day():
    ladder = Ladder((Rule("due_soon", -1, ("assignee",)),))
    # 01.11.2025 (Saturday) was a working day; 03-04.11.2025 were days off.
    assert _days(date(2025, 11, 5), ladder) == {"due_soon": date(2025, 11, 1)}


def test_a_due_date_on_a_day_off_counts_from_the_next_working_day():
    assert _days(date(2025, 1, 4))["due_today"] == date(2025, 1, 9)


def test_working_hours_exclude_evenings_weekends_and_holidays():
    assert in_working_hours(CAL, MSK, datetime(2026, 11, 26, 7, 0, tzinfo=timezone.utc))  # Thu 10:00 MSK
    assert not in_working_hours(CAL, MSK, datetime(2026, 11, 26, 15, 30, tzinfo=timezone.utc))  # 18:30 MSK
    assert not in_working_hours(CAL, MSK, datetime(2026, 11, 28, 7, 0, tzinfo=timezone.utc))  # Saturday
    assert not in_working_hours(CAL, MSK, datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc))  # New Year holidays


def test_next_send_instant_is_the_next_working_morning():
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    assert next_send_instant(CAL, MSK, saturday) == datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)
    early = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)  # 07:00 MSK Thursday
    assert next_send_instant(CAL, MSK, early) == datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
    inside = datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)
    assert next_send_instant(CAL, MSK, inside) == inside


@pytest.mark.parametrize("bad, where", [
    ({"ladders": {"x": [{"rule": "nope", "offset": 1, "audience": ["assignee"]}]}}, "ladders.x[0].rule"),
    ({"ladders": {"x": [{"rule": "overdue", "offset": "1", "audience": ["assignee"]}]}}, "ladders.x[0].offset"),
    ({"ladders": {"x": [{"rule": "overdue", "offset": 1, "audience": ["mayor"]}]}}, "ladders.x[0].audience"),
    ({"working_hours": {"start": "18:00", "end": "09:00"}}, "working_hours"),
])
def test_a_bad_ladder_config_names_the_entry(bad, where):
    with pytest.raises(ValueError, match=where.replace("[", r"\[").replace("]", r"\]")):
        parse_ladders(bad)


def test_default_hours_are_nine_to_six():
    hours = load_reminder_config()[0]
    assert hours == WorkingHours()
