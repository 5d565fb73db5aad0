"""Redis stopped and started again (empty) during a stream: the outbox relay catches up."""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from services.models.base import utcnow
from services.models.workflow import OutboxEvent

from tests.conftest import seed
from tests.faults.conftest import (
    RedisServer, Relays, assert_history_consistent, assert_nothing_lost_nothing_twice, build_services, clients,
    counts, lifecycle, stack_env, start_worker, wait_settled,
)

LIFECYCLES = 24


def test_redis_restart_loses_nothing(tmp_path, clean_db, sink):
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    env = stack_env(tmp_path, clean_db, redis_server.url, sink.port)
    services = build_services(tmp_path, env)
    tokens = seed(services)
    it, mfc, _ = clients(services, tokens)
    worker = start_worker(env, tmp_path / "worker.log")
    done: list[int] = []
    failure: list[BaseException] = []
    outage = {"during": 0}
    down = threading.Event()

    def stream():
        try:
            for n in range(LIFECYCLES):
                done.append(lifecycle(it, mfc, f"Поток {n}"))
                if down.is_set():
                    outage["during"] += 1
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)

    try:
        with Relays(services):
            producer = threading.Thread(target=stream)
            producer.start()
            while len(done) < 4 and producer.is_alive():
                time.sleep(0.05)
            redis_server.stop()  # the broker's contents go with it: nothing is persisted
            down.set()
            went_down = utcnow()
            # Longer than one publish attempt against a dead broker (about 6 s), so that
            # requests commit while it is down.
            time.sleep(8)
            came_back = utcnow()
            redis_server.start()
            down.clear()
            producer.join(60)
            assert not failure, failure
            assert len(done) == LIFECYCLES
            wait_settled(services, "the relay to catch up after Redis came back\n" + worker.output()[-3000:])
    finally:
        worker.stop()
        redis_server.stop()
    # The API went on while the broker was down: those commits were only in the outbox.
    with services.uow() as uow:
        during = uow.session.execute(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.created_at > went_down, OutboxEvent.created_at < came_back)).scalar_one()
        republished = uow.session.execute(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.publish_count > 1)).scalar_one()
    assert during >= 1, outage
    # What the dead broker lost (or never got) came back through the relay.
    assert republished >= 1
    assert counts(services) == {"pending_events": 0, "unsent": 0}
    assert_nothing_lost_nothing_twice(services, sink, LIFECYCLES)
    assert_history_consistent(services)
    services.dispose()
