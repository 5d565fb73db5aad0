"""The bench's moving parts on tiny inputs: the floor app and the load generator (no timing here).

The floor app runs on a database of its own, served by werkzeug in a thread and
driven by the same generator `make bench` uses; the lifecycle scenario drives
the real service app the same way. What is checked is what got stored.
"""
from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text
from werkzeug.serving import make_server

from bench import loadgen
from bench.floor_app import create_app, history, items, outbox, setup_database
from services.models.requests import InformationRequest
from tests.conftest import PG_ADMIN_URL, unavailable


@pytest.fixture
def floor_db():
    name = f"interdept_test_floor_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        unavailable("PostgreSQL", exc)
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def serving(app, threaded: bool):
    server = make_server("127.0.0.1", 0, app, threaded=threaded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(10)


def _floor(port: int, token: str, requests: int) -> dict:
    return loadgen.run({"scenario": "floor", "port": port, "token": token, "items": 8, "concurrency": 2,
                        "requests": requests, "seconds": 60})


def test_floor_app_writes_one_locked_transition_per_call_and_refuses_an_unknown_token(floor_db):
    setup_database(floor_db, {7: "good-token"}, 8)
    # threaded: werkzeug then speaks HTTP/1.1 keep-alive, so the generator reuses its connections
    with serving(create_app(floor_db), threaded=True) as port:
        good = _floor(port, "good-token", 12)
        bad = _floor(port, "wrong-token", 3)

    assert good["errors"] == [] and good["done"] == 12 and good["calls"] == 12
    assert len(good["latencies"]) == 12
    assert bad["done"] == 0 and len(bad["errors"]) == 3
    assert all("HTTP 401" in e and "unknown token" in e for e in bad["errors"])
    engine = create_engine(floor_db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(items.c.id, items.c.state, items.c.version)).all()
            assert sum(version - 1 for _, _, version in rows) == 12  # the refused calls changed nothing
            for item_id, state, version in rows:
                assert state == ("accepted" if (version - 1) % 2 else "answered"), item_id
            assert conn.scalar(select(func.count()).select_from(history)) == 12
            assert set(conn.execute(select(history.c.actor_id)).scalars()) == {7}
            assert conn.execute(select(outbox.c.type, func.count()).group_by(outbox.c.type)).all() == [
                ("floor.accept", 12)]
            per_item = dict(conn.execute(select(history.c.item_id, func.count()).group_by(history.c.item_id)).all())
            assert per_item == {item_id: version - 1 for item_id, _, version in rows if version > 1}
    finally:
        engine.dispose()


def test_lifecycle_scenario_takes_requests_through_create_answer_accept(app, tokens, services):
    # one thread, HTTP/1.0: every call on a new connection, as with gunicorn's sync workers
    with serving(app, threaded=False) as port:
        result = loadgen.run({"scenario": "lifecycle", "port": port, "tokens": tokens, "concurrency": 2,
                              "requests": 3, "seconds": 60})
        refused = loadgen.run({"scenario": "lifecycle", "port": port, "concurrency": 1, "requests": 1,
                               "seconds": 60, "tokens": {**tokens, "it": "not-a-token"}})

    assert result["errors"] == [] and result["done"] == 3 and result["calls"] == 9
    assert refused["done"] == 0 and len(refused["errors"]) == 1 and "HTTP 401" in refused["errors"][0]
    with services.uow() as uow:
        states = uow.session.execute(select(InformationRequest.state)).scalars().all()
    assert sorted(states) == ["accepted"] * 3
