"""The report machine, the schedule rules and the effectiveness evaluation, without a database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from workflows.calendar import ProductionCalendar
from workflows.core import Forbidden, Invalid, NotAllowedNow
from workflows.deadlines import due_date_for_rule
from workflows.report import (
    REPORT, EvaluationRules, IndicatorInput, ScheduleRules, cycles_for_year, evaluate,
    evaluation_rules_from_mapping, indicator_achievement, rate, rules_from_mapping,
)

PARTIES = ("executor", "economic_policy", "system")

# Hand-written from the issue: (from state, event) -> (party allowed, target state).
EXPECTED = {
    ("draft", "start_collection"): ("executor", "collecting"),
    ("collecting", "collection_complete"): ("system", "ready"),
    ("ready", "submit"): ("executor", "submitted"),
    ("submitted", "return"): ("economic_policy", "returned"),
    ("submitted", "accept"): ("economic_policy", "accepted"),
    ("returned", "resubmit"): ("executor", "submitted"),
    ("accepted", "publish"): ("executor", "published"),
}
STATES = ("draft", "collecting", "ready", "submitted", "returned", "accepted", "published")
EVENTS = ("start_collection", "collection_complete", "submit", "return", "resubmit", "accept", "publish")
OWNER = {"start_collection": "executor", "collection_complete": "system", "submit": "executor",
         "return": "economic_policy", "resubmit": "executor", "accept": "economic_policy", "publish": "executor"}
DATA = {"submit": {"note": "Записка"}, "resubmit": {"note": "Записка"}, "return": {"comment": "Замечание"}}


@dataclass
class Item:
    state: str
    id: int = 1


def test_states_and_events_are_the_issues():
    assert REPORT.states == list(STATES)
    assert sorted(REPORT.events) == sorted(EVENTS)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("party", PARTIES)
def test_every_transition_per_party(state, event, party):
    item = Item(state)
    expected = EXPECTED.get((state, event))
    if OWNER[event] != party:
        with pytest.raises(Forbidden):
            REPORT.fire(item, event, {party}, **DATA.get(event, {}))
        assert item.state == state
    elif expected is None:
        with pytest.raises(NotAllowedNow):
            REPORT.fire(item, event, {party}, **DATA.get(event, {}))
        assert item.state == state
    else:
        result = REPORT.fire(item, event, {party}, **DATA.get(event, {}))
        assert (result.source, result.target) == (state, expected[1])
        assert item.state == expected[1]


def test_start_collection_with_no_co_executor_goes_straight_to_ready():
    item = Item("draft")
    REPORT.fire(item, "start_collection", {"executor"}, needs_collection=False)
    assert item.state == "ready"


@pytest.mark.parametrize("event,kwargs,field", [
    ("submit", {}, "data.note"), ("submit", {"note": "  "}, "data.note"),
    ("resubmit", {"note": ""}, "data.note"), ("return", {"comment": " "}, "comment"),
])
def test_note_and_remarks_are_required(event, kwargs, field):
    state = {"submit": "ready", "resubmit": "returned", "return": "submitted"}[event]
    item = Item(state)
    with pytest.raises(Invalid) as err:
        REPORT.fire(item, event, {OWNER[event]}, **kwargs)
    assert field in err.value.fields and item.state == state


def test_allowed_events_per_party():
    assert REPORT.allowed_events(Item("submitted"), {"executor"}) == []
    assert REPORT.allowed_events(Item("submitted"), {"economic_policy"}) == ["return", "accept"]


# --- schedule -------------------------------------------------------------------------

def test_default_rules_quarterly_q1_q3_and_annual():
    cycles = cycles_for_year(ScheduleRules(), 2016)
    assert [(c.kind, c.period, c.nominal_due, c.nominal_co_executor_due) for c in cycles] == [
        ("quarterly", "2016-Q1", date(2016, 4, 20), date(2016, 4, 10)),
        ("quarterly", "2016-Q2", date(2016, 7, 20), date(2016, 7, 10)),
        ("quarterly", "2016-Q3", date(2016, 10, 20), date(2016, 10, 10)),
        ("annual", "2016", date(2017, 3, 1), date(2017, 2, 19)),
    ]
    assert cycles[2].period_end == date(2016, 9, 30)


def test_program_override_merges_over_defaults():
    rules = rules_from_mapping(
        {"quarterly": {"quarters": [1, 2, 3], "day": 20}, "annual": {"month": 3, "day": 1},
         "co_executor_days_before": 10},
        {"quarterly": {"quarters": [4], "day": 15}, "annual": {"enabled": False}, "co_executor_days_before": 5},
    )
    (q4,) = cycles_for_year(rules, 2016)
    assert (q4.period, q4.nominal_due, q4.nominal_co_executor_due) == ("2016-Q4", date(2017, 1, 15),
                                                                       date(2017, 1, 10))


def test_unknown_rule_keys_are_refused():
    with pytest.raises(ValueError):
        rules_from_mapping({"quartely": {}})


def test_config_file_rules_parse():
    from config.report_rules import evaluation_rules, schedule_rules

    rules = schedule_rules("kotovsk-information-society")
    assert rules.indicator_sources == {"mfc": ("I12",)}
    assert rules.computed_indicators == {"I11": "interdepartmental_requests_per_month"}
    assert rules.quarters == (1, 2, 3) and rules.co_executor_days_before == 10
    assert evaluation_rules().thresholds[0] == ("high", Decimal("0.9"))


def test_due_date_on_a_day_off_moves_to_next_working_day():
    calendar = ProductionCalendar()
    assert due_date_for_rule(calendar, date(2015, 3, 1)) == date(2015, 3, 2)  # Sunday → Monday
    assert due_date_for_rule(calendar, date(2016, 4, 20)) == date(2016, 4, 20)


# --- evaluation -------------------------------------------------------------------------

R = EvaluationRules()


@pytest.mark.parametrize("direction,plan,fact,expected", [
    ("increase", "100", "90", "0.9000"),
    ("increase", "100", "120", "1.0000"),     # capped
    ("decrease", "2", "4", "0.5000"),         # plan / fact
    ("decrease", "4", "2", "1.0000"),         # better than planned, capped
    ("increase", "3", "1", "0.3333"),
])
def test_indicator_achievement(direction, plan, fact, expected):
    fig = indicator_achievement(IndicatorInput("I", direction, Decimal(plan), Decimal(fact)), R)
    assert fig["value"] == expected and fig["missing"] is None
    assert fig["inputs"]["plan"] == plan and fig["inputs"]["fact"] == fact


@pytest.mark.parametrize("plan,fact,missing", [
    (None, "1", "нет планового значения"),
    ("1", None, "нет фактического значения"),
    (None, None, "нет планового значения; нет фактического значения"),
    ("0", "5", "плановое значение равно нулю, деление невозможно"),
])
def test_missing_inputs_are_said_not_guessed(plan, fact, missing):
    fig = indicator_achievement(IndicatorInput("I", "increase", plan and Decimal(plan), fact and Decimal(fact)), R)
    assert fig["value"] is None and fig["missing"] == missing


def test_full_evaluation_by_hand():
    # Achievements 0.9 and 1.0 → 0.95; completion 9/10 = 0.9; execution 450/500 = 0.9;
    # efficiency 0.9/0.9 = 1; effectiveness 0.95 × 1 = 0.95 → high.
    ev = evaluate([IndicatorInput("I1", "increase", Decimal("100"), Decimal("90")),
                   IndicatorInput("I2", "decrease", Decimal("5"), Decimal("4"))],
                  activities_planned=10, activities_done=9,
                  budget_planned=Decimal("500"), budget_spent=Decimal("450"))
    assert ev["subprogram_achievement"]["value"] == "0.9500"
    assert ev["subprogram_achievement"]["inputs"] == {"sum": "1.9000", "count": 2}
    assert ev["activity_completion"]["value"] == "0.9000"
    assert ev["budget_execution"]["value"] == "0.9000"
    assert ev["spending_efficiency"]["value"] == "1.0000"
    assert ev["effectiveness"]["value"] == "0.9500"
    assert (ev["rating"], ev["rating_label"]) == ("high", "высокая")


@pytest.mark.parametrize("value,rating", [
    ("0.9", "high"), ("0.8999", "medium"), ("0.8", "medium"), ("0.75", "satisfactory"), ("0.7", "satisfactory"),
    ("0.6999", "unsatisfactory"), ("0", "unsatisfactory"),
])
def test_rating_thresholds(value, rating):
    assert rate(Decimal(value), R) == rating


def test_thresholds_are_configurable():
    rules = evaluation_rules_from_mapping({"thresholds": {"high": "0.95", "medium": "0.5"}})
    assert rate(Decimal("0.9"), rules) == "medium"
    assert rate(Decimal("0.4"), rules) == "unsatisfactory"


def test_one_missing_indicator_leaves_the_overall_uncomputed():
    ev = evaluate([IndicatorInput("I1", "increase", Decimal("100"), Decimal("90")),
                   IndicatorInput("I2", "increase", None, Decimal("4"))],
                  activities_planned=2, activities_done=2, budget_planned=Decimal("10"), budget_spent=Decimal("10"))
    assert ev["subprogram_achievement"]["value"] is None
    assert "I2" in ev["subprogram_achievement"]["missing"]
    assert ev["spending_efficiency"]["value"] == "1.0000"
    assert ev["effectiveness"]["value"] is None and ev["rating"] is None


def test_no_spending_makes_efficiency_undefined():
    ev = evaluate([], activities_planned=3, activities_done=None, budget_planned=Decimal("10"),
                  budget_spent=Decimal("0"))
    assert ev["activity_completion"]["missing"] == "нет сведений о выполнении части мероприятий"
    assert ev["budget_execution"]["value"] == "0.0000"
    assert ev["spending_efficiency"]["value"] is None
