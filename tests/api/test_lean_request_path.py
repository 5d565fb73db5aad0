"""The lean request path (issue 17 item 3): what one authenticated API call costs the database.

Counted with SQLAlchemy events on the real server: pool checkouts, pre-pings, BEGINs, statements, and
the token lookups. Budgets, not timings: a change that adds a statement or a checkout fails here.
"""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import event, select, text

from services.adapters import db
from services.models.requests import InformationRequest
from services.models.workflow import TransitionRecord
from tests.conftest import _truncate_all, make_services, make_settings, seed

PROGRAM = "kotovsk-information-society"
# Statements per call of the bench's lifecycle (token lookup included); measured 16 / 10 / 9.
BUDGET = {"create+send": 16, "answer": 10, "accept": 9}


class Counted:
    def __init__(self, engine):
        self.n = Counter()
        self.sql: list[str] = []
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", lambda conn: self.n.update(["begin"]))
        event.listen(engine.pool, "checkout", lambda *a: self.n.update(["checkout"]))
        original = engine.dialect.do_ping

        def ping(dbapi_connection):
            self.n["ping"] += 1
            return original(dbapi_connection)

        engine.dialect.do_ping = ping

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        self.n["sql"] += 1
        self.sql.append(statement)

    def around(self, call):
        self.n.clear()
        self.sql.clear()
        response = call()
        return response, Counter(self.n), list(self.sql)


@pytest.fixture
def pg(tmp_path, pg_url):
    """PostgreSQL, and no broker: the web side's own work only (the worker's handlers do not run inline)."""
    _truncate_all(pg_url)
    services = make_services(make_settings(tmp_path, pg_url), publisher=lambda ids: None)
    yield services
    services.dispose()


@pytest.fixture
def lean(pg):
    from services.web.app import create_app

    tokens = seed(pg)
    app = create_app(services=pg, test_config={"TESTING": True})
    client = app.test_client()
    it = {"Authorization": f"Bearer {tokens['it']}"}
    mfc = {"Authorization": f"Bearer {tokens['mfc']}"}
    # Warm: each token's hourly last_used_at write, lazy imports and caches are behind us.
    rid = client.post("/api/v1/requests", headers=it, json={
        "program": PROGRAM, "subject": "Разогрев", "addressees": ["mfc"], "send": True}).get_json()["requests"][0]["id"]
    client.post(f"/api/v1/requests/{rid}/transitions", headers=mfc, json={"event": "answer", "data": {"text": "x"}})
    return pg, client, it, mfc, Counted(pg.engine)


def _lifecycle(client, it, mfc, counted):
    created, c1, s1 = counted.around(lambda: client.post("/api/v1/requests", headers=it, json={
        "program": PROGRAM, "subject": "Бюджет", "body": "Сведения.", "addressees": ["mfc"], "send": True}))
    assert created.status_code == 201, created.get_json()
    rid = created.get_json()["requests"][0]["id"]
    answered, c2, s2 = counted.around(lambda: client.post(
        f"/api/v1/requests/{rid}/transitions", headers=mfc, json={"event": "answer", "data": {"text": "ok"}}))
    assert answered.status_code == 200, answered.get_json()
    accepted, c3, s3 = counted.around(lambda: client.post(
        f"/api/v1/requests/{rid}/transitions", headers=it, json={"event": "accept"}))
    assert accepted.status_code == 200, accepted.get_json()
    return rid, {"create+send": (c1, s1, created), "answer": (c2, s2, answered), "accept": (c3, s3, accepted)}


def test_one_checkout_one_transaction_no_ping_per_authenticated_call(lean):
    _pg, client, it, mfc, counted = lean
    _rid, calls = _lifecycle(client, it, mfc, counted)
    for kind, (n, _sql, _response) in calls.items():
        assert n["checkout"] == 1, (kind, n)
        assert n["begin"] == 1, (kind, n)  # the token lookup and the view in one transaction
        assert n["ping"] == 0, (kind, n)


def test_the_token_is_found_by_one_query(lean):
    _pg, client, it, mfc, counted = lean
    _rid, calls = _lifecycle(client, it, mfc, counted)
    for kind, (_n, sql, _response) in calls.items():
        lookups = [s for s in sql if "api_tokens" in s]
        assert len(lookups) == 1, (kind, lookups)
        assert "token_hash" in lookups[0] and "JOIN users" in lookups[0], lookups[0]  # its user joined


