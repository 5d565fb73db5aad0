"""Scale-out, shown: two web nodes, two worker nodes and two beats at once on one PostgreSQL and one Redis.

Every node is a separate process group started with the production command (`interdept web`,
`celery worker -n nodeN@%h`, `interdept beat`) and its own settings: its own INTERDEPT_VAR_DIR (so its
own secret key, metrics folder, beat schedule file) and its own working directory. What they share
is the database, the broker (Redis db 13) and the SMTP server, as the README's "Scaling out" says.

A bounded stream of lifecycles (create+send, answer, accept) goes over HTTP with bearer tokens,
each call to the other web node than the previous one. A few requests are made overdue with every
reminder step due, so both beats' deadline sweeps (every 2 s) and relays (every 1 s) compete for
the same rows. Then: every lifecycle accepted, every outbox event completed with each handler's
mark once, every email at the sink exactly once, each overdue item's missed deadline recorded once,
each reminder step fired by one sweep only (one ``reminders.due`` event names it).
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from config.paths import PACKAGED_DIR
from services.models.base import utcnow
from services.models.mail import OutgoingEmail
from services.models.jobs import JobRun
from services.models.reminders import ReminderStep
from services.models.requests import InformationRequest
from services.models.workflow import OutboxEvent
from tests.conftest import seed
from tests.faults.conftest import (
    EMAILS_PER_LIFECYCLE, PROGRAM, assert_history_consistent, assert_nothing_lost_nothing_twice, build_services,
    wait_settled,
)
from tests.integration.conftest import _free_port, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
NODES = 2
LIFECYCLES = 40
OVERDUE = 6
CLIENT_THREADS = 4
# Seconds the overdue rows are held once due: more than two sweep intervals of each beat.
HOLD = 5.0
BUDGET = 110.0  # seconds for the whole test, start-up to shutdown
# An overdue request's send: 2 MFC users.
EMAILS_PER_SEND = 2


class Node:
    """One process group of the test's own: started, watched through its log, stopped (also on failure)."""

    def __init__(self, name: str, args: list[str], env: dict, home: Path):
        self.name, self.args, self.env, self.home = name, args, env, home
        self.log_path = home / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Node":
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=str(self.home), stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _signal_group(self, sig) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        # whatever is left of the group (gunicorn's or a pool's children): SIGKILL
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


def _config_dir(tmp_path: Path) -> Path:
    """Reminders go out at any hour of any day here, so the sweep has work whenever the test runs."""
    folder = tmp_path / "reference"
    folder.mkdir()
    reminders = yaml.safe_load((PACKAGED_DIR / "reminders.yaml").read_text(encoding="utf-8"))
    reminders["working_hours"] = {"start": "00:00", "end": "23:59"}
    (folder / "reminders.yaml").write_text(yaml.safe_dump(reminders, allow_unicode=True), encoding="utf-8")
    calendar = yaml.safe_load((PACKAGED_DIR / "calendar_overrides.yaml").read_text(encoding="utf-8"))
    from zoneinfo import ZoneInfo

    today = utcnow().astimezone(ZoneInfo("Europe/Moscow")).date()
    days = {today + timedelta(days=n) for n in range(2)}
    calendar["days_off"] = [d for d in calendar.get("days_off") or [] if _date(d) not in days]
    listed = {_date(d) for d in calendar.get("working_days") or []}
    calendar["working_days"] = (calendar.get("working_days") or []) + [
        {"date": day, "reason": "Тест: рабочий день, чтобы напоминания уходили"} for day in sorted(days - listed)]
    (folder / "calendar_overrides.yaml").write_text(yaml.safe_dump(calendar, allow_unicode=True), encoding="utf-8")
    return folder


