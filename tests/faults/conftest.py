"""Fault injection over the real stack: PostgreSQL, Redis, Celery worker processes, an SMTP sink.

Each test runs a stream of request lifecycles through the API while a part
fails, then checks that nothing was lost and nothing happened twice. Shared
servers are never disturbed: a test that stops Redis starts its own, and the
PostgreSQL "restart" is a TCP proxy in front of the shared server that the
test cuts and restores.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.models.base import utcnow
from services.models.mail import OutgoingEmail
from services.models.requests import InformationRequest
from services.models.workflow import HandledEvent, OutboxEvent, TransitionRecord
from tests.conftest import ApiClient, _truncate_all, make_services, make_settings
from tests.integration.conftest import WorkerProcess, _free_port, wait_for
from tests.smtp_sink import SmtpSink

PROGRAM = "kotovsk-information-society"
# A db number of the shared Redis that no other suite uses (integration: 15, bench: 14).
FAULTS_REDIS_DB = 13
# Per lifecycle (create+send, answer, accept): send -> 2 MFC users, answer -> 1 requester, accept -> 2 MFC users.
EMAILS_PER_LIFECYCLE = 5


Sink = SmtpSink  # taken down and brought back by the outage tests


@pytest.fixture
def sink():
    s = Sink().up()
    yield s
    s.down()


class RedisServer:
    """A redis-server of the test's own on a free port (never the shared one), without persistence."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.dir = tmp_path / "redis"
        self.dir.mkdir(exist_ok=True)
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), timeout=10, what="own redis-server to answer")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False


