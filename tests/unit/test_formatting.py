"""Russian formatting through Babel: the figures as a Russian reader expects them."""
from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.adapters.formatting import (
    format_amount, format_date, format_date_long, format_datetime, format_money, format_number, format_percent,
)

NB = "\u00a0"  # Babel's ru_RU group separator: a no-break space


@pytest.mark.parametrize("value, shown", [
    (1234567.5, f"1{NB}234{NB}567,5"), ("3400.5", f"3{NB}400,5"), (54120, f"54{NB}120"), (87.5, "87,5"),
    (Decimal("22427.30"), f"22{NB}427,3"), (0, "0"), ("-1234567", f"-1{NB}234{NB}567"), (None, "—"), ("", "—"),
    ("не число", "не число"),
])
def test_numbers(value, shown):
    assert format_number(value) == shown


@pytest.mark.parametrize("value, shown", [
    (3500, f"3{NB}500,0"), ("3400", f"3{NB}400,0"), ("0.25", "0,3"), ("-0.25", "-0,3"), ("1234.449", f"1{NB}234,4"),
])
def test_amounts_keep_one_place_and_round_half_up(value, shown):
    assert format_amount(value) == shown


@pytest.mark.parametrize("ratio, shown", [
    (0.9628, f"96,3{NB}%"), (1, f"100,0{NB}%"), ("0.9625", f"96,3{NB}%"), (Decimal("12.5"), f"1{NB}250,0{NB}%"),
    (None, "—"),
])
def test_percentages(ratio, shown):
    assert format_percent(ratio) == shown


def test_money_has_the_rouble_sign():
    assert format_money(3500) == f"3{NB}500,00{NB}₽"


def test_dates_in_the_municipality_zone():
    moscow = ZoneInfo("Europe/Moscow")
    assert format_date(date(2017, 2, 20)) == "20.02.2017"
    assert format_date("2017-02-20") == "20.02.2017"
    # 21:30 UTC is already the next day in Moscow.
    assert format_date(datetime(2017, 2, 20, 21, 30, tzinfo=timezone.utc), moscow) == "21.02.2017"
    assert format_datetime(datetime(2017, 2, 20, 21, 30), moscow) == "21.02.2017 00:30"
    assert format_date_long(date(2017, 2, 20)) == "20 февраля 2017\u202fг."  # CLDR: a narrow no-break space
    assert format_date(None) == format_datetime("") == "—"
