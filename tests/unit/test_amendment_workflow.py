"""The amendment machine and change-set functions, without a database."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from workflows.amendment import AMENDMENT, parse_resolution, parties_for, required_reviewers
from workflows.change_sets import apply_changes, conflicts, diff_changesets, diff_passports, validate_changes
from workflows.core import Forbidden, Invalid, NotAllowedNow
from workflows.passport_parser import parse_passport

PARTIES = ("executor", "economic_policy", "finance", "admin", "nobody")
STATES = ("draft", "under_review", "returned", "approved", "adopted", "withdrawn")
EVENTS = ("submit_for_review", "approve", "return", "revise", "rebase", "adopt", "withdraw")

BOTH = {"approved_by": {"economic-policy", "finance"}, "required": {"economic-policy", "finance"}}
ONE = {"approved_by": {"finance"}, "required": {"economic-policy", "finance"}}
RESOLUTION = {"resolution_number": "245", "resolution_date": "2026-11-20"}

# (state, event) -> (parties allowed, target state). Written by hand from the issue, not read from the machine.
EXPECTED = {
    ("draft", "submit_for_review"): ({"executor", "admin"}, "under_review"),
    ("draft", "revise"): ({"executor", "admin"}, "draft"),
    ("draft", "rebase"): ({"executor", "admin"}, "draft"),
    ("draft", "withdraw"): ({"executor", "admin"}, "withdrawn"),
    ("under_review", "approve"): ({"economic_policy", "finance"}, "approved"),  # with BOTH; see below for ONE
    ("under_review", "return"): ({"economic_policy", "finance"}, "returned"),
    ("under_review", "revise"): ({"executor", "admin"}, "under_review"),
    ("under_review", "rebase"): ({"executor", "admin"}, "under_review"),
    ("under_review", "withdraw"): ({"executor", "admin"}, "withdrawn"),
    ("returned", "revise"): ({"executor", "admin"}, "under_review"),
    ("returned", "rebase"): ({"executor", "admin"}, "returned"),
    ("returned", "withdraw"): ({"executor", "admin"}, "withdrawn"),
    ("approved", "revise"): ({"executor", "admin"}, "under_review"),
    ("approved", "rebase"): ({"executor", "admin"}, "approved"),  # without conflicts; see below
    ("approved", "adopt"): ({"executor", "admin"}, "adopted"),
    ("approved", "withdraw"): ({"executor", "admin"}, "withdrawn"),
}
# Who may fire an event at all (else 403 before the state is looked at).
MAY_FIRE = {
    "submit_for_review": {"executor", "admin"}, "approve": {"economic_policy", "finance"},
    "return": {"economic_policy", "finance"}, "revise": {"executor", "admin"}, "rebase": {"executor", "admin"},
    "adopt": {"executor", "admin"}, "withdraw": {"executor", "admin"},
}
DATA = {"approve": BOTH, "return": {"comment": "Замечания."}, "adopt": RESOLUTION, "rebase": {"conflicts": []}}


class Item:
    def __init__(self, state: str):
        self.state = state


def test_the_definition_matches_the_table():
    assert set(AMENDMENT.states) == set(STATES)
    assert set(AMENDMENT.events) == set(EVENTS)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("party", PARTIES)
def test_every_transition_per_party(state, event, party):
    item = Item(state)
    allowed, target = EXPECTED.get((state, event), (set(), None))
    if party in allowed:
        result = AMENDMENT.fire(item, event, {party}, **DATA.get(event, {}))
        assert (result.source, result.target, item.state) == (state, target, target)
    elif party not in MAY_FIRE[event]:
        with pytest.raises(Forbidden):
            AMENDMENT.fire(item, event, {party}, **DATA.get(event, {}))
        assert item.state == state
    else:
        with pytest.raises(NotAllowedNow):
            AMENDMENT.fire(item, event, {party}, **DATA.get(event, {}))
        assert item.state == state


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("party", PARTIES)
def test_allowed_events_per_party(state, party):
    expected = sorted(e for (s, e), (who, _) in EXPECTED.items() if s == state and party in who)
    assert sorted(AMENDMENT.allowed_events(Item(state), {party})) == expected


@pytest.mark.parametrize("party", ["economic_policy", "finance"])
def test_an_approval_leaving_a_department_pending_keeps_the_review_open(party):
    item = Item("under_review")
    assert AMENDMENT.fire(item, "approve", {party}, **ONE).target == "under_review"
    assert AMENDMENT.fire(item, "approve", {party}, **BOTH).target == "approved"


def test_no_required_reviewers_never_completes():
    item = Item("under_review")
    AMENDMENT.fire(item, "approve", {"finance"}, approved_by={"finance"}, required=set())
    assert item.state == "under_review"


def test_rebase_with_conflicts_sends_an_approved_amendment_back_to_review():
    item = Item("approved")
    AMENDMENT.fire(item, "rebase", {"executor"}, conflicts=[{"cell": "financing[2017].city"}])
    assert item.state == "under_review"


def test_return_needs_remarks_and_adopt_a_resolution():
    item = Item("under_review")
    with pytest.raises(Invalid) as err:
        AMENDMENT.fire(item, "return", {"finance"}, comment="  ")
    assert "data.remarks" in err.value.fields and item.state == "under_review"
    AMENDMENT.fire(item, "return", {"finance"}, remarks="Уточнить.")
    assert item.state == "returned"
    item = Item("approved")
    with pytest.raises(Invalid) as err:
        AMENDMENT.fire(item, "adopt", {"admin"}, resolution_number="", resolution_date="2026-02-30")
    assert set(err.value.fields) == {"data.resolution_number", "data.resolution_date"}
    assert item.state == "approved"


def test_parse_resolution():
    assert parse_resolution(" 12-п ", "2026-11-20") == ("12-п", dt.date(2026, 11, 20))
    for number, date in [(None, "2026-11-20"), ("1", None), ("1", "2026-11-20T10:00"), (5, "2026-11-20")]:
        with pytest.raises(Invalid):
            parse_resolution(number, date)


# --- parties --------------------------------------------------------------------

def _passport(**overrides):
    data = {
        "slug": "demo", "title": "Демо", "period": {"start": 2015, "end": 2017},
        "approved_by": {"number": "100", "date": "2014-12-01"},
        "executor": "it", "co_executors": ["mfc"], "reviewers": ["economic-policy", "finance"],
        "departments": [
            {"code": "it", "name": "ИТ", "role": "executor"},
            {"code": "mfc", "name": "МФЦ", "role": "co_executor"},
            {"code": "economic-policy", "name": "ЭП", "role": "economic_policy"},
            {"code": "finance", "name": "Финансы", "role": "finance"},
        ],
        "goals": [{"code": "G1", "text": "Цель."}],
        "tasks": [{"code": "T1", "text": "Задача."}],
        "indicators": [{"code": "I1", "name": "Доля", "unit": "%", "direction": "increase",
                        "targets": {"2016": "50", "2017": "95"}}],
        "financing": {"unit": "тыс. рублей", "sources": {"regional": "Область", "city": "Город"},
                      "total": "600.0",
                      "years": [{"year": 2015, "total": "100.0", "regional": "40.0", "city": "60.0"},
                                {"year": 2016, "total": "200.0", "regional": "50.0", "city": "150.0"},
                                {"year": 2017, "total": "300.0", "regional": "0.0", "city": "300.0"}]},
        "activities": [{"code": "A1", "title": "Сервисы", "executor": "it", "years": [2015, 2016], "task": "T1"}],
        "sections": [{"key": "1", "title": "Характеристика", "text": "Старый текст."}],
        "amendments": [{"date": "2015-06-01", "number": "7"}],
    }
    data.update(overrides)
    return parse_passport(data)


@pytest.mark.parametrize("department,admin,expected", [
    ("it", False, {"executor"}),
    ("mfc", False, set()),
    ("economic-policy", False, {"economic_policy"}),
    ("finance", False, {"finance"}),
    ("it", True, {"executor", "admin"}),
    ("other", True, {"admin"}),
    (None, False, set()),
])
def test_parties(department, admin, expected):
    assert parties_for(department=department, is_admin=admin, passport=_passport()) == expected


def test_reviewers_come_from_the_passport():
    p = _passport(reviewers=["finance"])
    assert required_reviewers(p) == {"finance"}
    assert parties_for(department="economic-policy", is_admin=False, passport=p) == set()


# --- change sets ------------------------------------------------------------------

def test_apply_recomputes_year_and_grand_totals():
    p = _passport()
    changes = validate_changes(p, {"financing": [{"year": 2016, "source": "city", "amount": "250.5"}],
                                   "indicator_targets": [{"indicator": "I1", "year": 2015, "value": "10"},
                                                         {"indicator": "I1", "year": 2017, "value": None}]})
    q = apply_changes(p, changes, resolution=("9", dt.date(2016, 1, 10)))
    assert q.amount(2016, "city") == Decimal("250.5")
    assert q.year_total(2016) == Decimal("300.5")
    assert q.financing_total() == Decimal("700.5")
    assert q.indicator("I1").targets == {2015: Decimal("10"), 2016: Decimal("50")}
    assert q.amendments[-1].number == "9"
    assert p.financing_total() == Decimal("600.0")  # the base is not touched


def test_activities_and_sections():
    p = _passport()
    changes = validate_changes(p, {
        "activities": [{"op": "add", "code": "A2", "title": "МФЦ", "executor": "mfc", "years": [2017]},
                       {"op": "change", "code": "A1", "years": [2015, 2016, 2017]}],
        "sections": [{"key": "1", "text": "Новый текст."},
                     {"op": "add", "key": "2", "title": "Сроки", "text": "2015–2017."}],
    })
    q = apply_changes(p, changes)
    assert [a.code for a in q.activities] == ["A1", "A2"] and q.activities[0].years == (2015, 2016, 2017)
    assert [s.text for s in q.sections] == ["Новый текст.", "2015–2017."]
    removed = apply_changes(q, validate_changes(q, {"activities": [{"op": "remove", "code": "A2"}],
                                                     "sections": [{"op": "remove", "key": "2"}]}))
    assert [a.code for a in removed.activities] == ["A1"] and len(removed.sections) == 1


@pytest.mark.parametrize("raw,field", [
    ({"financing": [{"year": 2014, "source": "city", "amount": "1"}]}, "changes.financing[0].year"),
    ({"financing": [{"year": "2015", "source": "city", "amount": "1"}]}, "changes.financing[0].year"),
    ({"financing": [{"year": 2015, "source": "federal", "amount": "1"}]}, "changes.financing[0].source"),
    ({"financing": [{"year": 2015, "source": "city", "amount": "-0.1"}]}, "changes.financing[0].amount"),
    ({"financing": [{"year": 2015, "source": "city", "amount": "1,5"}]}, "changes.financing[0].amount"),
    ({"financing": [{"year": 2015, "source": "city", "amount": 2.5}]}, "changes.financing[0].amount"),
    ({"financing": [{"year": 2015, "source": "city", "amount": True}]}, "changes.financing[0].amount"),
    ({"financing": [{"year": 2015, "source": "city"}]}, "changes.financing[0].amount"),
    ({"financing": [{"year": 2015, "source": "city", "amount": "1", "total": "1"}]}, "changes.financing[0].total"),
    ({"financing": "all"}, "changes.financing"),
    ({"indicator_targets": [{"indicator": "I9", "year": 2015, "value": "1"}]},
     "changes.indicator_targets[0].indicator"),
    ({"indicator_targets": [{"indicator": "I1", "year": 2018, "value": "1"}]}, "changes.indicator_targets[0].year"),
    ({"indicator_targets": [{"indicator": "I1", "year": 2015}]}, "changes.indicator_targets[0].value"),
    ({"indicator_targets": [{"indicator": "I1", "year": 2015, "value": "1"},
                            {"indicator": "I1", "year": 2015, "value": "2"}]}, "changes.indicator_targets[1]"),
    ({"activities": [{"op": "add", "code": "A1", "title": "x", "executor": "it", "years": [2015]}]},
     "changes.activities[0].code"),
    ({"activities": [{"op": "add", "code": "A2", "title": "x"}]}, "changes.activities[0].executor"),
    ({"activities": [{"op": "change", "code": "A1", "years": [2019]}]}, "changes.activities[0].years[0]"),
    ({"activities": [{"op": "move", "code": "A1"}]}, "changes.activities[0].op"),
    ({"sections": [{"key": "9", "text": "x"}]}, "changes.sections[0].key"),
    ({"sections": [{"key": "1", "text": ""}]}, "changes.sections[0].text"),
    ({}, "changes"),
])
def test_invalid_changes_name_the_cell(raw, field):
    with pytest.raises(Invalid) as err:
        validate_changes(_passport(), raw)
    assert field in err.value.fields, err.value.fields


def test_a_resolution_older_than_the_last_amendment_is_refused():
    p = _passport()
    changes = validate_changes(p, {"financing": [{"year": 2015, "source": "city", "amount": "61.0"}]})
    with pytest.raises(Invalid) as err:
        apply_changes(p, changes, resolution=("1", dt.date(2015, 1, 1)))
    assert "data.resolution_date" in err.value.fields


# --- comparing ----------------------------------------------------------------------

def test_diff_names_cells_totals_targets_activities_and_text():
    p = _passport()
    q = apply_changes(p, validate_changes(p, {
        "financing": [{"year": 2017, "source": "regional", "amount": "25.0"}],
        "indicator_targets": [{"indicator": "I1", "year": 2017, "value": "97"}],
        "activities": [{"op": "change", "code": "A1", "title": "Сервисы и порталы"}],
        "sections": [{"key": "1", "text": "Новый текст."}],
    }))
    d = diff_passports(p, q)
    assert d["financing"]["cells"] == [{"year": 2017, "source": "regional", "old": "0.0", "new": "25.0",
                                        "delta": "25.0"}]
    assert d["financing"]["years"] == [{"year": 2017, "old": "300.0", "new": "325.0", "delta": "25.0"}]
    assert d["financing"]["total"] == {"old": "600.0", "new": "625.0", "delta": "25.0"}
    assert d["indicator_targets"] == [{"indicator": "I1", "year": 2017, "old": "95", "new": "97"}]
    assert d["activities"]["changed"] == [{"code": "A1", "fields": {
        "title": {"old": "Сервисы", "new": "Сервисы и порталы"}}}]
    assert d["sections"]["changed"][0]["old_text"] == "Старый текст."
    assert diff_passports(p, p)["financing"]["cells"] == []


def test_conflicts_are_cells_changed_both_here_and_since_the_base():
    base = _passport()
    mine = validate_changes(base, {"financing": [{"year": 2015, "source": "city", "amount": "70.0"},
                                                 {"year": 2016, "source": "city", "amount": "160.0"}],
                                   "indicator_targets": [{"indicator": "I1", "year": 2016, "value": "55"}]})
    theirs = apply_changes(base, validate_changes(base, {
        "financing": [{"year": 2016, "source": "city", "amount": "151.0"},
                      {"year": 2017, "source": "city", "amount": "301.0"}],
        "indicator_targets": [{"indicator": "I1", "year": 2016, "value": "52"}]}))
    found = conflicts(mine, base, theirs)
    assert [c["cell"] for c in found] == ["financing[2016].city", "indicators[I1].targets[2016]"]
    assert found[0]["base"] == "150.0" and found[0]["current"] == "151.0"
    assert found[0]["amendment"] == {"amount": "160.0"}
    assert conflicts(mine, base, base) == []


def test_diff_between_revisions():
    a = {"financing": [{"year": 2015, "source": "city", "amount": "70.0"}], "indicator_targets": [],
         "activities": [], "sections": []}
    b = {"financing": [{"year": 2015, "source": "city", "amount": "75.0"}],
         "indicator_targets": [{"indicator": "I1", "year": 2016, "value": "55"}], "activities": [], "sections": []}
    d = diff_changesets(a, b)
    assert [(x["cell"], x["old"] and x["old"].get("amount"), x["new"].get("amount") or x["new"].get("value"))
            for x in d] == [("financing[2015].city", "70.0", "75.0"), ("indicators[I1].targets[2016]", None, "55")]
    assert diff_changesets(a, a) == []
