"""PostgreSQL unreachable during a stream: 503 with Retry-After, never a 500 or half a transition.

The shared server is not restarted (other suites use it): the app and the
worker reach it through a TCP proxy of this test's, which is cut (listener
closed, every open connection aborted) and restored.
"""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select

from services.models.requests import InformationRequest
from tests.conftest import seed
from tests.faults.conftest import (
    PROGRAM, Relays, TcpProxy, assert_history_consistent, assert_nothing_lost_nothing_twice, build_services,
    clients, stack_env, start_worker, wait_settled,
)

LIFECYCLES = 20
OUTAGES = 2


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


class Client:
    """Retries a 503 as a client honouring Retry-After would (sooner, to keep the test short)."""

    def __init__(self, api, statuses: list, retry_after: list):
        self.api, self.statuses, self.retry_after = api, statuses, retry_after

    def call(self, method: str, url: str, body=None):
        for _ in range(400):
            response = getattr(self.api, method)(url, json=body) if body is not None else getattr(self.api, method)(url)
            self.statuses.append(response.status_code)
            if response.status_code != 503:
                return response
            self.retry_after.append(response.headers.get("Retry-After"))
            assert response.json["error"]["code"] == "unavailable"
            time.sleep(0.1)
        raise AssertionError(f"{url} still unavailable")


def _step(client: Client, rid: int, body: dict, target: str) -> None:
    response = client.call("post", f"/api/v1/requests/{rid}/transitions", body)
    if response.status_code == 409:
        # The commit went through but its answer was lost with the connection: the state says so.
        state = client.call("get", f"/api/v1/requests/{rid}").json["state"]
        assert state == target, (rid, body, state)
        return
    assert response.status_code == 200, response.json


def test_database_outage_answers_503_and_work_resumes(tmp_path, clean_db, faults_redis_url, sink):
    target = urlsplit(clean_db)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    env = stack_env(tmp_path, _via(clean_db, proxy.port), faults_redis_url, sink.port)
    services = build_services(tmp_path, env)  # the app and the worker: through the proxy
    direct = build_services(tmp_path, stack_env(tmp_path, clean_db, faults_redis_url, sink.port))
    tokens = seed(direct)
    it_api, mfc_api, _ = clients(services, tokens)
    statuses: list[int] = []
    retry_after: list[str] = []
    it, mfc = Client(it_api, statuses, retry_after), Client(mfc_api, statuses, retry_after)
    worker = start_worker(env, tmp_path / "worker.log")
    done: list[int] = []
    failure: list[BaseException] = []

    def stream():
        try:
            for n in range(LIFECYCLES):
                created = it.call("post", "/api/v1/requests", {
                    "program": PROGRAM, "subject": f"Поток {n}", "addressees": ["mfc"], "send": True})
                assert created.status_code == 201, created.json
                rid = created.json["requests"][0]["id"]
                _step(mfc, rid, {"event": "answer", "data": {"text": "ok"}}, "answered")
                _step(it, rid, {"event": "accept"}, "accepted")
                done.append(rid)
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)

    try:
        with Relays(services):
            producer = threading.Thread(target=stream)
            producer.start()
            # Each outage starts once the stream has made progress, so it always lands mid-stream
            # (a fixed sleep let a fast machine finish all lifecycles before the first cut).
            for n in range(1, OUTAGES + 1):
                progress_by = time.monotonic() + 30
                while len(done) < n * LIFECYCLES // (OUTAGES + 2) and not failure and time.monotonic() < progress_by:
                    time.sleep(0.02)
                proxy.cut()
                time.sleep(2.0)
                proxy.restore()
            producer.join(60)
            assert not failure, failure
            assert len(done) == LIFECYCLES
            wait_settled(direct, "the worker to resume after the outage\n" + worker.output()[-3000:])
    finally:
        worker.stop()
        proxy.close()
    assert 500 not in statuses
    assert set(statuses) <= {200, 201, 409, 503}, sorted(set(statuses))
    assert statuses.count(503) >= OUTAGES, "the outages were not seen by the API"
    assert retry_after and all(value and int(value) > 0 for value in retry_after)
    # Every request is whole; a creation retried after its commit's answer was lost made one more,
    # complete request that nobody followed up (it stays 'sent', its send emails went out once).
    assert_history_consistent(direct)
    with direct.uow() as uow:
        states = dict(uow.session.execute(select(InformationRequest.state, func.count())
                                          .group_by(InformationRequest.state)).all())
    assert states.get("accepted") == LIFECYCLES and set(states) <= {"accepted", "sent"}, states
    assert_nothing_lost_nothing_twice(direct, sink, LIFECYCLES, max_duplicates=OUTAGES,
                                      extra_emails=2 * states.get("sent", 0))
    services.dispose()
    direct.dispose()
