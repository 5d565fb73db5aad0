"""The discipline rules on a fake calendar: Monday to Friday work, except the listed holidays."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from workflows.discipline import (
    LATE, ON_TIME, OPEN, OVERDUE, WITHDRAWN, ItemFacts, aggregate, classify, months_between, select_items,
)

HOLIDAYS = {date(2016, 3, 8)}


def between(a: date, b: date) -> int:
    """Working days in (a, b] on the fake calendar."""
    n, d = 0, a
    while d < b:
        d += timedelta(days=1)
        n += d.weekday() < 5 and d not in HOLIDAYS
    return n


TODAY = date(2016, 3, 21)  # Monday


def facts(item_id=1, department="mfc", sent=date(2016, 3, 1), due=date(2016, 3, 4), **kw) -> ItemFacts:
    return ItemFacts(item_id=item_id, department=department, sent=sent, due=due, **kw)


def test_answered_on_the_due_date_is_on_time():
    c = classify(facts(answered=date(2016, 3, 4)), TODAY, between)
    assert (c.outcome, c.delay) == (ON_TIME, 0)


def test_answered_after_the_due_date_is_late_by_working_days_not_calendar_days():
    # due Fri 04.03; Sat, Sun, Mon 07 working, Tue 08 holiday, Wed 09: 2 working days late (5 calendar days)
    c = classify(facts(answered=date(2016, 3, 9)), TODAY, between)
    assert (c.outcome, c.delay) == (LATE, 2)


def test_answered_on_the_weekend_after_the_deadline_is_late_by_at_least_one_day():
    c = classify(facts(answered=date(2016, 3, 5)), TODAY, between)
    assert (c.outcome, c.delay) == (LATE, 1)


def test_unanswered_past_the_deadline_is_overdue_now_with_the_delay_so_far():
    c = classify(facts(), TODAY, between)
    # (04.03, 21.03]: 07, 09, 10, 11, 14, 15, 16, 17, 18, 21
    assert (c.outcome, c.delay) == (OVERDUE, 10)


def test_unanswered_before_the_deadline_is_open():
    c = classify(facts(due=date(2016, 3, 21)), TODAY, between)
    assert (c.outcome, c.delay) == (OPEN, 0)


def test_withdrawn_is_withdrawn_even_if_it_was_late():
    c = classify(facts(withdrawn=True, answered=date(2016, 3, 18)), TODAY, between)
    assert (c.outcome, c.delay) == (WITHDRAWN, 0)


def test_an_extension_is_in_the_deadline_given_the_answer_within_it_is_on_time():
    c = classify(facts(due=date(2016, 3, 11), answered=date(2016, 3, 10), extensions=1, extension_days=5),
                 TODAY, between)
    assert c.outcome == ON_TIME and c.in_figure("extended") and c.in_figure("received")


def test_aggregate_per_department_and_month_and_total():
    items = [classify(f, TODAY, between) for f in [
        facts(1, answered=date(2016, 3, 3)),                                   # on time
        facts(2, answered=date(2016, 3, 9)),                                   # late 2
        facts(3, answered=date(2016, 3, 14)),                                  # late 5
        facts(4, due=date(2016, 3, 11), answered=date(2016, 3, 10), extensions=2),  # on time, extended
        facts(5),                                                              # overdue 10
        facts(6, withdrawn=True),                                              # withdrawn
        facts(7, department="finance", sent=date(2016, 2, 10), due=date(2016, 2, 17), answered=date(2016, 2, 17)),
        facts(8, sent=date(2016, 3, 18), due=date(2016, 3, 25)),               # open
    ]]
    report = aggregate(items, date(2016, 1, 1), date(2016, 12, 31))
    assert report.months == months_between(date(2016, 1, 1), date(2016, 12, 31))
    assert len(report.months) == 12
    assert [d.department for d in report.departments] == ["finance", "mfc"]
    mfc = report.departments[1].total
    assert (mfc.received, mfc.on_time, mfc.late, mfc.overdue, mfc.open, mfc.withdrawn) == (6, 2, 2, 1, 1, 1)
    assert (mfc.extended, mfc.extensions) == (1, 2)
    assert mfc.average_delay == Decimal("3.5")
    assert mfc.on_time_share == Decimal("0.5")
    assert mfc.overdue_delay_total == 10
    march = report.departments[1].months["2016-03"]
    assert march.received == 6 and report.departments[1].months["2016-02"].received == 0
    fin = report.departments[0].months["2016-02"]
    assert (fin.received, fin.on_time, fin.average_delay) == (1, 1, None)
    assert report.total.received == 7 and report.total.withdrawn == 1
    assert [i.facts.item_id for i in select_items(items, LATE, "mfc", "2016-03")] == [2, 3]
    assert [i.facts.item_id for i in select_items(items, "extended")] == [4]
    assert [i.facts.item_id for i in select_items(items, "received", "finance")] == [7]
    assert select_items(items, WITHDRAWN, "mfc", "2016-02") == []
    with pytest.raises(ValueError):
        select_items(items, "bogus")


def test_months_cross_the_new_year():
    assert months_between(date(2015, 11, 20), date(2016, 2, 1)) == ["2015-11", "2015-12", "2016-01", "2016-02"]


def test_the_chart_axis_has_whole_number_ticks_and_a_bar_per_month():
    import re

    from services.web.pages.svg import _integer_top, count_chart

    assert [_integer_top(v) for v in (0, 3, 5, 9, 21)] == [(4, 1), (4, 1), (8, 2), (20, 5), (40, 10)]
    chart = str(count_chart("Т", [("2016-02", "февр."), ("2016-03", "март")],
                            [("В срок", "#000", {"2016-03": 2}), ("С опозданием", "#111", {"2016-02": 1, "2016-03": 2})]))
    ticks = re.findall(r'text-anchor="end" font-size="11" fill="[^"]+">([^<]+)</text>', chart)
    assert ticks == ["0", "1", "2", "3", "4"]
    assert chart.count("<rect") == 2 + 3  # two legend swatches, three bars
    assert "март, С опозданием: 2" in chart
