"""A 500 never commits: an exception raised late in a transition (after the state, history and audit
rows are written) answers 500 and leaves every table as it was, in the API and in a web form, on
SQLite and PostgreSQL. The fault is a monkeypatched Python function; the database is real."""
from __future__ import annotations

import pytest

from services.adapters import audit
from services.adapters.unit_of_work import UnitOfWork
from tests.conftest import seed
from tests.fuzz.conftest import Browser, set_demo_passwords
from tests.fuzz.test_hostile_inputs import snapshot, diff

SLUG = "kotovsk-information-society"


class Injected(RuntimeError):
    pass


def _fail_on(monkeypatch, where: str, name: str) -> None:
    """``where`` is "outbox" (the last write of a transition) or "audit"; ``name`` the event or action."""
    if where == "outbox":
        real = UnitOfWork.emit

        def emit(self, type_, payload):
            if type_ == name:
                raise Injected(type_)
            return real(self, type_, payload)

        monkeypatch.setattr(UnitOfWork, "emit", emit)
    else:
        real = audit.record

        def record(uow, **kw):
            if kw.get("action") == name:
                raise Injected(name)
            return real(uow, **kw)

        monkeypatch.setattr(audit, "record", record)


@pytest.fixture
def world(any_services):
    from services.web.app import create_app

    tokens = seed(any_services)
    set_demo_passwords(any_services)
    # What production answers (TESTING alone would raise the exception into the test instead).
    app = create_app(services=any_services, test_config={"TESTING": True, "PROPAGATE_EXCEPTIONS": False})
    r = app.test_client().post("/api/v1/requests", headers={"Authorization": f"Bearer {tokens['it']}"}, json={
        "program": SLUG, "subject": "Сведения", "addressees": ["mfc"], "send": True})
    assert r.status_code == 201
    return any_services, app, tokens, r.get_json()["requests"][0]["id"]


@pytest.mark.parametrize("where", ["outbox", "audit"])
def test_an_api_transition_that_fails_late_answers_500_and_changes_nothing(world, monkeypatch, where):
    services, app, tokens, rid = world
    # A token's first use of the hour is written; that write is not the transition's.
    app.test_client().get("/api/v1/me/preferences", headers={"Authorization": f"Bearer {tokens['mfc']}"})
    before = snapshot(services)
    _fail_on(monkeypatch, where, "information_request.answer")
    r = app.test_client().post(f"/api/v1/requests/{rid}/transitions", json={"event": "answer", "data": {"text": "ok"}},
                               headers={"Authorization": f"Bearer {tokens['mfc']}"})
    assert r.status_code == 500 and r.get_json()["error"]["code"] == "internal"
    assert not diff(before, snapshot(services))
    monkeypatch.undo()  # and the same call without the fault goes through: the fault was the only cause
    r = app.test_client().post(f"/api/v1/requests/{rid}/transitions", json={"event": "answer", "data": {"text": "ok"}},
                               headers={"Authorization": f"Bearer {tokens['mfc']}"})
    assert r.status_code == 200


@pytest.mark.parametrize("where", ["outbox", "audit"])
def test_a_web_form_that_fails_late_answers_500_and_changes_nothing(world, monkeypatch, where):
    services, app, tokens, rid = world
    b = Browser(app, "mfc")
    before = snapshot(services)
    _fail_on(monkeypatch, where, "information_request.answer")
    r = b.post_raw(f"/requests/{rid}/answer", [("text", "Ответ"), ("comment", "")])
    assert r.status_code == 500
    assert not diff(before, snapshot(services))
    monkeypatch.undo()
    r = b.post_raw(f"/requests/{rid}/answer", [("text", "Ответ"), ("comment", "")])
    assert r.status_code == 302


def test_creating_a_request_that_fails_late_changes_nothing(world, monkeypatch):
    """The web form that creates a request and sends it: the send's outbox write fails."""
    services, app, tokens, _ = world
    b = Browser(app, "it")
    before = snapshot(services)
    _fail_on(monkeypatch, "outbox", "information_request.send")
    r = b.post_raw("/requests/new", [("program", SLUG), ("subject", "Тема"), ("addressees", "mfc"),
                                     ("working_days", "5"), ("send", "1")])
    assert r.status_code == 500
    assert not diff(before, snapshot(services))
