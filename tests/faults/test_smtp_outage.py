"""The SMTP server down, then back: the mail relay retries and every message arrives once."""
from __future__ import annotations

import time

from sqlalchemy import func, select

from services.adapters.mail import mail_relay
from services.models.mail import OutgoingEmail
from tests.conftest import seed
from tests.faults.conftest import (
    Relays, assert_history_consistent, assert_nothing_lost_nothing_twice, build_services, clients, lifecycle,
    stack_env, start_worker, wait_for,
)

LIFECYCLES = 8


def _states(services) -> dict[str, int]:
    with services.uow() as uow:
        return dict(uow.session.execute(select(OutgoingEmail.state, func.count()).group_by(OutgoingEmail.state)).all())


def test_smtp_down_then_back_delivers_everything_once(tmp_path, clean_db, faults_redis_url, sink):
    env = stack_env(tmp_path, clean_db, faults_redis_url, sink.port)
    services = build_services(tmp_path, env)
    tokens = seed(services)
    it, mfc, _ = clients(services, tokens)
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        with Relays(services, mail=False):  # the outbox relay only: mail is retried below, as beat would
            lifecycle(it, mfc, "До отказа")
            wait_for(lambda: _states(services) == {"sent": 5}, timeout=30, what="the first five emails")
            sink.down()
            for n in range(LIFECYCLES - 1):
                lifecycle(it, mfc, f"Во время отказа {n}")
            expected = 5 * LIFECYCLES
            wait_for(lambda: _states(services).get("retrying") == expected - 5, timeout=30,
                     what=f"the worker's attempts to fail and be scheduled again\n{worker.output()[-2000:]}")
            assert mail_relay(services) == 0  # nothing is due yet: the backoff holds them
            sink.up()
            # Back: the relay sends each message once it is due (first backoff: 5-10 s).
            deadline = time.monotonic() + 30
            while _states(services) != {"sent": expected} and time.monotonic() < deadline:
                mail_relay(services)
                time.sleep(0.5)
            assert _states(services) == {"sent": expected}
    finally:
        worker.stop()
    with services.uow() as uow:
        attempts = uow.session.execute(select(OutgoingEmail.attempts)).scalars().all()
    assert sorted(set(attempts)) == [1, 2]  # the five before the outage once, the others twice
    assert_nothing_lost_nothing_twice(services, sink, LIFECYCLES)
    assert_history_consistent(services)
    services.dispose()
