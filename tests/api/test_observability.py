"""/metrics, /readyz and request ids over HTTP: the figures are the database's, counted by hand too.

The services here never deliver events (no publisher), so the outbox backlog stays until a test
handles the events itself, as a stopped worker would leave it.
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, update

from services.deadlines import sweep
from services.events.outbox import handle_event
from services.models.base import utcnow
from services.models.jobs import JobRun
from services.models.mail import OutgoingEmail
from services.models.workflow import OutboxEvent, TransitionRecord
from services.web.app import create_app
from tests.conftest import ApiClient, seed
from tests.metrics_text import by_label, samples, value

SLUG = "kotovsk-information-society"


@pytest.fixture
def quiet(services):
    """The services with nobody delivering events: what a stopped worker leaves."""
    services.publisher = None
    return services


@pytest.fixture
def client(quiet):
    return create_app(services=quiet, test_config={"TESTING": True}).test_client()


def _create(api: ApiClient, subject: str, headers=None) -> int:
    response = api.post("/api/v1/requests", headers=headers, json={
        "program": SLUG, "subject": subject, "addressees": ["mfc"], "send": True,
        "form": [{"key": "visits", "label": "Посещений", "type": "integer", "required": True}],
    })
    assert response.status_code == 201, response.json
    return response.json["requests"][0]["id"]


def _scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


def _db_backlog(services) -> int:
    with services.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(OutboxEvent)
                                   .where(OutboxEvent.completed_at.is_(None))).scalar_one()


def _db_transitions(services) -> dict[tuple[str, str], int]:
    with services.uow() as uow:
        rows = uow.session.execute(select(TransitionRecord.workflow, TransitionRecord.event, func.count())
                                   .group_by(TransitionRecord.workflow, TransitionRecord.event)).all()
    return {(w, e): n for w, e, n in rows}


def _scraped_transitions(scrape) -> dict[tuple[str, str], int]:
    return {(dict(labels)["workflow"], dict(labels)["event"]): int(v)
            for (name, labels), v in scrape.items() if name == "interdept_transitions_total"}


def test_outbox_backlog_and_its_oldest_age_are_the_databases(quiet, client):
    tokens = seed(quiet)
    it = ApiClient(client, tokens["it"])
    before = _scrape(client)
    assert value(before, "interdept_outbox_unfinished_events") == 0
    assert value(before, "interdept_outbox_oldest_unfinished_age_seconds") == 0

    _create(it, "Посещаемость сайта")
    _create(it, "Обращения граждан")
    scrape = _scrape(client)
    backlog = _db_backlog(quiet)
    # Each created-and-sent request leaves its "send" event for the worker (its emails).
    assert backlog == 2
    assert value(scrape, "interdept_outbox_unfinished_events") == backlog
    assert value(scrape, "interdept_outbox_failing_events") == 0

    with quiet.uow() as uow:
        first = uow.session.execute(select(OutboxEvent).where(OutboxEvent.completed_at.is_(None))
                                    .order_by(OutboxEvent.created_at)).scalars().first()
        uow.session.execute(update(OutboxEvent).where(OutboxEvent.id == first.id)
                            .values(created_at=utcnow() - timedelta(minutes=10), last_error="smtp: down"))
        uow.commit()
    scrape = _scrape(client)
    assert 600 <= value(scrape, "interdept_outbox_oldest_unfinished_age_seconds") < 660
    assert value(scrape, "interdept_outbox_failing_events") == 1

    with quiet.uow() as uow:
        pending = list(uow.session.execute(select(OutboxEvent.id).where(OutboxEvent.completed_at.is_(None)))
                       .scalars())
    for event_id in pending:
        handle_event(quiet, event_id)
    scrape = _scrape(client)
    assert _db_backlog(quiet) == 0
    assert value(scrape, "interdept_outbox_unfinished_events") == 0
    assert value(scrape, "interdept_outbox_oldest_unfinished_age_seconds") == 0
    assert value(scrape, "interdept_outbox_failing_events") == 0


def test_emails_by_state_are_counted_from_the_table(quiet, client):
    seed(quiet)
    wanted = {"queued": 3, "sending": 1, "sent": 2, "retrying": 0, "failed": 4}
    with quiet.uow() as uow:
        n = 0
        for state, count in wanted.items():
            for _ in range(count):
                n += 1
                uow.session.add(OutgoingEmail(dedupe_key=f"metrics-test-{n}", message_id=f"<{n}@test>",
                                              recipient="x@kotovsk.example", subject="s", text_body="t",
                                              html_body="h", state=state))
        uow.commit()
    assert by_label(_scrape(client), "interdept_emails", "state") == {k: float(v) for k, v in wanted.items()}


def test_transitions_by_workflow_and_event_match_the_history_also_once_settled(quiet, client):
    tokens = seed(quiet)
    it, mfc = ApiClient(client, tokens["it"]), ApiClient(client, tokens["mfc"])
    first = _create(it, "Посещаемость сайта")
    _create(it, "Обращения граждан")
    answered = mfc.post(f"/api/v1/requests/{first}/transitions", json={"event": "answer", "data": {"visits": 5}})
    assert answered.status_code == 200, answered.json

    expected = {("information_request", "send"): 2, ("information_request", "answer"): 1}
    assert _db_transitions(quiet) == expected
    assert _scraped_transitions(_scrape(client)) == expected

    # Rows older than the settling window are folded into the process's totals and not counted again.
    with quiet.uow() as uow:
        uow.session.execute(update(TransitionRecord).values(at=utcnow() - timedelta(hours=1)))
        uow.commit()
    assert _scraped_transitions(_scrape(client)) == expected
    accepted = it.post(f"/api/v1/requests/{first}/transitions", json={"event": "accept"})
    assert accepted.status_code == 200, accepted.json
    expected[("information_request", "accept")] = 1
    assert _scraped_transitions(_scrape(client)) == expected == _db_transitions(quiet)
    assert _scraped_transitions(_scrape(client)) == expected  # a second scrape adds nothing


def test_http_requests_are_counted_by_url_rule_and_status_never_by_raw_path(quiet, client):
    tokens = seed(quiet)
    it, mfc = ApiClient(client, tokens["it"]), ApiClient(client, tokens["mfc"])
    rid = _create(it, "Посещаемость сайта")
    route = "/api/v1/requests/<int:request_id>/transitions"
    before = _scrape(client)
    ok = mfc.post(f"/api/v1/requests/{rid}/transitions", json={"event": "answer", "data": {"visits": 5}})
    again = mfc.post(f"/api/v1/requests/{rid}/transitions", json={"event": "answer", "data": {"visits": 6}})
    assert (ok.status_code, again.status_code) == (200, 409)
    assert client.get("/no/such/page/4711").status_code == 404
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    after = samples(text)

    def delta(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert delta("interdept_http_requests_total", route=route, method="POST", status="200") == 1
    assert delta("interdept_http_requests_total", route=route, method="POST", status="409") == 1
    assert delta("interdept_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("interdept_http_request_duration_seconds_count", route=route, method="POST") == 2
    assert delta("interdept_http_request_duration_seconds_sum", route=route, method="POST") > 0
    # Only in a label (a float's digits may hold "4711" by chance: 0.540724711… was a flake).
    labels = " ".join(re.findall(r"\{[^}]*\}", text))
    assert f"/api/v1/requests/{rid}/" not in labels and "4711" not in labels
    assert value(after, "interdept_http_metrics_multiprocess") == 0  # this test process only
    assert value(after, "interdept_database_up") == 1


def test_each_reminder_sweep_is_timed_and_counted(quiet, client):
    seed(quiet)
    assert value(_scrape(client), "interdept_job_runs_total", job="reminder_sweep") is None
    sweep(quiet)
    sweep(quiet)
    scrape = _scrape(client)
    with quiet.uow() as uow:
        runs, total = uow.session.execute(select(JobRun.runs, JobRun.total_seconds)
                                          .where(JobRun.name == "reminder_sweep")).one()
    assert runs == 2
    assert value(scrape, "interdept_job_runs_total", job="reminder_sweep") == 2
    assert value(scrape, "interdept_job_duration_seconds_total", job="reminder_sweep") == pytest.approx(total)
    assert 0 < value(scrape, "interdept_job_last_duration_seconds", job="reminder_sweep") <= total
    assert abs(value(scrape, "interdept_job_last_finished_timestamp_seconds", job="reminder_sweep")
               - time.time()) < 60


def test_metrics_want_the_token_when_one_is_configured(quiet):
    quiet.settings = dataclasses.replace(quiet.settings, metrics_token="s3cret-metrics")
    client = create_app(services=quiet, test_config={"TESTING": True}).test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json["error"]["code"] == "unauthorized"
    assert "Authorization: Bearer" in wrong.json["error"]["message"]
    good = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert good.status_code == 200
    assert value(samples(good.get_data(as_text=True)), "interdept_database_up") == 1


def test_a_sane_request_id_is_kept_an_insane_one_replaced_and_both_reach_the_outbox(quiet, client):
    tokens = seed(quiet)
    it = ApiClient(client, tokens["it"])
    rid = _create(it, "Посещаемость сайта", headers={"X-Request-Id": "gw-2026/12/02:abc-123"})
    with quiet.uow() as uow:
        events = uow.session.execute(select(OutboxEvent.type, OutboxEvent.request_id)
                                     .where(OutboxEvent.payload["item_id"].as_integer() == rid)).all()
    assert events and {request_id for _, request_id in events} == {"gw-2026/12/02:abc-123"}

    response = it.post(f"/api/v1/requests/{rid}/transitions", headers={"X-Request-Id": "bad id\" <script>"},
                       json={"event": "withdraw"})
    assert response.status_code == 200, response.json
    generated = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    with quiet.uow() as uow:
        ids = set(uow.session.execute(select(OutboxEvent.request_id)).scalars())
    assert ids == {"gw-2026/12/02:abc-123", generated}
    for header in ("", "x" * 129, "привет", "a\tb"):
        echoed = client.get("/healthz", headers={"X-Request-Id": header}).headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", echoed), header
    assert client.get("/healthz").headers["X-Request-Id"] != client.get("/healthz").headers["X-Request-Id"]
    assert client.get("/healthz", headers={"X-Request-Id": "x" * 128}).headers["X-Request-Id"] == "x" * 128


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own on a free port, which the test may stop."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("!!! SKIPPED, NO SERVER: redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield proc, f"redis://127.0.0.1:{port}/0"
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def test_readyz_names_the_broker_when_it_is_down(quiet, own_redis):
    proc, url = own_redis
    quiet.settings = dataclasses.replace(quiet.settings, broker_url=url)
    client = create_app(services=quiet, test_config={"TESTING": True}).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}

    proc.terminate()
    proc.wait(10)
    started = time.monotonic()
    down = client.get("/readyz")
    assert time.monotonic() - started < 10
    assert down.status_code == 503
    assert down.json["status"] == "unavailable"
    assert down.json["failed"] == ["broker"]
    assert down.json["checks"] == {"database": "ok", "broker": "unavailable"}
    assert down.json["error"] == {"code": "not_ready", "message": "Сервис не готов: недоступен брокер сообщений."}
    assert down.headers["Retry-After"] == "5"
    assert "127.0.0.1" not in down.get_data(as_text=True)  # the reason goes to the log, not to the caller
    assert client.get("/healthz").status_code == 200  # liveness does not depend on the broker


def test_readyz_names_the_database_when_it_is_down(quiet):
    client = create_app(services=quiet, test_config={"TESTING": True}).test_client()
    assert client.get("/readyz").status_code == 200
    quiet.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                 connect_args={"connect_timeout": 2})
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json["failed"] == ["database"]
    assert down.json["checks"] == {"database": "unavailable", "broker": "ok"}
    assert down.json["error"]["message"] == "Сервис не готов: недоступна база данных."
