"""The Kotovsk "Information Society" passport file against figures read from the seed document.

The expected values are typed in from the seed by hand, not read from it, so
a slip in the YAML transcription shows up as a failing test.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from config.reference import PROGRAMS_DIR, ProgramFileError, load_program_file, program_files
from workflows.passport import PassportError, passport_to_dict
from workflows.passport_parser import parse_passport

SEED_FILE = PROGRAMS_DIR / "kotovsk-information-society.yaml"

# Passport "Объемы и источники финансирования программы" (and section 6), тыс. рублей.
SEED_FINANCING = {
    2014: ("3442.2", "620.8", "2821.4"),
    2015: ("3325.3", "597.5", "2727.8"),
    2016: ("4479.8", "623.3", "3856.5"),
    2017: ("3229.4", "0.0", "3229.4"),
    2018: ("2849.3", "0.0", "2849.3"),
    2019: ("2607.0", "0.0", "2607.0"),
    2020: ("2494.3", "101.7", "2392.6"),
}

SEED_AMENDMENT_DATES = [
    dt.date(2014, 6, 23), dt.date(2014, 10, 2), dt.date(2014, 10, 10), dt.date(2014, 12, 31),
    dt.date(2015, 6, 1), dt.date(2015, 12, 30),
    dt.date(2016, 2, 1), dt.date(2016, 3, 16), dt.date(2016, 4, 18), dt.date(2016, 6, 30),
    dt.date(2016, 9, 22), dt.date(2016, 11, 2), dt.date(2016, 12, 22), dt.date(2016, 12, 30),
]


@pytest.fixture(scope="module")
def raw():
    return load_program_file(SEED_FILE)


@pytest.fixture(scope="module")
def passport(raw):
    return parse_passport(raw)


def test_program_file_is_listed():
    assert SEED_FILE in program_files()


def test_identity_and_approval(passport):
    assert passport.slug == "kotovsk-information-society"
    assert passport.title == (
        'Муниципальная программа города Котовска Тамбовской области "Информационное общество" '
        "на 2014 - 2020 годы"
    )
    assert (passport.period_start, passport.period_end) == (2014, 2020)
    assert passport.approved_number == "3054"
    assert passport.approved_date == dt.date(2013, 12, 9)


def test_executor_is_it_and_mfc_co_executes(passport):
    assert passport.executor == "it"
    assert passport.co_executors == ("mfc",)
    assert passport.reviewers == ("economic-policy", "finance")
    names = {d.code: d.name for d in passport.departments}
    assert names["it"] == "Отдел информационных технологий администрации города"
    assert names["mfc"] == (
        'Котовское муниципальное казенное учреждение "Многофункциональный центр предоставления '
        'государственных и муниципальных услуг"'
    )
    assert {d.code: d.role for d in passport.departments} == {
        "it": "executor", "mfc": "co_executor",
        "economic-policy": "economic_policy", "finance": "finance",
    }


def test_one_subprogram_in_appendix_5(passport):
    (sp,) = passport.subprograms
    assert (sp.code, sp.appendix) == ("SP1", 5)
    assert sp.title == "Совершенствование государственного и муниципального управления"


def test_two_goals_and_six_tasks(passport):
    assert [g.code for g in passport.goals] == ["G1", "G2"]
    assert passport.goals[0].text.startswith("Получение гражданами и организациями преимуществ")
    assert passport.goals[1].text == "Повышение эффективности муниципального управления."
    assert [t.code for t in passport.tasks] == [f"T{n}" for n in range(1, 7)]
    assert passport.tasks[0].text.startswith("Повышение качества жизни граждан")
    assert passport.tasks[5].text == "Повышение доступности и качества государственных и муниципальных услуг."


def test_twelve_indicators_in_seed_order(passport):
    assert [i.code for i in passport.indicators] == [f"I{n}" for n in range(1, 13)]
    assert passport.indicator("I1").name == (
        "Уровень соответствия информации, размещенной на официальном сайте администрации города "
        "Котовска, требованиям законодательства, её актуальности и поисковой доступности"
    )
    assert passport.indicator("I12").name == (
        "Количество принятых запросов на предоставление государственных и муниципальных услуг "
        "(среднее значение в месяц)"
    )


def test_only_malware_share_and_downtime_should_decrease(passport):
    decreasing = {i.code for i in passport.indicators if i.direction == "decrease"}
    assert decreasing == {"I8", "I9"}


def test_seed_states_no_indicator_targets(passport):
    assert all(i.targets == {} for i in passport.indicators)


def test_financing_cells_match_seed_exactly(passport, raw):
    assert passport.financing_unit == "тыс. рублей"
    assert passport.sources == {"regional": "Средства бюджета области", "city": "Средства бюджета города"}
    assert passport.financing_years() == tuple(SEED_FINANCING)
    for year, (total, regional, city) in SEED_FINANCING.items():
        assert passport.amount(year, "regional") == Decimal(regional)
        assert passport.amount(year, "city") == Decimal(city)
        assert passport.year_total(year) == Decimal(total)
    # The file keeps the seed's own spelling of each figure (e.g. "0.0", "2607.0").
    as_written = {e["year"]: (e["total"], e["regional"], e["city"]) for e in raw["financing"]["years"]}
    assert as_written == SEED_FINANCING


def test_grand_total_is_22427_3(passport, raw):
    assert raw["financing"]["total"] == "22427.3"
    assert passport.financing_total() == Decimal("22427.3")


def test_fourteen_amendments_last_is_2536(passport):
    assert [a.date for a in passport.amendments] == SEED_AMENDMENT_DATES
    assert passport.amendments[-1].number == "2536"
    assert all(a.number is None for a in passport.amendments[:-1])


def test_all_seven_sections_are_kept(passport):
    assert [s.key for s in passport.sections] == [str(n) for n in range(1, 8)]
    section7 = passport.sections[-1]
    assert section7.title == "Механизм реализации Программы"
    assert "отдел экономической политики администрации города" in section7.text
    assert "Плаксин" not in section7.text  # the signature is not part of the section


def test_activities_carry_no_invented_figures(passport):
    assert {a.executor for a in passport.activities} == {"it", "mfc"}
    mfc_work = [a for a in passport.activities if a.executor == "mfc"]
    assert [(a.task, a.subprogram) for a in mfc_work] == [("T6", "SP1")]
    assert all(a.years == tuple(range(2014, 2021)) for a in passport.activities)


def test_seed_passport_round_trips_through_json(passport):
    snapshot = json.loads(json.dumps(passport_to_dict(passport), ensure_ascii=False))
    assert parse_passport(snapshot) == passport


# --- the loader ----------------------------------------------------------------


def _write(tmp_path, text: str):
    path = tmp_path / "program.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loader_refuses_unquoted_amount_naming_the_cell(tmp_path):
    path = _write(tmp_path, "financing:\n  total: \"1.0\"\n  years:\n    - {year: 2016, total: 4479.8}\n")
    with pytest.raises(ProgramFileError) as exc:
        load_program_file(path)
    assert exc.value.field == "financing.years[2016].total"
    assert "float 4479.8" in exc.value.message
    assert isinstance(exc.value, PassportError)


def test_loader_turns_quoted_dates_into_dates(tmp_path):
    path = _write(tmp_path, 'approved_by: {number: "3054", date: "2013-12-09"}\namendments:\n  - {date: 2014-06-23}\n')
    data = load_program_file(path)
    assert data["approved_by"]["date"] == dt.date(2013, 12, 9)
    assert data["amendments"][0]["date"] == dt.date(2014, 6, 23)


def test_loader_refuses_duplicate_keys(tmp_path):
    path = _write(tmp_path, 'financing:\n  total: "1.0"\n  total: "2.0"\n')
    with pytest.raises(ProgramFileError, match="duplicate key 'total'"):
        load_program_file(path)
