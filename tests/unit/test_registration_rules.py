"""Registration-number rules (workflows.registration): the template, the prefixes, the copy suffix."""
from __future__ import annotations

import pytest

from workflows.registration import (
    DEFAULT_TEMPLATE, RegistrationConfigError, copy_number, default_prefix, parse_prefixes, parse_template,
    search_form,
)


def test_the_default_template_renders_prefix_year_and_five_digit_sequence():
    assert parse_template(None).text == DEFAULT_TEMPLATE
    assert parse_template("").render("ИТ", 2026, 17) == "ИТ-2026/00017"
    assert parse_template(DEFAULT_TEMPLATE).render("МФЦ", 2027, 123456) == "МФЦ-2027/123456"


def test_another_template_is_used_as_written():
    assert parse_template("{year}-{department_prefix}-{seq}").render("ФИН", 2026, 3) == "2026-ФИН-3"
    assert parse_template("ИСХ/{department_prefix}/{seq:03d}/{year}").render("ЭП", 2026, 7) == "ИСХ/ЭП/007/2026"


@pytest.mark.parametrize("text", [
    "{department_prefix}-{seq:05d}",             # no year: numbers would repeat every year
    "{year}/{seq:05d}",                          # no prefix: departments would share numbers
    "{department_prefix}-{year}",                # no sequence
    "{department_prefix}-{year}/{seq}/{seq}",    # a field twice
    "{department_prefix}-{year}/{seq:05d}-{id}", # an unknown field
    "{department_prefix}-{year}/{seq!r}",        # a conversion
    "{department_prefix}-{year}/{seq:05d}-вх",   # lower case: the search upper-cases the query
    "{department_prefix}-{year}/{seq:05d}-ВЁ",   # Ё: the search folds it to Е
    "{department_prefix:>3}-{year}/{seq}",       # the prefix takes no format
    "{department_prefix}-{year}/{seq:q}",        # a format that fails on an integer
    "{department_prefix}-{year}/{seq",           # unbalanced
    "X" * 60 + "{department_prefix}{year}{seq}", # too long for the column
])
def test_a_template_that_would_give_bad_numbers_is_refused(text):
    with pytest.raises(RegistrationConfigError):
        parse_template(text)


def test_prefixes_are_upper_case_and_each_a_single_departments():
    assert parse_prefixes({"it": "ИТ", "mfc": "МФЦ"}) == {"it": "ИТ", "mfc": "МФЦ"}
    assert parse_prefixes(None) == {}
    for bad in ({"it": "ит"}, {"it": ""}, {"it": "И-Т"}, {"it": "ЁЖ"}, {"it": 1}, {"it": "A" * 17},
                {"it": "ИТ", "mfc": "ИТ"}, ["it"]):
        with pytest.raises(RegistrationConfigError):
            parse_prefixes(bad)


def test_an_unlisted_department_numbers_with_its_code_in_capitals():
    assert default_prefix("it") == "IT"
    assert default_prefix("economic-policy") == "ECONOMICPOLICY"
    assert default_prefix("отдел-ёлок") == "ОТДЕЛЕЛОК"
    assert default_prefix("---") == "DEPT"


def test_a_copy_is_the_thread_number_and_its_position_from_one():
    assert copy_number("ИТ-2026/00017", 1) == "ИТ-2026/00017/1"
    assert copy_number("ИТ-2026/00017", 12) == "ИТ-2026/00017/12"
    for bad in (0, -1, True, "1"):
        with pytest.raises(ValueError):
            copy_number("ИТ-2026/00017", bad)


def test_a_search_word_is_compared_in_the_numbers_own_case():
    assert search_form("ит-2026/00017") == "ИТ-2026/00017"
