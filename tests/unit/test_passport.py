"""Rules the passport parser enforces, on a small hand-made passport independent of any file."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from workflows.passport import PassportError, passport_to_dict
from workflows.passport_parser import parse_passport


def _valid() -> dict:
    return {
        "slug": "demo",
        "title": "Демонстрационная программа",
        "period": {"start": 2015, "end": 2017},
        "approved_by": {"number": "100", "date": dt.date(2014, 12, 1)},
        "executor": "it",
        "co_executors": ["mfc"],
        "reviewers": ["economic-policy", "finance"],
        "departments": [
            {"code": "it", "name": "Отдел ИТ", "role": "executor"},
            {"code": "mfc", "name": "МФЦ", "role": "co_executor"},
            {"code": "economic-policy", "name": "Отдел экономической политики", "role": "economic_policy"},
            {"code": "finance", "name": "Финансовый отдел", "role": "finance"},
        ],
        "subprograms": [{"code": "SP1", "title": "Подпрограмма", "appendix": 5}],
        "goals": [{"code": "G1", "text": "Цель."}],
        "tasks": [{"code": "T1", "text": "Задача."}],
        "indicators": [
            {"code": "I1", "name": "Доля", "unit": "%", "direction": "increase", "targets": {2017: "95"}},
            {"code": "I2", "name": "Простой", "unit": "часов", "direction": "decrease", "targets": {}},
        ],
        "financing": {
            "unit": "тыс. рублей",
            "sources": {"regional": "Средства бюджета области", "city": "Средства бюджета города"},
            "total": "10402.5",
            "years": [
                {"year": 2015, "total": "3325.3", "regional": "597.5", "city": "2727.8"},
                {"year": 2016, "total": "4479.8", "regional": "623.3", "city": "3856.5"},
                {"year": 2017, "total": "2597.4", "regional": "0.0", "city": "2597.4"},
            ],
        },
        "activities": [
            {"code": "A1", "title": "мероприятие", "executor": "mfc", "years": [2015, 2016],
             "task": "T1", "subprogram": "SP1"},
        ],
        "sections": [{"key": "1", "title": "Раздел", "text": "Текст."}],
        "amendments": [{"date": dt.date(2015, 6, 1), "number": None}, {"date": "2016-12-30", "number": "2536"}],
    }


def _refusal(data: dict) -> PassportError:
    with pytest.raises(PassportError) as exc:
        parse_passport(data)
    return exc.value


def test_valid_passport_parses_with_exact_money():
    p = parse_passport(_valid())
    assert p.financing_total() == Decimal("10402.5")
    assert p.year_total(2016) == Decimal("4479.8")
    assert p.indicator("I1").targets == {2017: Decimal("95")}
    assert p.amendments[-1].date == dt.date(2016, 12, 30)
    assert all(isinstance(cell.amount, Decimal) for cell in p.financing)


def test_year_total_that_is_not_the_sum_of_its_sources_is_refused_naming_the_cell():
    data = _valid()
    data["financing"]["years"][1]["total"] = "4479.9"
    err = _refusal(data)
    assert err.field == "financing.years[2016].total"
    assert "year 2016 total 4479.9 is not the sum of its sources 4479.8" in err.message
    assert isinstance(err, ValueError)


def test_grand_total_that_is_not_the_sum_of_year_totals_is_refused():
    data = _valid()
    data["financing"]["total"] = "10402.6"
    err = _refusal(data)
    assert err.field == "financing.total"
    assert "10402.6" in err.message and "10402.5" in err.message


def test_float_amount_is_refused():
    data = _valid()
    data["financing"]["years"][0]["regional"] = 597.5
    err = _refusal(data)
    assert err.field == "financing.years[2015].regional"
    assert "float" in err.message


def test_negative_amount_is_refused():
    data = _valid()
    data["financing"]["years"][2]["regional"] = "-1.0"
    data["financing"]["years"][2]["city"] = "2598.4"
    err = _refusal(data)
    assert err.field == "financing.years[2017].regional"
    assert "negative" in err.message


@pytest.mark.parametrize("bad", ["abc", "", "1e3", "NaN", " 597.5"])
def test_non_numeric_amount_is_refused(bad):
    data = _valid()
    data["financing"]["years"][0]["regional"] = bad
    err = _refusal(data)
    assert err.field == "financing.years[2015].regional"


def test_decimal_comma_amount_is_refused_with_a_hint():
    data = _valid()
    data["financing"]["years"][0]["regional"] = "597,5"
    err = _refusal(data)
    assert "'597.5'" in err.message


def test_unquoted_integer_amount_is_refused():
    data = _valid()
    data["financing"]["years"][2]["regional"] = 0
    assert _refusal(data).field == "financing.years[2017].regional"


def test_duplicate_indicator_code_is_refused():
    data = _valid()
    data["indicators"][1]["code"] = "I1"
    err = _refusal(data)
    assert err.field == "indicators[1].code"
    assert "duplicate indicator code I1" in err.message


def test_unknown_direction_is_refused():
    data = _valid()
    data["indicators"][0]["direction"] = "up"
    assert _refusal(data).field == "indicators[I1].direction"


def test_financing_year_outside_the_period_is_refused():
    data = _valid()
    data["financing"]["years"][2]["year"] = 2021
    err = _refusal(data)
    assert err.field == "financing.years[2021].year"
    assert "2015-2017" in err.message


def test_missing_source_in_a_year_is_refused_not_read_as_zero():
    data = _valid()
    del data["financing"]["years"][2]["regional"]
    assert _refusal(data).field == "financing.years[2017].regional"


def test_activity_executor_must_execute_the_program():
    data = _valid()
    data["activities"][0]["executor"] = "finance"
    assert _refusal(data).field == "activities[A1].executor"


def test_amendments_out_of_date_order_are_refused():
    data = _valid()
    data["amendments"].reverse()
    assert _refusal(data).field == "amendments[1].date"


def test_misspelt_key_is_refused_rather_than_ignored():
    data = _valid()
    data["co_executor"] = data.pop("co_executors")
    assert _refusal(data).field == "co_executor"


def test_passport_round_trips_through_its_dict():
    p = parse_passport(_valid())
    assert parse_passport(passport_to_dict(p)) == p


def test_passport_dict_is_json_ready_and_round_trips_through_json():
    p = parse_passport(_valid())
    d = passport_to_dict(p)
    text = json.dumps(d, ensure_ascii=False)
    assert json.loads(text) == d
    assert d["financing"]["years"][1] == {"year": 2016, "total": "4479.8", "regional": "623.3", "city": "3856.5"}
    assert d["indicators"][0]["targets"] == {"2017": "95"}
    assert d["approved_by"]["date"] == "2014-12-01"
    assert parse_passport(json.loads(text)) == p


def test_amounts_keep_fixed_point_in_the_snapshot():
    data = _valid()
    data["financing"]["years"][2].update({"total": "2597.4000001", "city": "2597.4000001"})
    data["financing"]["total"] = "10402.5000001"
    data["indicators"][1]["targets"] = {2017: "0.0000001"}
    p = parse_passport(data)
    d = passport_to_dict(p)
    assert d["indicators"][1]["targets"] == {"2017": "0.0000001"}
    assert parse_passport(d) == p


def test_year_total_of_an_unfinanced_year_is_an_error_not_zero():
    p = parse_passport(_valid())
    with pytest.raises(KeyError):
        p.year_total(2014)
    with pytest.raises(KeyError):
        p.indicator("I99")
