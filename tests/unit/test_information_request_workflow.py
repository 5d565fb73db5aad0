"""The information-request machine against a hand-written table of who may do what, and when.

The expectations below are typed in from the issue (section "The workflow"),
not derived from the definition, so a change to the machine that the table does
not foresee makes a test fail.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from workflows.core import Forbidden, Invalid, NotAllowedNow
from workflows.information_request import (
    ADDRESSEE, ADDRESSEE_HEAD, AWAITING_ADDRESSEE, INFORMATION_REQUEST, REQUESTER,
)

WF = INFORMATION_REQUEST

STATES = ("draft", "sent", "answered", "clarification_requested", "accepted", "withdrawn")
EVENTS = ("send", "answer", "request_clarification", "accept", "withdraw", "delegate", "extend_deadline")

# The parties a caller can be: nobody (another department), the requesting
# department, an addressee department's ordinary user, an addressee department's head.
PARTY_SETS = {
    "outsider": frozenset(),
    "requester": frozenset({REQUESTER}),
    "addressee": frozenset({ADDRESSEE}),
    "addressee_head": frozenset({ADDRESSEE, ADDRESSEE_HEAD}),
}

# (state, event) -> target. Everything not listed is refused in that state.
TRANSITIONS = {
    ("draft", "send"): "sent",
    ("draft", "withdraw"): "withdrawn",
    ("sent", "answer"): "answered",
    ("sent", "withdraw"): "withdrawn",
    ("sent", "delegate"): "sent",
    ("sent", "extend_deadline"): "sent",
    ("answered", "request_clarification"): "clarification_requested",
    ("answered", "accept"): "accepted",
    ("answered", "withdraw"): "withdrawn",
    ("clarification_requested", "answer"): "answered",
    ("clarification_requested", "withdraw"): "withdrawn",
    ("clarification_requested", "delegate"): "clarification_requested",
    ("clarification_requested", "extend_deadline"): "clarification_requested",
}

# event -> the named party sets that may fire it.
WHO = {
    "send": {"requester"},
    "answer": {"addressee", "addressee_head"},
    "request_clarification": {"requester"},
    "accept": {"requester"},
    "withdraw": {"requester"},
    "delegate": {"addressee_head"},
    "extend_deadline": {"requester"},
}

# Data that satisfies each event's validators.
GOOD_DATA = {
    "send": {},
    "answer": {},
    "request_clarification": {"comment": "Уточните значение за 2016 год."},
    "accept": {},
    "withdraw": {},
    "delegate": {"assignee_id": 7},
    "extend_deadline": {"working_days": 3, "comment": "Нужны данные из архива."},
}


@dataclass
class Item:
    state: str
    id: int = 1


def expected_allowed(state: str, party: str) -> list[str]:
    return sorted(e for (s, e) in TRANSITIONS if s == state and party in WHO[e])


def test_table_covers_the_definition():
    """The machine has exactly the states and events the table speaks of."""
    assert sorted(WF.states) == sorted(STATES)
    assert sorted(WF.events) == sorted(EVENTS)
    assert AWAITING_ADDRESSEE == {"sent", "clarification_requested"}


CASES = [
    pytest.param(state, event, party, id=f"{state}-{event}-{party}")
    for state, event, party in itertools.product(STATES, EVENTS, PARTY_SETS)
]


@pytest.mark.parametrize("state,event,party", CASES)
def test_every_state_event_party(state, event, party):
    item = Item(state)
    parties = PARTY_SETS[party]
    target = TRANSITIONS.get((state, event))
    if party not in WHO[event]:
        with pytest.raises(Forbidden) as exc:
            WF.fire(item, event, parties, **GOOD_DATA[event])
        assert exc.value.status == 403
        assert item.state == state
    elif target is None:
        with pytest.raises(NotAllowedNow) as exc:
            WF.fire(item, event, parties, **GOOD_DATA[event])
        assert exc.value.status == 409
        assert sorted(exc.value.details["allowed_events"]) == expected_allowed(state, party)
        assert item.state == state
    else:
        result = WF.fire(item, event, parties, **GOOD_DATA[event])
        assert (result.event, result.source, result.target) == (event, state, target)
        assert item.state == target


@pytest.mark.parametrize("state,party", list(itertools.product(STATES, PARTY_SETS)))
def test_allowed_events_per_state_and_party(state, party):
    assert sorted(WF.allowed_events(Item(state), PARTY_SETS[party])) == expected_allowed(state, party)


def test_final_states_allow_nothing():
    for state in ("accepted", "withdrawn"):
        for party in PARTY_SETS.values():
            assert WF.allowed_events(Item(state), party) == []


def test_unknown_event_is_invalid():
    item = Item("sent")
    with pytest.raises(Invalid) as exc:
        WF.fire(item, "approve", PARTY_SETS["requester"])
    assert exc.value.status == 422
    assert "event" in exc.value.fields
    assert item.state == "sent"


# --- validators ------------------------------------------------------------------

@pytest.mark.parametrize("comment", [None, "", "   "])
def test_clarification_needs_a_comment(comment):
    item = Item("answered")
    with pytest.raises(Invalid) as exc:
        WF.fire(item, "request_clarification", PARTY_SETS["requester"], comment=comment)
    assert "comment" in exc.value.fields
    assert item.state == "answered"


@pytest.mark.parametrize("state", ["sent", "clarification_requested"])
@pytest.mark.parametrize("days", [0, -1, 61, 1.5, "3", True, None])
def test_extension_needs_1_to_60_working_days(state, days):
    item = Item(state)
    with pytest.raises(Invalid) as exc:
        WF.fire(item, "extend_deadline", PARTY_SETS["requester"], working_days=days, comment="Причина")
    assert set(exc.value.fields) == {"working_days"}
    assert item.state == state


@pytest.mark.parametrize("days", [1, 60])
def test_extension_bounds_are_inclusive(days):
    item = Item("sent")
    WF.fire(item, "extend_deadline", PARTY_SETS["requester"], working_days=days, comment="Причина")
    assert item.state == "sent"


@pytest.mark.parametrize("comment", [None, "", "  "])
def test_extension_needs_a_reason(comment):
    item = Item("sent")
    with pytest.raises(Invalid) as exc:
        WF.fire(item, "extend_deadline", PARTY_SETS["requester"], working_days=5, comment=comment)
    assert set(exc.value.fields) == {"comment"}
    assert item.state == "sent"


def test_extension_reports_both_problems_at_once():
    with pytest.raises(Invalid) as exc:
        WF.fire(Item("sent"), "extend_deadline", PARTY_SETS["requester"], working_days=0, comment="")
    assert set(exc.value.fields) == {"working_days", "comment"}


@pytest.mark.parametrize("state", ["sent", "clarification_requested"])
@pytest.mark.parametrize("assignee", [None, "7", True, 7.0])
def test_delegate_needs_an_assignee_id(state, assignee):
    item = Item(state)
    with pytest.raises(Invalid) as exc:
        WF.fire(item, "delegate", PARTY_SETS["addressee_head"], assignee_id=assignee)
    assert "assignee_id" in exc.value.fields
    assert item.state == state


def test_party_is_checked_before_validators():
    """A caller who may not fire the event learns nothing about its data rules."""
    with pytest.raises(Forbidden):
        WF.fire(Item("answered"), "request_clarification", PARTY_SETS["addressee"], comment="")
    with pytest.raises(Forbidden):
        WF.fire(Item("sent"), "delegate", PARTY_SETS["addressee"], assignee_id=None)


def test_state_is_checked_before_validators():
    with pytest.raises(NotAllowedNow):
        WF.fire(Item("sent"), "request_clarification", PARTY_SETS["requester"], comment="")
    with pytest.raises(NotAllowedNow):
        WF.fire(Item("answered"), "extend_deadline", PARTY_SETS["requester"], working_days=0)


def test_a_full_round_with_clarification():
    item = Item("draft")
    req, head = PARTY_SETS["requester"], PARTY_SETS["addressee_head"]
    WF.fire(item, "send", req)
    WF.fire(item, "delegate", head, assignee_id=4)
    WF.fire(item, "answer", PARTY_SETS["addressee"])
    WF.fire(item, "request_clarification", req, comment="Уточните")
    WF.fire(item, "extend_deadline", req, working_days=2, comment="Причина")
    WF.fire(item, "answer", head)
    WF.fire(item, "accept", req)
    assert item.state == "accepted"
