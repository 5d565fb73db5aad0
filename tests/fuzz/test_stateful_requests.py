"""Random sequences of events by random demo users on information requests (Hypothesis, stateful).

Invariants after every step: each request's state is one the definition has,
and replaying its history from 'draft' (each row starting where the previous
ended) gives the stored state. A refusal changes nothing; a success adds
exactly one history row that starts from the state before it.
"""
from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, \
    run_state_machine_as_test
from sqlalchemy import select

from services import information_requests as ir
from services.models.registry import User
from services.models.requests import InformationRequest
from services.models.workflow import TransitionRecord
from services.registry import actor_for
from workflows.core import Refusal

PROGRAM = "kotovsk-information-society"
USERS = {
    "it": "it@kotovsk.example", "it_staff": "it.staff@kotovsk.example", "mfc": "mfc@kotovsk.example",
    "mfc_staff": "mfc.staff@kotovsk.example", "econ": "econ@kotovsk.example",
    "finance": "finance@kotovsk.example", "admin": "admin@kotovsk.example",
}
DEPARTMENTS = ("it", "mfc", "economic-policy", "finance")
EVENTS = (*ir.WORKFLOW.events, "no_such_event")


class RequestWorkflow(RuleBasedStateMachine):
    services = None  # set by the test
    fired: Counter = Counter()  # successful events over the whole run, so a vacuous run fails

    def __init__(self):
        super().__init__()
        self.ids: list[int] = []
        with self.services.uow() as uow:
            users = uow.session.execute(select(User).where(User.email.in_(USERS.values()))).unique().scalars()
            by_email = {u.email: u for u in users}
            self.actors = {name: actor_for(by_email[email]) for name, email in USERS.items()}
            self.user_ids = {name: by_email[email].id for name, email in USERS.items()}

    def _history(self, rid: int) -> list[tuple[str, str]]:
        with self.services.uow() as uow:
            return [tuple(r) for r in uow.session.execute(
                select(TransitionRecord.from_state, TransitionRecord.to_state)
                .where(TransitionRecord.workflow == ir.WORKFLOW.name, TransitionRecord.item_id == rid)
                .order_by(TransitionRecord.id)).all()]

    def _state(self, rid: int) -> str:
        with self.services.uow() as uow:
            return uow.session.execute(
                select(InformationRequest.state).where(InformationRequest.id == rid)).scalar_one()

    @initialize(creator=st.one_of(st.just("it"), st.sampled_from(["it", "it_staff", "econ", "finance"])),
                addressees=st.one_of(st.just(["mfc"]),
                                     st.lists(st.sampled_from(DEPARTMENTS), min_size=1, max_size=3, unique=True)),
                send=st.booleans())
    def create(self, creator, addressees, send):
        self._create(creator, addressees, send)

    @rule(creator=st.sampled_from(list(USERS)),
          addressees=st.lists(st.sampled_from(DEPARTMENTS), min_size=1, max_size=3, unique=True),
          send=st.booleans())
    def create_more(self, creator, addressees, send):
        self._create(creator, addressees, send)

    def _create(self, creator, addressees, send):
        actor = self.actors[creator]
        try:
            with self.services.uow() as uow:
                _, copies = ir.create_request(uow, self.services, actor, ir.NewRequest(
                    program=PROGRAM, subject="Свойство", body="", addressees=addressees, send=send))
                uow.commit()
                self.ids.extend(c.id for c in copies)
        except Refusal:
            pass

    @precondition(lambda self: self.ids)
    # Half the draws follow the usual path (requester IT, addressee MFC), so deep states are reached too.
    @rule(data=st.data(), event=st.one_of(st.sampled_from(["send", "answer", "accept", "request_clarification"]),
                                          st.sampled_from(EVENTS)),
          who=st.one_of(st.sampled_from(["it", "mfc"]), st.sampled_from(list(USERS))),
          comment=st.sampled_from(["", "Причина"]), payload_kind=st.sampled_from(["good", "good", "good", "none", "bad"]))
    def fire(self, data, event, who, comment, payload_kind):
        rid = data.draw(st.sampled_from(self.ids), label="request")
        if data.draw(st.booleans(), label="a party of this request"):
            who = data.draw(st.sampled_from(self._party_users(rid)), label="party")
            allowed = self._allowed(rid, who)
            if allowed and data.draw(st.booleans(), label="an event it may fire now"):
                event = data.draw(st.sampled_from(allowed), label="allowed event")
        RequestWorkflow.fired["_attempts"] += 1
        payload = self._payload(event, payload_kind, data)
        before_state, before_history = self._state(rid), self._history(rid)
        try:
            with self.services.uow() as uow:
                req = ir.fire_transition(uow, self.services, self.actors[who], rid, event, comment, payload)
                uow.commit()
                target = req.state
        except Refusal as refusal:
            RequestWorkflow.fired["_" + type(refusal).__name__] += 1
            assert self._state(rid) == before_state
            assert self._history(rid) == before_history
            return
        after = self._history(rid)
        assert after[:-1] == before_history and after[-1] == (before_state, target)
        assert self._state(rid) == target
        RequestWorkflow.fired[event] += 1

    def _party_users(self, rid: int) -> list[str]:
        with self.services.uow() as uow:
            req = uow.session.get(InformationRequest, rid)
            depts = {req.department.code, req.thread.requester_department.code}
        return sorted(name for name, actor in self.actors.items() if actor.department in depts)

    def _allowed(self, rid: int, who: str) -> list[str]:
        with self.services.uow() as uow:
            req = uow.session.get(InformationRequest, rid)
            return ir.WORKFLOW.allowed_events(req, ir.parties(self.actors[who], req))

    def _payload(self, event, kind, data) -> dict:
        if kind == "none":
            return {}
        if kind == "bad":
            return data.draw(st.sampled_from([{"text": ""}, {"working_days": 0}, {"assignee_id": -1},
                                              {"unexpected": 1}]), label="bad payload")
        return {
            "answer": {"text": "Сведения"},
            "extend_deadline": {"working_days": data.draw(st.integers(1, 10), label="days")},
            "delegate": {"assignee_id": self.user_ids[data.draw(st.sampled_from(["mfc_staff", "it_staff", "econ"]),
                                                                label="assignee")]},
        }.get(event, {})

    @invariant()
    def states_are_allowed_and_history_replays(self):
        with self.services.uow() as uow:
            stored = dict(uow.session.execute(
                select(InformationRequest.id, InformationRequest.state)
                .where(InformationRequest.id.in_(self.ids))).all()) if self.ids else {}
            rows = uow.session.execute(
                select(TransitionRecord.item_id, TransitionRecord.from_state, TransitionRecord.to_state)
                .where(TransitionRecord.workflow == ir.WORKFLOW.name, TransitionRecord.item_id.in_(self.ids))
                .order_by(TransitionRecord.id)).all() if self.ids else []
        replayed = {rid: "draft" for rid in self.ids}
        for item_id, source, target in rows:
            assert source == replayed[item_id], (item_id, source, replayed[item_id])
            assert target in ir.WORKFLOW.states
            replayed[item_id] = target
        assert set(stored) == set(self.ids)
        for rid, state in stored.items():
            assert state in ir.WORKFLOW.states, state
            assert replayed[rid] == state, (rid, replayed[rid], state)


def test_random_event_sequences_keep_the_workflow_and_history_consistent(services, tokens):
    RequestWorkflow.services = services
    RequestWorkflow.fired = Counter()
    run_state_machine_as_test(RequestWorkflow, settings=settings(
        max_examples=30, stateful_step_count=30, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))
    assert {"send", "answer", "accept", "withdraw"} <= set(RequestWorkflow.fired), RequestWorkflow.fired
