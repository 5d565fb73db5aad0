"""The combined calendar (holidays RU + reviewed overrides) against the official production calendars."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from config.calendar import load_production_calendar
from workflows.calendar import ProductionCalendar

# Official totals of working days, five-day week (federal production calendar).
# 2027: the figure and the transfers below are what the pinned `holidays` (0.109) carries; no published
# decree for 2027 was found to check them against (see config/calendar_overrides.yaml), so they stand
# here to make any change by a `holidays` bump a failing, reviewed change.
OFFICIAL_WORKING_DAYS = {
    2014: 247,
    2015: 247,
    2016: 247,
    2017: 247,
    2018: 247,
    2019: 247,
    2020: 248,  # the 2020 COVID "non-working days" were never part of the production calendar
    2021: 247,
    2022: 247,
    2023: 247,
    2024: 248,
    2025: 247,
    2026: 247,
    2027: 247,
}
# The 2027 transfers in holidays 0.109: 2 Jan -> Fri 5 Nov, 3 Jan -> Fri 31 Dec, Sat 20 Feb worked for Mon 22 Feb.
TRANSFERS_2027 = {date(2027, 11, 5): False, date(2027, 12, 31): False, date(2027, 2, 22): False,
                  date(2027, 2, 20): True}


@pytest.fixture(scope="module")
def cal() -> ProductionCalendar:
    return load_production_calendar()


@pytest.mark.parametrize(("day", "working"), sorted(TRANSFERS_2027.items()))
def test_2027_transfers_as_the_pinned_holidays_carries_them(cal, day, working):
    assert cal.is_working_day(day) is working


@pytest.mark.parametrize(("year", "expected"), sorted(OFFICIAL_WORKING_DAYS.items()))
def test_yearly_totals_match_official_production_calendar(cal, year, expected):
    assert cal.working_days_in_year(year) == expected


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 11, 1),
        date(2024, 4, 27),
        date(2024, 11, 2),
        date(2024, 12, 28),
        date(2021, 2, 20),
        date(2018, 4, 28),
        date(2018, 6, 9),
        date(2018, 12, 29),
        date(2016, 2, 20),
        date(2022, 3, 5),
    ],
)
def test_decreed_working_saturdays(cal, day):
    assert day.weekday() == 5
    assert cal.is_working_day(day)
    assert cal.holidays_on(day) is None


@pytest.mark.parametrize(
    "day",
    [date(2025, 1, d) for d in range(1, 9)]
    + [
        date(2025, 5, 2),
        date(2025, 5, 8),
        date(2025, 6, 13),
        date(2025, 11, 3),
        date(2025, 12, 31),
        date(2014, 3, 10),  # the gap closed by config/calendar_overrides.yaml
        date(2014, 11, 3),
        date(2020, 5, 4),
        date(2020, 5, 5),
        date(2024, 12, 30),
        date(2024, 12, 31),
    ],
)
def test_days_off(cal, day):
    assert not cal.is_working_day(day)
    assert cal.holidays_on(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2020, 4, 15),  # COVID "non-working days" are not production-calendar days off
        date(2020, 6, 24),
        date(2020, 7, 1),
        date(2021, 5, 4),
        date(2021, 11, 2),
        date(2014, 2, 24),  # moved to 03.11.2014 by the 2014 decree
    ],
)
def test_working_weekdays(cal, day):
    assert cal.is_working_day(day)


def test_holiday_names(cal):
    assert cal.holidays_on(date(2025, 1, 7)) == "Рождество Христово"
    assert cal.holidays_on(date(2025, 5, 9)) == "День Победы"
    assert "04.01.2025" in cal.holidays_on(date(2025, 5, 2))
    assert "ст. 112 ТК РФ" in cal.holidays_on(date(2014, 3, 10))
    assert "суббота" in cal.holidays_on(date(2025, 3, 15))
    assert cal.holidays_on(date(2025, 3, 17)) is None


def test_add_working_days_across_new_year_holidays(cal):
    assert cal.add_working_days(date(2024, 12, 27), 1) == date(2024, 12, 28)  # working Saturday
    assert cal.add_working_days(date(2024, 12, 27), 2) == date(2025, 1, 9)
    assert cal.add_working_days(date(2025, 12, 30), 1) == date(2026, 1, 12)
    assert cal.add_working_days(date(2025, 12, 30), 5) == date(2026, 1, 16)


def test_add_working_days_across_may_holidays(cal):
    assert cal.add_working_days(date(2025, 4, 30), 1) == date(2025, 5, 5)
    assert cal.add_working_days(date(2025, 4, 30), 4) == date(2025, 5, 12)


def test_add_working_days_across_working_saturday(cal):
    assert cal.add_working_days(date(2025, 10, 31), 1) == date(2025, 11, 1)
    assert cal.add_working_days(date(2025, 10, 31), 2) == date(2025, 11, 5)


def test_add_zero_and_next_working_day(cal):
    assert cal.add_working_days(date(2025, 3, 14), 0) == date(2025, 3, 14)
    assert cal.add_working_days(date(2025, 3, 15), 0) == date(2025, 3, 17)
    assert cal.next_working_day(date(2025, 3, 14)) == date(2025, 3, 14)
    assert cal.next_working_day(date(2025, 3, 14), inclusive=False) == date(2025, 3, 17)
    assert cal.next_working_day(date(2025, 1, 1)) == date(2025, 1, 9)


def test_add_working_days_spanning_several_years(cal):
    start = date(2019, 6, 1)
    total = sum(cal.working_days_in_year(y) for y in (2020, 2021, 2022))
    before = cal.working_days_between(start, date(2019, 12, 31))
    assert cal.add_working_days(start, before + total) == date(2022, 12, 30)


def test_add_and_between_agree_with_day_by_day_count(cal):
    start = date(2013, 12, 20)
    for offset in range(0, 5000, 7):
        a = start + timedelta(days=offset)
        for n in (1, 5, 30):
            due = cal.add_working_days(a, n)
            assert cal.is_working_day(due)
            naive = sum(cal.is_working_day(a + timedelta(days=k)) for k in range(1, (due - a).days + 1))
            assert naive == n
            assert cal.working_days_between(a, due) == n


def test_working_days_between_is_half_open(cal):
    assert cal.working_days_between(date(2025, 3, 14), date(2025, 3, 21)) == 5
    assert cal.working_days_between(date(2025, 3, 21), date(2025, 3, 21)) == 0
    assert cal.working_days_between(date(2025, 3, 21), date(2025, 3, 14)) == 0
    assert cal.working_days_between(date(2024, 1, 1), date(2025, 12, 31)) == 248 + 247


def test_overrides_win_over_holidays_data():
    cal = ProductionCalendar(
        days_off={date(2025, 3, 17): "Решение главы администрации"},
        working_days=[date(2025, 1, 8), date(2025, 3, 15)],
    )
    assert not cal.is_working_day(date(2025, 3, 17))
    assert cal.holidays_on(date(2025, 3, 17)) == "Решение главы администрации"
    assert cal.is_working_day(date(2025, 1, 8))
    assert cal.is_working_day(date(2025, 3, 15))
    assert cal.working_days_in_year(2025) == 247 + 1
    assert cal.add_working_days(date(2025, 3, 14), 1) == date(2025, 3, 15)
    assert cal.add_working_days(date(2025, 3, 15), 1) == date(2025, 3, 18)


def test_override_given_as_plain_dates_gets_a_generic_reason():
    cal = ProductionCalendar(days_off=[date(2025, 3, 17)])
    assert cal.holidays_on(date(2025, 3, 17))


def test_conflicting_overrides_are_rejected():
    with pytest.raises(ValueError, match="2025-03-17"):
        ProductionCalendar(days_off=[date(2025, 3, 17)], working_days=[date(2025, 3, 17)])


def test_datetimes_are_rejected():
    cal = ProductionCalendar()
    with pytest.raises(TypeError):
        cal.is_working_day(datetime(2025, 3, 17, 12))
    with pytest.raises(TypeError):
        ProductionCalendar(days_off=[datetime(2025, 3, 17, 12)])
    with pytest.raises(ValueError):
        cal.add_working_days(date(2025, 3, 17), -1)


# -- the overrides file loader ---------------------------------------------------------


def _write(tmp_path, text):
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loader_reads_entries(tmp_path):
    path = _write(
        tmp_path,
        "days_off:\n"
        "  - date: 2025-03-17\n"
        "    reason: \"Постановление № 1\"\n"
        "working_days:\n"
        "  - date: '2025-03-15'\n"
        "    reason: \"Постановление № 2\"\n",
    )
    cal = load_production_calendar(path)
    assert not cal.is_working_day(date(2025, 3, 17))
    assert cal.holidays_on(date(2025, 3, 17)) == "Постановление № 1"
    assert cal.is_working_day(date(2025, 3, 15))


def test_loader_accepts_empty_lists(tmp_path):
    cal = load_production_calendar(_write(tmp_path, "days_off: []\nworking_days:\n"))
    assert cal.working_days_in_year(2025) == 247


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("days_off:\n  - date: 2025-03-17\n", "days_off[0]"),  # no reason
        ("days_off:\n  - date: 2025-03-17\n    reason: ''\n", "days_off[0]"),
        ("days_off:\n  - reason: x\n", "days_off[0]"),
        ("days_off:\n  - date: 17.03.2025\n    reason: x\n", "days_off[0]"),
        ("days_off:\n  - date: 2025-02-30\n    reason: x\n", "days_off[0]"),
        ("days_off:\n  - date: 2025-03-17 10:00:00\n    reason: x\n", "days_off[0]"),
        ("working_days:\n  - date: 2025-03-15\n    reason: x\n    note: y\n", "working_days[0]"),
        ("working_days:\n  - 2025-03-15\n", "working_days[0]"),
        (
            "days_off:\n  - date: 2025-03-17\n    reason: x\n  - date: 2025-03-17\n    reason: y\n",
            "days_off[1]",
        ),
        (
            "days_off:\n  - date: 2025-03-17\n    reason: x\n"
            "working_days:\n  - date: 2025-03-17\n    reason: y\n",
            "2025-03-17",
        ),
        ("days_of:\n  - date: 2025-03-17\n    reason: x\n", "days_of"),
        ("- 2025-03-17\n", "mapping"),
        ("days_off: 2025-03-17\n", "days_off"),
        ("days_off:\n  - date: [2025-03-17\n", "not valid YAML"),
    ],
)
def test_loader_rejects_malformed_entries(tmp_path, text, needle):
    with pytest.raises(ValueError) as excinfo:
        load_production_calendar(_write(tmp_path, text))
    assert needle in str(excinfo.value)