class TcpProxy:
    """An asyncio forwarder on a free port to a target; ``cut`` closes the listener and every connection."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = _free_port()
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.writers: set = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self.writers.update({client_writer, upstream_writer})
        await asyncio.gather(self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer))
        self.writers.difference_update({client_writer, upstream_writer})

    async def _listen(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.writers):
            transport = writer.transport
            if transport is not None:
                transport.abort()
        self.writers.clear()

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> "TcpProxy":
        self.thread.start()
        self._run(self._listen())
        return self

    def cut(self) -> None:
        self._run(self._cut())

    def restore(self) -> None:
        self._run(self._listen())

    async def _shutdown(self):
        await self._cut()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        self._run(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Relays:
    """What beat does, in a thread: republish unfinished events (and, if asked, retry due mail)."""

    def __init__(self, services, interval: float = 0.5, mail: bool = True):
        self.services, self.interval, self.mail = services, interval, mail
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from services.adapters.mail import mail_relay
        from services.events.outbox import relay

        while not self.stop_event.wait(self.interval):
            try:
                relay(self.services)
                if self.mail:
                    mail_relay(self.services)
            except Exception:  # noqa: BLE001 - a broker or database being down is the point
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(30)


def stack_env(tmp_path, database_url: str, broker_url: str, smtp_port: int) -> dict:
    return {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "INTERDEPT_VAR_DIR": str(tmp_path / "var"),
        "INTERDEPT_OUTBOX_REPUBLISH_AFTER": "2",
    }


def build_services(tmp_path, env: dict):
    settings = make_settings(tmp_path, env["DATABASE_URL"], **{k: v for k, v in env.items() if k != "DATABASE_URL"})
    return make_services(settings, eager=False)


def start_worker(env: dict, log_path) -> WorkerProcess:
    worker = WorkerProcess({**os.environ, **env}, log_path)
    worker.start()
    return worker


@pytest.fixture
def faults_redis_url(redis_url):
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{FAULTS_REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def clean_db(pg_url):
    _truncate_all(pg_url)
    return pg_url


def lifecycle(it: ApiClient, mfc: ApiClient, subject: str) -> int:
    """create+send, answer, accept through the API; returns the request id."""
    created = it.post("/api/v1/requests", json={"program": PROGRAM, "subject": subject, "addressees": ["mfc"],
                                                "send": True})
    assert created.status_code == 201, created.json
    rid = created.json["requests"][0]["id"]
    answered = mfc.post(f"/api/v1/requests/{rid}/transitions", json={"event": "answer", "data": {"text": "ok"}})
    assert answered.status_code == 200, answered.json
    accepted = it.post(f"/api/v1/requests/{rid}/transitions", json={"event": "accept"})
    assert accepted.status_code == 200, accepted.json
    return rid


def clients(services, tokens):
    from services.web.app import create_app

    app = create_app(services=services, test_config={"TESTING": True})
    return ApiClient(app.test_client(), tokens["it"]), ApiClient(app.test_client(), tokens["mfc"]), app


def counts(services) -> dict:
    with services.uow() as uow:
        s = uow.session
        return {
            "pending_events": s.query(OutboxEvent).filter(OutboxEvent.completed_at.is_(None)).count(),
            "unsent": s.query(OutgoingEmail).filter(OutgoingEmail.state.in_(("queued", "retrying"))).count(),
        }


def wait_settled(services, what: str, timeout: float = 40.0) -> None:
    """Every event completed and no email waiting for a first or retried attempt."""
    wait_for(lambda: counts(services) == {"pending_events": 0, "unsent": 0}, timeout=timeout, interval=0.3,
             what=what)


def assert_nothing_lost_nothing_twice(services, sink: Sink, lifecycles: int, *, max_duplicates: int = 0,
                                      extra_emails: int = 0) -> None:
    """Every event handled once by each of its handlers; every email at the sink once.

    Emails left in 'sending' (a process died, or lost the database, between the claim and the
    'sent' mark) are sent again as the mail relay would once their claim is stuck (45 s); only those
    may arrive twice, and at most ``max_duplicates`` of them in all.
    """
    from services.adapters.mail import mail_relay
    from services.events.outbox import handlers_for

    with services.uow() as uow:
        s = uow.session
        events = s.execute(select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.completed_at)).all()
        marks = s.execute(select(HandledEvent.event_id, HandledEvent.handler)).all()
        stuck = set(s.execute(select(OutgoingEmail.message_id).where(OutgoingEmail.state == "sending")).scalars())
    assert all(e.completed_at is not None for e in events)
    handled: dict[str, list[str]] = {}
    for event_id, handler in marks:
        handled.setdefault(event_id, []).append(handler)
    for event in events:
        expected = sorted(h.name for h in handlers_for(services, event.type))
        assert sorted(handled.get(event.id, [])) == expected, (event.type, event.id)
    # A worker drains in batches: an outage (or a kill) mid-batch can leave all of the batch's claimed
    # emails in 'sending', most of them never handed to the server. The guarantee is about what
    # reaches the sink: each at most once more per fault (checked below), the rest once.

    if stuck:
        assert mail_relay(services, now=utcnow() + timedelta(minutes=6)) == len(stuck)
    with services.uow() as uow:
        rows = uow.session.execute(select(OutgoingEmail.message_id, OutgoingEmail.state)).all()
    assert len(rows) == EMAILS_PER_LIFECYCLE * lifecycles + extra_emails
    assert {state for _, state in rows} == {"sent"}
    delivered = sink.counts()
    ids = {message_id for message_id, _ in rows}
    assert set(delivered) == ids, "the sink got a message nobody queued, or missed one"
    for message_id, n in delivered.items():
        assert n == 1 or (n == 2 and message_id in stuck), (message_id, n)
    assert sum(n - 1 for n in delivered.values()) <= max_duplicates


def assert_history_consistent(services) -> None:
    """Replaying each item's history gives its stored state; each transition has its outbox event."""
    with services.uow() as uow:
        s = uow.session
        items = dict(s.execute(select(InformationRequest.id, InformationRequest.state)).all())
        rows = s.execute(select(TransitionRecord.item_id, TransitionRecord.event, TransitionRecord.from_state,
                                TransitionRecord.to_state)
                         .where(TransitionRecord.workflow == "information_request")
                         .order_by(TransitionRecord.id)).all()
        events = Counter((t, p.get("item_id")) for t, p in s.execute(select(OutboxEvent.type, OutboxEvent.payload)))
    replayed: dict[int, str] = {}
    for row in rows:
        assert row.from_state == replayed.get(row.item_id, "draft"), (row.item_id, row.event)
        replayed[row.item_id] = row.to_state
    for item_id, state in items.items():
        assert replayed.get(item_id, "draft") == state, item_id
    per_item = Counter((f"information_request.{r.event}", r.item_id) for r in rows)
    for key, n in per_item.items():
        assert events[key] == n, key
