"""The worker drains the outbox in batches: one transaction per batch, a failing event backs off
alone, concurrent drains never share an event, and one SMTP connection serves many batches."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event, func, select, update

from services.adapters.mail import queue_email
from services.adapters.mailers import SmtpMailer
from services.events.outbox import Handler, drain, relay
from services.models.base import utcnow
from services.models.mail import OutgoingEmail
from services.models.workflow import HandledEvent, OutboxEvent
from tests.conftest import _truncate_all, make_services, make_settings
from tests.integration.conftest import wait_for
from tests.smtp_sink import SmtpSink

PING = "test.ping"


def _quiet(services):
    """Events stay in the outbox until a drain: no in-process handling, no broker."""
    services.publisher = lambda ids: None
    return services


def _emit(services, n: int, **payload) -> list[str]:
    with services.uow() as uow:
        ids = [uow.emit(PING, {"n": i, **payload}).id for i in range(n)]
        uow.commit()
    return ids


def _marks(services) -> list[tuple[str, str]]:
    with services.uow() as uow:
        return [tuple(row) for row in uow.session.execute(select(HandledEvent.event_id, HandledEvent.handler))]


def _rows(services) -> dict[str, OutboxEvent]:
    with services.uow() as uow:
        rows = list(uow.session.execute(select(OutboxEvent)).scalars())
        for row in rows:
            uow.session.expunge(row)
        return {row.id: row for row in rows}


class Calls:
    def __init__(self):
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def handler(self, name: str, fail_when=lambda event: False, email: bool = False, pause: float = 0.0):
        def fn(uow, event, services):
            with self._lock:
                self.seen.append((event.id, name))
            if email:
                queue_email(uow, services, dedupe_key=f"{name}:{event.id}", recipient="someone@example.org",
                            template="password_changed", context={"name": event.id, "at": "now"})
            if pause:
                time.sleep(pause)
            if fail_when(event):
                raise RuntimeError(f"poison {event.payload['n']}")
        return Handler(name, fn)


def _count_commits(engine):
    commits = []
    sa_event.listen(engine, "commit", lambda conn: commits.append(1))
    return commits


def test_a_batch_is_handled_in_one_drain_and_one_transaction_each_mark_once(any_services):
    services = _quiet(any_services)
    calls = Calls()
    services.event_handlers = {PING: (calls.handler("t.first"), calls.handler("t.second"))}
    ids = _emit(services, 12)
    commits = _count_commits(services.engine)

    done = drain(services, batch_size=50)

    assert (done.claimed, done.completed, done.failed) == (12, 12, 0)
    assert len(commits) == 1  # claim, both handlers on all 12 events, marks, completion
    assert sorted(_marks(services)) == sorted((i, h) for i in ids for h in ("t.first", "t.second"))
    assert all(row.completed_at is not None and row.attempts == 0 for row in _rows(services).values())
    assert drain(services).claimed == 0
    assert len(calls.seen) == 24


def test_batches_follow_each_other_until_one_comes_back_short(any_services):
    services = _quiet(any_services)
    calls = Calls()
    services.event_handlers = {PING: (calls.handler("t.only"),)}
    _emit(services, 25)
    commits = _count_commits(services.engine)

    done = drain(services, batch_size=10)

    assert (done.claimed, done.completed) == (25, 25)
    assert len(commits) == 3
    assert len(set(_marks(services))) == 25 == len(calls.seen)


def test_a_poison_event_backs_off_alone_and_succeeds_on_a_later_drain_once_due(any_services):
    services = _quiet(any_services)
    calls = Calls()
    poisoned = {"on": True}
    services.event_handlers = {PING: (
        calls.handler("t.ok", email=True),
        # queues its email, then fails: the email goes back with the savepoint
        calls.handler("t.flaky", email=True, fail_when=lambda e: poisoned["on"] and e.payload["n"] == 2),
    )}
    ids = _emit(services, 5)
    poison = ids[2]
    before = utcnow()

    done = drain(services)

    assert (done.claimed, done.completed, done.failed) == (5, 4, 1)
    rows = _rows(services)
    assert [i for i, row in rows.items() if row.completed_at is None] == [poison]
    row = rows[poison]
    assert row.attempts == 1
    assert "t.flaky" in row.last_error and "poison 2" in row.last_error
    assert before + timedelta(seconds=1) <= row.next_attempt_at <= utcnow() + timedelta(seconds=2)
    assert done.next_due == row.next_attempt_at
    marks = set(_marks(services))
    assert (poison, "t.ok") in marks and (poison, "t.flaky") not in marks
    with services.uow() as uow:
        keys = set(uow.session.execute(select(OutgoingEmail.dedupe_key)).scalars())
    assert f"t.flaky:{poison}" not in keys and f"t.ok:{poison}" in keys and len(keys) == 9

    # Not due yet: neither a drain nor the relay touches it.
    assert drain(services).claimed == 0
    assert relay(services, now=utcnow() + timedelta(seconds=0.5)) == 0

    poisoned["on"] = False
    wait_for(lambda: utcnow() >= row.next_attempt_at, timeout=5, what="the backoff to pass")
    again = drain(services)
    assert (again.claimed, again.completed, again.failed) == (1, 1, 0)
    row = _rows(services)[poison]
    assert row.completed_at is not None and row.last_error is None
    assert row.attempts == 1  # the history of failures stays readable
    assert sorted(_marks(services)) == sorted((i, h) for i in ids for h in ("t.ok", "t.flaky"))
    # t.ok did not run again on the poison event: its mark was there
    assert calls.seen.count((poison, "t.ok")) == 1
    assert calls.seen.count((poison, "t.flaky")) == 2
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(OutgoingEmail)).scalar_one() == 10


def test_a_repeated_failure_backs_off_further(any_services):
    services = _quiet(any_services)
    calls = Calls()
    services.event_handlers = {PING: (calls.handler("t.bad", fail_when=lambda e: True),)}
    [event_id] = _emit(services, 1)
    for attempts in (1, 2, 3):
        with services.uow() as uow:  # due now
            uow.session.execute(update(OutboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            uow.commit()
        start = utcnow()
        assert drain(services).failed == 1
        row = _rows(services)[event_id]
        assert row.attempts == attempts
        step = 2.0 * 2 ** (attempts - 1)
        assert start + timedelta(seconds=step / 2) <= row.next_attempt_at <= utcnow() + timedelta(seconds=step)


@pytest.fixture
def counting_sink():
    sink = SmtpSink().up()
    yield sink
    sink.down()


def _smtp_services(tmp_path, pg_url, sink, name="a"):
    settings = make_settings(tmp_path / name, pg_url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port))
    services = _quiet(make_services(settings, eager=False))
    assert isinstance(services.mailer, SmtpMailer)
    services.mailer.keep_open = True
    return services


def test_two_concurrent_drains_on_postgresql_never_handle_the_same_event(tmp_path, pg_url, counting_sink):
    _truncate_all(pg_url)
    calls = Calls()
    handlers = {PING: (calls.handler("t.mail", email=True, pause=0.002),)}
    workers = [_smtp_services(tmp_path, pg_url, counting_sink, name) for name in ("a", "b")]
    for services in workers:
        services.event_handlers = handlers
    ids = _emit(workers[0], 200)
    results = {}
    start = threading.Barrier(2)

    def run(n):
        start.wait()
        results[n] = drain(workers[n], batch_size=10)

    threads = [threading.Thread(target=run, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert results[0].claimed > 0 and results[1].claimed > 0, results  # both really drained
        assert results[0].claimed + results[1].claimed == 200
        assert results[0].failed == results[1].failed == 0
        assert sorted(calls.seen) == sorted((i, "t.mail") for i in ids)  # each handled once
        assert sorted(_marks(workers[0])) == sorted((i, "t.mail") for i in ids)
        assert all(row.completed_at is not None for row in _rows(workers[0]).values())
        wait_for(lambda: len(counting_sink.ids) >= 200, timeout=10, what="200 emails at the sink")
        assert len(counting_sink.ids) == len(set(counting_sink.ids)) == 200  # each email once
    finally:
        for services in workers:
            services.mailer.close()
            services.dispose()


def test_one_smtp_connection_serves_batches_and_is_replaced_when_the_server_drops_it(
        tmp_path, pg_url, counting_sink):
    _truncate_all(pg_url)
    calls = Calls()
    services = _smtp_services(tmp_path, pg_url, counting_sink)
    services.event_handlers = {PING: (calls.handler("t.mail", email=True),)}
    try:
        _emit(services, 3)
        assert drain(services).completed == 3
        _emit(services, 4)
        assert drain(services).completed == 4
        assert len(counting_sink.ids) == 7
        assert counting_sink.connections() == 1 and services.mailer.connects == 1

        # The server goes away and comes back on the same port: the kept connection is dead.
        counting_sink.down()
        counting_sink.up()
        _emit(services, 2)
        assert drain(services).completed == 2
        assert services.mailer.connects == 2 and counting_sink.connections() == 2
        with services.uow() as uow:
            states = list(uow.session.execute(select(OutgoingEmail.state)).scalars())
        assert states == ["sent"] * 9  # none waits for a retry: the NOOP found the dead connection first
        assert len(set(counting_sink.ids)) == 9
    finally:
        services.mailer.close()
        services.dispose()


def test_a_connection_lost_in_the_middle_of_a_batch_is_replaced_for_the_next_message(
        tmp_path, pg_url, counting_sink):
    _truncate_all(pg_url)
    services = _smtp_services(tmp_path, pg_url, counting_sink)
    mailer = services.mailer
    from email.message import EmailMessage

    def message(n):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"], m["Message-ID"] = "a@example.org", "b@example.org", f"m{n}", f"<m{n}@x>"
        m.set_content("x")
        return m

    try:
        with mailer.session() as send:
            send(message(1))
            counting_sink.down()
            counting_sink.up()
            with pytest.raises(Exception):
                send(message(2))  # over the dead connection: fails, its outcome unknown, retried later
            send(message(3))  # a new connection
        assert counting_sink.ids == ["<m1@x>", "<m3@x>"]
        assert mailer.connects == 2
        with mailer.session() as send:  # and that one is kept
            send(message(4))
        assert mailer.connects == 2 and counting_sink.connections() == 2
    finally:
        mailer.close()
        services.dispose()


def test_a_rolled_back_savepoint_takes_back_its_events_and_emails(any_services):
    """What a failed handler emitted or queued is gone with it: no bell for a vanished event, and
    the same email queued again by a later handler is not mistaken for already queued."""
    services = any_services
    published: list[str] = []
    services.publisher = published.extend
    services.event_handlers = {PING: (Calls().handler("t.any"),)}

    def queue(uow):
        return queue_email(uow, services, dedupe_key="k", recipient="someone@example.org",
                           template="password_changed", context={"name": "x", "at": "now"})

    with services.uow() as uow:
        with pytest.raises(RuntimeError):
            with uow.savepoint():
                uow.emit(PING, {"n": 0})
                assert queue(uow) is not None
                raise RuntimeError("handler failed")
        kept = uow.emit(PING, {"n": 1})
        assert queue(uow) is not None
        uow.commit()
    assert published == [kept.id]
    with services.uow() as uow:
        assert list(uow.session.execute(select(OutgoingEmail.dedupe_key)).scalars()) == ["k"]
        assert list(uow.session.execute(select(OutboxEvent.id)).scalars()) == [kept.id]


class Killed(BaseException):
    """The worker dies here: nothing after it runs, no handler catches it."""


class DyingMailer:
    def session(self):
        raise Killed()


def test_a_worker_killed_after_its_batch_committed_loses_nothing(tmp_path, pg_url, counting_sink):
    """Marks committed, emails claimed, then death before any was sent: the event stays unfinished
    for the lease, the relay rings for it, a drain completes it without running a handler again,
    and the mail relay sends the claimed emails once their claim looks stuck."""
    _truncate_all(pg_url)
    settings = make_settings(tmp_path, pg_url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(counting_sink.port),
                             INTERDEPT_OUTBOX_REPUBLISH_AFTER="1")
    services = _quiet(make_services(settings, eager=False))
    smtp = services.mailer
    calls = Calls()
    services.event_handlers = {PING: (calls.handler("t.mail", email=True),)}
    ids = _emit(services, 3)
    services.mailer = DyingMailer()
    try:
        with pytest.raises(Killed):
            drain(services)
        services.mailer = smtp
        rows = _rows(services)
        assert all(row.completed_at is None and row.next_attempt_at is not None for row in rows.values())
        assert len(_marks(services)) == 3
        assert drain(services).claimed == 0  # within the lease nobody takes it
        time.sleep(1.2)  # the lease (outbox_republish_after) is over, and the last bell is that old
        ringing: list[str] = []
        services.publisher = ringing.extend
        assert relay(services) == 3 and sorted(ringing) == sorted(ids)
        again = drain(services)
        assert (again.claimed, again.completed) == (3, 3)
        assert len(calls.seen) == 3  # the handlers did not run again: their marks were there
        assert all(row.completed_at is not None for row in _rows(services).values())
        assert counting_sink.ids == []  # the emails are still claimed by the dead worker
        from services.adapters.mail import mail_relay

        later = utcnow() + timedelta(seconds=settings.mail_stuck_after + 1)
        assert mail_relay(services, now=later) == 3
        assert len(counting_sink.ids) == len(set(counting_sink.ids)) == 3
    finally:
        smtp.close()
        services.dispose()


def test_bells_coalesce_while_one_waits_and_ring_again_once_a_worker_answers(tmp_path, redis_url):
    import uuid

    import redis

    from services.adapters.broker import CeleryPublisher

    queue = f"interdept-bells-{uuid.uuid4().hex[:8]}"
    settings = make_settings(tmp_path, CELERY_BROKER_URL=redis_url, INTERDEPT_QUEUE=queue)
    publisher = CeleryPublisher(settings, background=False)
    client = redis.Redis.from_url(redis_url)

    def waiting() -> int:
        return client.llen(queue)

    try:
        publisher(["e1"])
        publisher(["e2"])
        publisher(["e3", "e4"])
        assert waiting() == 1  # one bell waits: the later commits' events are in its drain
        publisher.answered()  # a worker took it and starts to claim
        publisher(["e5"])
        assert waiting() == 2
        publisher([f"r{n}" for n in range(120)])  # a relay's backlog: one bell per 50, for several workers
        assert waiting() == 5
        client.delete(f"interdept:bell-pending:{queue}")
        client.delete(queue)
        # A bell that could not be sent does not silence the next ones.
        broken = CeleryPublisher(make_settings(tmp_path, CELERY_BROKER_URL=redis_url, INTERDEPT_QUEUE=queue),
                                 background=False)
        broken.celery.conf.broker_url = "redis://127.0.0.1:1/0"
        broken._redis = client
        with pytest.raises(Exception):
            broken(["x1"])
        assert not client.exists(f"interdept:bell-pending:{queue}")
    finally:
        client.delete(queue, f"interdept:bell-pending:{queue}")


def test_the_worker_backs_a_failing_event_off_in_the_database_and_rings_itself_when_it_is_due(stack):
    """Through the real Celery worker: a bad event fails alone (the good one beside it is handled),
    its backoff is in its row, and once it can succeed the worker's own bell for its due time
    handles it (no relay runs here)."""
    from tests.conftest import ApiClient, seed
    from services.web.app import create_app

    services, worker, smtp = stack
    tokens = seed(services)
    it = ApiClient(create_app(services=services).test_client(), tokens["it"])
    created = it.post("/api/v1/requests", json={
        "program": "kotovsk-information-society", "subject": "Плохое событие рядом", "addressees": ["mfc"],
        "send": True})
    assert created.status_code == 201, created.json
    rid = created.json["requests"][0]["id"]
    with services.uow() as uow:
        bad = uow.emit("information_request.send", {}).id  # no item_id: the handler raises KeyError
        uow.commit()

    def row():
        return _rows(services)[bad]

    wait_for(lambda: row().attempts >= 1, what=f"the bad event to fail once\n{worker.output()[-3000:]}")
    failed = row()
    assert failed.completed_at is None and "KeyError" in failed.last_error
    assert failed.next_attempt_at is not None
    wait_for(lambda: len(smtp.messages) == 2, what="the good event's two emails")
    with services.uow() as uow:  # now it can succeed: it names a request
        uow.session.execute(update(OutboxEvent).where(OutboxEvent.id == bad).values(payload={"item_id": rid}))
        uow.commit()
    wait_for(lambda: row().completed_at is not None, timeout=40,
             what=f"the bad event handled at its due time\n{worker.output()[-3000:]}")
    done = row()
    assert done.last_error is None and done.attempts >= 1
    assert done.completed_at >= failed.next_attempt_at
    wait_for(lambda: len(smtp.messages) == 4, what="its two emails")
    assert len(set(smtp.message_ids())) == 4


def test_a_failed_events_backoff_survives_a_killed_worker(stack):
    """The backoff is the row's, not a Celery message's: a fresh worker rung at once leaves the event
    alone until it is due, and the relay rings for it then."""
    from tests.conftest import ApiClient, seed
    from services.web.app import create_app

    services, worker, smtp = stack
    tokens = seed(services)
    it = ApiClient(create_app(services=services).test_client(), tokens["it"])
    created = it.post("/api/v1/requests", json={
        "program": "kotovsk-information-society", "subject": "Отступ после гибели", "addressees": ["mfc"],
        "send": True})
    rid = created.json["requests"][0]["id"]
    with services.uow() as uow:
        bad = uow.emit("information_request.send", {}).id
        uow.commit()
    wait_for(lambda: _rows(services)[bad].attempts >= 1, what=f"a failure\n{worker.output()[-3000:]}")
    worker.kill()  # SIGKILL: its own bell for the due time dies with it
    due = utcnow() + timedelta(seconds=6)
    with services.uow() as uow:  # a longer backoff, and the event can now succeed
        uow.session.execute(update(OutboxEvent).where(OutboxEvent.id == bad)
                            .values(payload={"item_id": rid}, next_attempt_at=due))
        uow.commit()
    attempts = _rows(services)[bad].attempts
    worker.start()
    services.publish([bad])  # rung at once: the new worker drains and must not take it
    assert relay(services) == 0  # not due: the relay does not ring for it either
    wait_for(lambda: "drained" in worker.output() or "interdept.handle_event" in worker.output(),
             what=f"the new worker to answer the bell\n{worker.output()[-3000:]}")
    time.sleep(1.5)
    row = _rows(services)[bad]
    assert row.completed_at is None and row.attempts == attempts
    wait_for(lambda: utcnow() > due, timeout=10, what="the due time")
    wait_for(lambda: relay(services) or _rows(services)[bad].completed_at is not None, timeout=20,
             what="the relay to ring for the due event")
    wait_for(lambda: _rows(services)[bad].completed_at is not None, timeout=20,
             what=f"the event handled after its due time\n{worker.output()[-3000:]}")
    assert _rows(services)[bad].completed_at >= due
