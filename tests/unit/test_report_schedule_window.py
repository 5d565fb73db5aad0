"""Which report cycles are due now (workflows.report.cycles_due_now), dates by hand."""
from __future__ import annotations

from datetime import date

from workflows.report import ScheduleRules, cycles_due_now, reporting_year

RULES = ScheduleRules()


def periods(today: date, first: int = 2014, last: int = 2020) -> list[str]:
    return [c.period for c in cycles_due_now(RULES, today, first, last)]


def test_a_running_program_opens_this_years_begun_cycles_and_last_years_annual_report():
    assert periods(date(2017, 6, 1)) == ["2016", "2017-Q1", "2017-Q2", "2017"]
    assert periods(date(2017, 1, 1)) == ["2016", "2017-Q1", "2017"]
    assert periods(date(2017, 12, 31)) == ["2016", "2017-Q1", "2017-Q2", "2017-Q3", "2017"]


def test_an_ended_program_opens_its_last_reporting_year_not_every_quarter_since_the_start():
    assert reporting_year(date(2026, 12, 2), 2014, 2020) == 2020
    assert periods(date(2026, 12, 2)) == ["2019", "2020-Q1", "2020-Q2", "2020-Q3", "2020"]


def test_the_first_year_has_no_earlier_annual_report_and_nothing_opens_before_it():
    assert periods(date(2014, 5, 1)) == ["2014-Q1", "2014-Q2", "2014"]
    assert periods(date(2013, 12, 31)) == []
