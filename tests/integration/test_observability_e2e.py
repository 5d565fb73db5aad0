"""Observability on the real stack: PostgreSQL, Redis, a Celery worker process, gunicorn's workers.

- /metrics shows the outbox backlog rise while the worker is stopped and fall once it runs;
- the request id of the HTTP request reaches the outbox rows and the worker's JSON log lines;
- under gunicorn with two workers, the HTTP figures add up both (multiprocess mode).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from services.models.workflow import OutboxEvent
from services.web.app import create_app
from tests.conftest import ApiClient, _truncate_all, make_services, make_settings, seed
from tests.integration.conftest import WorkerProcess, _free_port, wait_for
from tests.metrics_text import samples, value

PROGRAM = "kotovsk-information-society"


@pytest.fixture
def stopped_stack(tmp_path, pg_url, redis_url, smtp):
    """Production wiring (Celery publisher over Redis, SMTP) with a worker that is not running yet."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    _truncate_all(pg_url)
    env = {
        "DATABASE_URL": pg_url,
        "CELERY_BROKER_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "INTERDEPT_VAR_DIR": str(tmp_path / "var"),
        "INTERDEPT_OUTBOX_REPUBLISH_AFTER": "2",
        "INTERDEPT_QUEUE": f"interdept-test-{uuid.uuid4().hex[:8]}",
        "INTERDEPT_LOG_FORMAT": "json",
    }
    settings = make_settings(tmp_path, pg_url, **{k: v for k, v in env.items() if k != "DATABASE_URL"})
    services = make_services(settings, eager=False)
    worker = WorkerProcess({**os.environ, **env}, tmp_path / "worker.log")
    yield services, worker
    if worker.proc is not None:
        worker.stop()
    services.dispose()


def _backlog(client) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200
    return value(samples(response.get_data(as_text=True)), "interdept_outbox_unfinished_events")


def _db_backlog(services) -> int:
    with services.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(OutboxEvent)
                                   .where(OutboxEvent.completed_at.is_(None))).scalar_one()


def _json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_metrics_show_the_backlog_rise_while_the_worker_is_stopped_and_fall_when_it_runs(stopped_stack, smtp):
    services, worker = stopped_stack
    tokens = seed(services)
    client = create_app(services=services).test_client()
    it = ApiClient(client, tokens["it"])
    assert _backlog(client) == 0

    request_ids = [f"e2e-{uuid.uuid4().hex[:8]}-{n}" for n in range(3)]
    item_ids = []
    for n, request_id in enumerate(request_ids):
        created = it.post("/api/v1/requests", headers={"X-Request-Id": request_id}, json={
            "program": PROGRAM, "subject": f"Посещаемость сайта {n + 1}", "addressees": ["mfc"], "send": True,
            "form": [{"key": "visits", "label": "Посещений", "type": "integer", "required": True}],
        })
        assert created.status_code == 201, created.json
        assert created.headers["X-Request-Id"] == request_id
        item_ids.append(created.json["requests"][0]["id"])
        assert _backlog(client) == n + 1 == _db_backlog(services)
    time.sleep(1.5)  # nobody is handling them: the backlog stays, and ages
    assert _backlog(client) == 3
    age = value(samples(client.get("/metrics").get_data(as_text=True)),
                "interdept_outbox_oldest_unfinished_age_seconds")
    assert age >= 1.5

    with services.uow() as uow:
        pending = {e.id: e.request_id for e in uow.session.execute(
            select(OutboxEvent).where(OutboxEvent.completed_at.is_(None))).scalars()}
    assert sorted(pending.values()) == sorted(request_ids)

    worker.start()
    wait_for(lambda: _backlog(client) == 0, timeout=60,
             what=f"the backlog in /metrics to fall to 0\n{worker.output()[-3000:]}")
    assert _db_backlog(services) == 0
    wait_for(lambda: len(smtp.messages) >= 6, what="2 emails per request at the SMTP server")

    lines = _json_lines(worker.output())
    assert lines, worker.output()[-2000:]
    handled = {line["event_id"]: line for line in lines if line.get("message", "").startswith("handling event")}
    for event_id, request_id in pending.items():
        assert event_id in handled, f"no log line for {event_id}\n{worker.output()[-3000:]}"
        assert handled[event_id]["request_id"] == request_id
        assert handled[event_id]["logger"] == "services.events.outbox"
    # Celery's own lines are JSON too (the worker's logging is ours when INTERDEPT_LOG_FORMAT=json).
    assert any(line["logger"].startswith("celery") for line in lines)


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_gunicorn_workers_add_up_their_http_figures(tmp_path, pg_url):
    _truncate_all(pg_url)
    port = _free_port()
    var = tmp_path / "var"
    (var / "metrics").mkdir(parents=True)
    (var / "metrics" / "counter_99999.db").write_bytes(b"stale")  # a previous run's: removed at start
    env = {**os.environ, "DATABASE_URL": pg_url, "INTERDEPT_VAR_DIR": str(var),
           "CELERY_BROKER_URL": "filesystem://"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(tmp_path / "web.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "web", "--port", str(port), "--workers", "2"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                return _get(f"{base}/readyz", timeout=1)[0] == 200
            except OSError:
                return False
        wait_for(up, timeout=60, what=f"gunicorn to answer\n{(tmp_path / 'web.log').read_text()[-2000:]}")
        assert not (var / "metrics" / "counter_99999.db").exists()
        # Eight callers at once keep both sync workers busy, so each answers some of the 40.
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: _get(f"{base}/healthz")[0], range(40)))
        assert statuses == [200] * 40
        pids = set()
        for _ in range(10):  # ask until both workers have answered a scrape (and so both have files)
            status, text = _get(f"{base}/metrics")
            assert status == 200
            scrape = samples(text)
            pids |= {p.name for p in (var / "metrics").glob("*.db")}
        assert value(scrape, "interdept_http_metrics_multiprocess") == 1
        # Each of the 40 calls was answered by one worker or the other; the scrape adds both up.
        assert value(scrape, "interdept_http_requests_total", route="/healthz", method="GET", status="200") == 40
        assert value(scrape, "interdept_http_request_duration_seconds_count", route="/healthz", method="GET") == 40
        assert len({name.rsplit("_", 1)[1] for name in pids}) >= 2, pids  # two workers wrote figures
        assert value(scrape, "interdept_database_up") == 1
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
