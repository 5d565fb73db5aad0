"""A Celery worker SIGKILLed again and again while it handles a stream of events."""
from __future__ import annotations

import random
import threading
import time

from tests.conftest import seed
from tests.faults.conftest import (
    Relays, assert_history_consistent, assert_nothing_lost_nothing_twice, build_services, clients, lifecycle,
    stack_env, start_worker, wait_settled,
)

LIFECYCLES = 30
KILLS = 5


def test_worker_sigkilled_repeatedly_loses_nothing_and_does_nothing_twice(tmp_path, clean_db, faults_redis_url,
                                                                          sink):
    env = stack_env(tmp_path, clean_db, faults_redis_url, sink.port)
    services = build_services(tmp_path, env)
    tokens = seed(services)
    it, mfc, _ = clients(services, tokens)
    rng = random.Random(9)
    workers = [start_worker(env, tmp_path / "worker-0.log")]
    done: list[int] = []
    failure: list[BaseException] = []

    def stream():
        try:
            for n in range(LIFECYCLES):
                done.append(lifecycle(it, mfc, f"Поток {n}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)

    kills = 0
    try:
        with Relays(services):
            producer = threading.Thread(target=stream)
            producer.start()
            while kills < KILLS:
                time.sleep(rng.uniform(0.6, 1.4))
                # SIGKILL: no chance to finish the task, ack it or mark anything.
                workers[-1].kill()
                kills += 1
                workers.append(start_worker(env, tmp_path / f"worker-{kills}.log"))
            producer.join(60)
            assert not failure, failure
            assert len(done) == LIFECYCLES
            wait_settled(services, "events and mail after the kills\n" + workers[-1].output()[-2000:])
    finally:
        for worker in workers:
            worker.stop()
    assert kills == KILLS
    assert all(w.proc.returncode is not None for w in workers)
    # At most one email per kill can be in the SMTP-accepted-but-not-marked window.
    assert_nothing_lost_nothing_twice(services, sink, LIFECYCLES, max_duplicates=KILLS)
    assert_history_consistent(services)
    services.dispose()