def test_statement_budget_per_call(lean):
    _pg, client, it, mfc, counted = lean
    _rid, calls = _lifecycle(client, it, mfc, counted)
    for kind, (n, sql, _response) in calls.items():
        assert n["sql"] <= BUDGET[kind], (kind, n["sql"], sql)


def test_the_response_is_built_without_extra_queries(lean):
    _pg, client, it, mfc, counted = lean
    _rid, calls = _lifecycle(client, it, mfc, counted)
    answer_sql = calls["answer"][1]
    accept_sql = calls["accept"][1]
    # answer: the answer it made is the response's; accept: read once (indicator actuals and response).
    assert not [s for s in answer_sql if s.lstrip().upper().startswith("SELECT") and "request_answers" in s]
    assert len([s for s in accept_sql if s.lstrip().upper().startswith("SELECT") and "request_answers" in s]) == 1
    assert calls["answer"][2].get_json()["answer"]["data"] == {"text": "ok"}
    assert calls["accept"][2].get_json()["answer"]["data"] == {"text": "ok"}
    created = calls["create+send"][1]
    assert len([s for s in created if "FROM request_threads" in s and "FOR" in s]) == 1  # the thread locked once
    assert not [s for s in created if "reminder_steps" in s and not s.lstrip().upper().startswith("INSERT")]


def test_pool_has_no_pre_ping_and_idle_connections_are_pinged(pg, monkeypatch):
    assert pg.engine.pool._pre_ping is False
    counted = Counted(pg.engine)
    with pg.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    with pg.engine.connect() as conn:  # fresh: given back a moment ago
        conn.execute(text("SELECT 1"))
    assert counted.n["ping"] == 0
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", -1.0)  # every pooled connection now counts as idle
    with pg.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert counted.n["ping"] == 1


def test_a_dead_pooled_connection_is_replaced_without_an_error(lean):
    """The database dropped every pooled connection (a restart): the next call still succeeds, its token
    lookup retried on a new connection, and nothing is done twice."""
    pg, client, it, mfc, counted = lean
    # Terminate the pooled connections' backends from outside the pool (this test session's database).
    import psycopg

    from bench.measure import libpq_url
    with psycopg.connect(libpq_url(pg.settings.database_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    response = client.post("/api/v1/requests", headers=it, json={
        "program": PROGRAM, "subject": "После перезапуска", "addressees": ["mfc"], "send": True})
    assert response.status_code == 201, response.get_json()
    rid = response.get_json()["requests"][0]["id"]
    with pg.uow() as uow:
        assert uow.session.execute(select(InformationRequest.state).where(InformationRequest.id == rid)).scalar_one() \
            == "sent"
        assert len(uow.session.execute(select(TransitionRecord).where(
            TransitionRecord.workflow == "information_request", TransitionRecord.item_id == rid)).scalars().all()) == 1


def test_a_refused_transition_in_the_shared_transaction_changes_nothing(lean):
    pg, client, it, mfc, counted = lean
    rid, _calls = _lifecycle(client, it, mfc, counted)
    with pg.uow() as uow:
        before = uow.session.execute(select(InformationRequest.version).where(InformationRequest.id == rid)).scalar_one()
    refused = client.post(f"/api/v1/requests/{rid}/transitions", headers=it, json={"event": "accept"})
    assert refused.status_code == 409
    with pg.uow() as uow:
        assert uow.session.execute(select(InformationRequest.version).where(InformationRequest.id == rid)).scalar_one() \
            == before


def test_a_500_after_the_writes_commits_nothing(lean, monkeypatch):
    """The view's writes and the auth read share the request's transaction: a failure rolls it all back."""
    pg, client, it, mfc, counted = lean
    from services.web.api import requests as api

    def broken(*args, **kwargs):
        raise RuntimeError("the response could not be built")

    monkeypatch.setattr(api, "request_view", broken)
    with pg.uow() as uow:
        threads_before = uow.session.execute(text("SELECT count(*) FROM request_threads")).scalar_one()
    response = client.post("/api/v1/requests", headers=it, json={
        "program": PROGRAM, "subject": "Сбой", "addressees": ["mfc"], "send": True})
    assert response.status_code == 500
    with pg.uow() as uow:
        assert uow.session.execute(text("SELECT count(*) FROM request_threads")).scalar_one() == threads_before
    # The request's connection went back to the pool clean: the next call works.
    monkeypatch.undo()
    ok = client.post("/api/v1/requests", headers=it, json={
        "program": PROGRAM, "subject": "Снова", "addressees": ["mfc"], "send": True})
    assert ok.status_code == 201