def _date(entry: dict):
    from datetime import date

    value = entry["date"]
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _call(port: int, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Authorization": f"Bearer {token}",
                                                          "Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else {})
    finally:
        conn.close()


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def _create(port: int, token: str, subject: str) -> int:
    status, body = _call(port, "POST", "/api/v1/requests", token,
                         {"program": PROGRAM, "subject": subject, "addressees": ["mfc"], "send": True})
    assert status == 201, (port, status, body)
    return body["requests"][0]["id"]


def _lifecycle(ports: list[int], tokens: dict, n: int) -> int:
    """create+send, answer, accept; each call to the other web node than the call before."""
    rid = _create(ports[n % NODES], tokens["it"], f"Масштаб {n}")
    status, body = _call(ports[(n + 1) % NODES], "POST", f"/api/v1/requests/{rid}/transitions", tokens["mfc"],
                         {"event": "answer", "data": {"text": "ok"}})
    assert status == 200, (status, body)
    status, body = _call(ports[n % NODES], "POST", f"/api/v1/requests/{rid}/transitions", tokens["it"],
                         {"event": "accept"})
    assert status == 200, (status, body)
    return rid


def _make_overdue(services, ids: list[int], at) -> set[int]:
    """Past due at ``at``, with every pending reminder step of theirs due then; returns those steps' ids."""
    with services.uow() as uow:
        s = uow.session
        s.execute(update(InformationRequest).where(InformationRequest.id.in_(ids)).values(due_at=at))
        steps = set(s.execute(select(ReminderStep.id).where(
            ReminderStep.item_kind == "information_request", ReminderStep.item_id.in_(ids),
            ReminderStep.state == "pending")).scalars())
        s.execute(update(ReminderStep).where(ReminderStep.id.in_(steps)).values(fire_at=at))
        uow.commit()
    return steps


def _hold(services, ids: list[int], steps: set[int]):
    """A transaction holding the overdue rows, so the sweeps that come while it is open meet at them.

    A sweep that takes its rows with SKIP LOCKED passes them by; one that did not would wait on the
    lock and, when it is released, every waiting sweep would fire the same steps.
    """
    session = services.session_factory()
    session.execute(select(ReminderStep.id).where(ReminderStep.id.in_(steps)).with_for_update())
    session.execute(select(InformationRequest.id).where(InformationRequest.id.in_(ids)).with_for_update())
    return session


def test_two_web_two_worker_nodes_and_two_beats_lose_nothing_and_do_nothing_twice(
        tmp_path, clean_db, faults_redis_url, sink, monkeypatch):
    started = time.monotonic()
    reference = _config_dir(tmp_path)
    monkeypatch.setenv("INTERDEPT_CONFIG_DIR", str(reference))
    queue = f"interdept-scale-{uuid.uuid4().hex[:8]}"
    shared = {
        "DATABASE_URL": clean_db,
        "CELERY_BROKER_URL": faults_redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "INTERDEPT_QUEUE": queue,
        "INTERDEPT_CONFIG_DIR": str(reference),
        "INTERDEPT_OUTBOX_REPUBLISH_AFTER": "2",
        "INTERDEPT_RELAY_INTERVAL": "1",
        "INTERDEPT_SWEEP_INTERVAL": "2",
    }
    services = build_services(tmp_path, {**shared, "INTERDEPT_VAR_DIR": str(tmp_path / "test-var")})
    tokens = seed(services)

    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PROMETHEUS_MULTIPROC_DIR")}
    base["PYTHONPATH"] = str(ROOT)
    py = sys.executable
    ports = [_free_port() for _ in range(NODES)]
    nodes: list[Node] = []

    def node(name: str, args: list[str], **extra) -> Node:
        home = tmp_path / name
        env = {**base, **shared, "INTERDEPT_VAR_DIR": str(home / "var"), **extra}
        nodes.append(Node(name, args, env, home))
        return nodes[-1]

    webs = [node(f"web{i}", [py, "-m", "services.cli", "web", "--port", str(ports[i]), "--workers", "2"],
                 INTERDEPT_BASE_URL=f"http://127.0.0.1:{ports[i]}") for i in range(NODES)]
    workers = [node(f"worker{i}", [py, "-m", "celery", "-A", "workers.app", "worker", "-Q", queue, "-P", "solo",
                                   "-n", f"node{i}@%h", "-l", "INFO", "--without-gossip", "--without-mingle",
                                   "--without-heartbeat"]) for i in range(NODES)]
    beats = [node(f"beat{i}", [py, "-m", "services.cli", "beat"]) for i in range(NODES)]

    def diagnostics() -> str:
        return "\n".join(f"--- {n.name} (alive={n.alive()}):\n{n.output()[-1500:]}" for n in nodes)

    def left() -> float:
        return max(1.0, BUDGET - (time.monotonic() - started))

    done: list[int] = []
    failures: list[BaseException] = []
    hold = None
    try:
        for n in nodes:
            n.start()
        wait_for(lambda: all(_healthy(p) for p in ports)
                 and all(" ready." in w.output() for w in workers)
                 and all("beat: Starting" in b.output() for b in beats)
                 or any(not n.alive() for n in nodes),
                 timeout=min(60.0, left()), interval=0.3, what="every node up")
        assert all(n.alive() for n in nodes), "a node exited at start-up\n" + diagnostics()

        overdue = [_create(ports[i % NODES], tokens["it"], f"Просрочен {i}") for i in range(OVERDUE)]
        # Due in 2 s, and held from now until 2 + HOLD s: every sweep in that window (both beats' sweeps,
        # on both worker nodes) meets the same due rows at once.
        due_steps = _make_overdue(services, overdue, utcnow() + timedelta(seconds=2))
        assert due_steps, "the overdue requests have no reminder steps to fire"
        hold = _hold(services, overdue, due_steps)
        hold_until = time.monotonic() + 2 + HOLD

        work = iter(range(LIFECYCLES))
        lock = threading.Lock()

        def client():
            try:
                while True:
                    with lock:
                        n = next(work, None)
                    if n is None:
                        return
                    rid = _lifecycle(ports, tokens, n)
                    with lock:
                        done.append(rid)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                failures.append(exc)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENT_THREADS)]
        for t in threads:
            t.start()
        time.sleep(max(0.0, hold_until - time.monotonic()))
        hold.rollback()
        for t in threads:
            t.join(left())
        assert not failures, failures
        assert len(done) == LIFECYCLES, f"{len(done)} of {LIFECYCLES} lifecycles\n" + diagnostics()

        def swept() -> bool:
            with services.uow() as uow:
                s = uow.session
                pending = s.execute(select(ReminderStep.id).where(ReminderStep.id.in_(due_steps),
                                                                  ReminderStep.state == "pending")).all()
                missed = s.execute(select(InformationRequest.id).where(
                    InformationRequest.id.in_(overdue), InformationRequest.missed_revision.is_(None))).all()
            return not pending and not missed

        wait_for(swept, timeout=min(30.0, left()), interval=0.3, what="the sweeps to take every due step")
        wait_settled(services, "events and mail across the nodes\n" + diagnostics(), timeout=min(40.0, left()))
        # A few more sweep and relay rounds from both beats: a second sweep or relay must find nothing to do.
        time.sleep(min(5.0, left() - 1))
        wait_settled(services, "events and mail after more rounds\n" + diagnostics(), timeout=min(20.0, left()))
        assert all(n.alive() for n in nodes), "a node died\n" + diagnostics()
    finally:
        if hold is not None:
            hold.close()
        for n in reversed(nodes):
            n.stop()
    assert all(n.proc is None or n.proc.returncode is not None for n in nodes)
    logs = {n.name: n.output() for n in nodes}

    with services.uow() as uow:
        s = uow.session
        states = Counter(s.execute(select(InformationRequest.state)).scalars())
        events = s.execute(select(OutboxEvent.type, OutboxEvent.payload, OutboxEvent.publish_count)).all()
        reminder_rows = s.execute(select(OutgoingEmail.dedupe_key).where(
            OutgoingEmail.dedupe_key.like("reminder%"))).scalars().all()
        fired = Counter(s.execute(select(ReminderStep.state).where(ReminderStep.id.in_(due_steps))).scalars())
        sweep_runs = s.execute(select(JobRun.runs).where(JobRun.name == "reminder_sweep")).scalar_one_or_none()
    assert states == {"accepted": LIFECYCLES, "sent": OVERDUE}, states

    # One sweep recorded each missed deadline; one sweep fired each due step (one event names it).
    missed = Counter(p["item_id"] for t, p, _ in events if t == "information_request.deadline_missed")
    assert missed == {rid: 1 for rid in overdue}, missed
    named = Counter(step for t, p, _ in events if t == "reminders.due" for step in p["step_ids"])
    assert set(named) == due_steps and set(named.values()) == {1}, named
    assert fired == {"fired": len(due_steps)}, fired
    assert reminder_rows, "no reminder email was queued"

    assert_nothing_lost_nothing_twice(services, sink, LIFECYCLES,
                                      extra_emails=EMAILS_PER_SEND * OVERDUE + len(reminder_rows))
    assert_history_consistent(services)

    # Both beats sent sweeps and relays; what each worker node handled is reported.
    for b in beats:
        assert "Sending due task deadline-sweep" in logs[b.name], logs[b.name][-2000:]
        assert "Sending due task outbox-relay" in logs[b.name], logs[b.name][-2000:]
    handled = {w.name: logs[w.name].count("Task interdept.handle_event[") for w in workers}
    sweeps = {w.name: logs[w.name].count("Task interdept.sweep_deadlines[") for w in workers}
    republished = Counter(count for _, _, count in events)
    # Not asserted, reported: the audit key lives in a node's var dir (README, Scaling out), so a worker
    # node without it refuses to seal.
    refused = {w.name: logs[w.name].count("audit sealing refused") for w in workers}
    print(f"\nscale-out: {LIFECYCLES} lifecycles + {OVERDUE} overdue, {len(events)} events, "
          f"{EMAILS_PER_LIFECYCLE * LIFECYCLES + EMAILS_PER_SEND * OVERDUE + len(reminder_rows)} emails "
          f"({len(reminder_rows)} reminders for {len(due_steps)} steps); sweeps run {sweep_runs}; "
          f"handle_event log lines per worker {handled}; sweep log lines per worker {sweeps}; "
          f"publish counts {dict(republished)}; audit sealing refused per worker {refused}; {time.monotonic() - started:.1f} s")
    services.dispose()
