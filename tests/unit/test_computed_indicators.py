"""I11 from the service's own requests: the average per month over the months of the period begun."""
from datetime import date
from decimal import Decimal

from workflows.computed_indicators import months_counted, requests_per_month

YEAR = (date(2016, 1, 1), date(2016, 12, 31))
Q1 = (date(2016, 1, 1), date(2016, 3, 31))


def test_a_past_year_counts_twelve_months():
    sent = [date(2016, 1, 5)] * 30 + [date(2016, 12, 31)] * 7 + [date(2015, 12, 31), date(2017, 1, 1)]
    got = requests_per_month(sent, *YEAR, today=date(2017, 2, 1))
    assert (got.count, got.months, got.value) == (37, 12, Decimal("3.1"))  # 37 / 12 = 3.083…
    assert got.provenance() == {"computed": "interdepartmental_requests_per_month", "count": 37, "months": 12}


def test_a_quarter_under_way_counts_the_months_begun():
    sent = [date(2016, 1, 10), date(2016, 2, 1), date(2016, 2, 15)]
    got = requests_per_month(sent, *Q1, today=date(2016, 2, 20))
    assert (got.count, got.months, got.value) == (3, 2, Decimal("1.5"))


def test_half_rounds_up_and_nothing_sent_is_zero():
    assert requests_per_month([date(2016, 1, 1)] * 5, *YEAR, today=date(2020, 1, 1)).value == Decimal("0.4")
    assert requests_per_month([date(2016, 1, 1)] * 3, *(date(2016, 1, 1), date(2016, 2, 29)),
                              today=date(2020, 1, 1)).value == Decimal("1.5")
    assert requests_per_month([], *YEAR, today=date(2020, 1, 1)).value == Decimal("0.0")


def test_a_period_not_begun_has_no_value():
    assert months_counted(*YEAR, today=date(2015, 6, 1)) == 0
    assert requests_per_month([], *YEAR, today=date(2015, 6, 1)).value is None
