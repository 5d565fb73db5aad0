"""`python -m bench soak` (`make bench BENCH_ARGS="soak --minutes 30"`): the embedded default under load and kills.

One run starts `interdept run` as `make run` does (SQLite and the filesystem
broker under a fresh var folder; beat's outbox relay every 2 s), an SMTP sink
in this process, and drives request lifecycles (create+send, answer, accept)
over HTTP from a bounded number of client threads for a fixed time, while a
prober asks /healthz twice a second. The Celery worker is SIGKILLed ``kills``
times, evenly spread over the run; the supervisor must bring it back. Then it
waits for the outbox and the mail to settle and checks: every HTTP call
answered (no connection error, no 5xx), every lifecycle accepted, every email
queued and delivered once (a worker killed between the SMTP server's "250" and
the "sent" mark leaves that one email to be sent again: at most one more per
killed pool process, the design stated in the README), every outbox event completed, no
broker message set aside, and the supervisor stops everything on SIGTERM.
The tests import :func:`run_soak` (tests/faults/test_soak.py runs a short one).
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import click

from bench.harness import SmtpCounter, _free_port, _seed
from bench.loadgen import PROGRAM

ROOT = Path(__file__).resolve().parent.parent
# Per lifecycle: send -> 2 MFC users, answer -> 1 requester, accept -> 2 MFC users.
EMAILS_PER_LIFECYCLE = 5
# `interdept worker` runs this many pool processes; each killed one may have one email between the SMTP
# server's "250" and the "sent" mark, which is sent again.
WORKER_PROCESSES = 2
# The environment variables that would point the run away from the embedded default.
NOT_EMBEDDED = ("DATABASE_URL", "CELERY_BROKER_URL", "INTERDEPT_QUEUE", "SMTP_USER", "SMTP_PASSWORD")


@dataclass
class SoakResult:
    seconds: float = 0.0
    lifecycles: int = 0
    http_calls: int = 0
    probes: int = 0
    emails_expected: int = 0
    emails_delivered: int = 0
    duplicates: int = 0
    resent_by_hand: int = 0
    kills: list[int] = field(default_factory=list)
    restarts: Counter = field(default_factory=Counter)
    set_aside: int = 0
    settle_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.seconds:.0f} s of load: {self.lifecycles} lifecycles, {self.http_calls} API calls, "
                f"{self.probes} health probes; emails {self.emails_delivered} delivered of "
                f"{self.emails_expected} expected ({self.duplicates} duplicates, {self.resent_by_hand} stuck "
                f"claims resent at the end); worker SIGKILLed {len(self.kills)} times; restarts "
                f"{dict(self.restarts) or 'none'}; broker files set aside: {self.set_aside}; settled "
                f"{self.settle_seconds:.1f} s after the load; problems: {len(self.problems)}")


class Client:
    """One keep-alive HTTP connection; every failure is recorded, never raised."""

    def __init__(self, port: int, errors: list[str], lock: threading.Lock):
        self.port, self.errors, self.lock = port, errors, lock
        self.calls = 0
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None,
             expect: int = 200) -> dict | None:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = json.dumps(body).encode() if body is not None else None
        self.calls += 1
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self._error(f"{time.strftime('%H:%M:%S')} {method} {path}: {exc!r}")
            return None
        if response.status != expect:
            self._error(f"{time.strftime('%H:%M:%S')} {method} {path}: HTTP {response.status} {data[:300]!r}")
            return None
        return json.loads(data) if data and response.getheader("Content-Type", "").startswith("application/json") \
            else {}

    def _error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)

    def close(self) -> None:
        self.conn.close()


def _process_children(pid: int) -> dict[int, str]:
    """Direct children of a process and their command lines, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


def child_pid(supervisor_pid: int, role: str) -> int | None:
    """The pid of the supervisor's child in a role: web (gunicorn), worker or beat (celery)."""
    marks = {"web": " gunicorn ", "worker": " worker ", "beat": " beat "}
    for pid, cmdline in _process_children(supervisor_pid).items():
        if marks[role] in f" {cmdline} ":
            return pid
    return None


def wait_http(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    return False


def embedded_env(var_dir: Path, smtp_port: int, relay_interval: int = 2, republish_after: int = 30) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in NOT_EMBEDDED}
    env.update({
        "INTERDEPT_VAR_DIR": str(var_dir),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "INTERDEPT_RELAY_INTERVAL": str(relay_interval),
        "INTERDEPT_OUTBOX_REPUBLISH_AFTER": str(republish_after),
        "INTERDEPT_BASE_URL": "http://127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


class Interdept:
    """`interdept run` as a subprocess in its own session, its output in a log file."""

    def __init__(self, env: dict, workdir: Path, port: int):
        self.env, self.port = env, port
        self.log_path = workdir / "run.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, cwd=str(ROOT), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        if not wait_http(self.port, timeout):
            raise RuntimeError(f"the web side never answered:\n{self.log()[-3000:]}")
        while " ready." not in self.log():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the worker never got ready:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def pid_of(self, role: str) -> int | None:
        return child_pid(self.proc.pid, role)

    def restarts(self) -> Counter:
        return Counter(line.split("] ", 1)[1].split()[0] for line in self.log().splitlines()
                       if "/supervisor] " in line and "; restart " in line)

    def stop(self, timeout: float = 40.0) -> tuple[int | None, list[int]]:
        """SIGTERM; returns the exit code and the pids of the children still alive afterwards."""
        if self.proc is None:
            return None, []
        children = list(_process_children(self.proc.pid))
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait(10)
        time.sleep(0.5)
        alive = [pid for pid in children if Path(f"/proc/{pid}").exists()
                 and "Z" not in (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:1] or [""])]
        for pid in alive:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        self._log.close()
        return code, alive


def _db(var_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{var_dir / 'interdept.sqlite3'}?mode=ro", uri=True, timeout=30)


def _settled(var_dir: Path) -> bool:
    with _db(var_dir) as conn:
        pending = conn.execute("SELECT count(*) FROM outbox WHERE completed_at IS NULL").fetchone()[0]
        waiting = conn.execute("SELECT count(*) FROM outgoing_emails WHERE state IN ('queued', 'retrying')"
                               ).fetchone()[0]
    return pending == 0 and waiting == 0


def _resend_stuck(env: dict) -> int:
    """Send the claims a killed worker left in 'sending' now, as the mail relay does once they look stuck."""
    from datetime import timedelta

    from config.settings import Settings
    from services.adapters.mail import mail_relay
    from services.bootstrap import bootstrap
    from services.models.base import utcnow

    services = bootstrap(Settings.from_env(env), publisher=lambda ids: None)
    try:
        return mail_relay(services, now=utcnow() + timedelta(hours=1))
    finally:
        services.dispose()


def run_soak(*, seconds: float, concurrency: int = 2, pause: float = 2.0, kills: int = 2, max_lifecycles: int = 100_000,
             settle_timeout: float = 120.0, workdir: Path | None = None, echo=click.echo) -> SoakResult:
    own_dir = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="interdept-soak-")) if own_dir else workdir
    var_dir = workdir / "var"
    smtp = SmtpCounter().start()
    env = embedded_env(var_dir, smtp.port)
    result = SoakResult()
    errors: list[str] = []
    lock = threading.Lock()
    app = Interdept(env, workdir, _free_port())
    try:
        tokens = _seed(env)
        app.start()
        app.wait_ready()
        echo(f"interdept run on 127.0.0.1:{app.port} (var {var_dir}); SMTP sink on :{smtp.port}; "
             f"{concurrency} clients ({pause:g} s between lifecycles) for {seconds:.0f} s, {kills} worker kills")
        stop = threading.Event()
        done: list[int] = []
        started = time.monotonic()

        def lifecycles() -> None:
            client = Client(app.port, errors, lock)
            while not stop.is_set():
                with lock:
                    if len(done) >= max_lifecycles:
                        return
                created = client.call("POST", "/api/v1/requests", tokens["it"], {
                    "program": PROGRAM, "subject": "Запрос под нагрузкой", "body": "Сведения для отчёта.",
                    "addressees": ["mfc"], "send": True}, expect=201)
                if created is None:
                    continue
                rid = created["requests"][0]["id"]
                if client.call("POST", f"/api/v1/requests/{rid}/transitions", tokens["mfc"],
                               {"event": "answer", "data": {"text": "Сведения приложены."}}) is None:
                    continue
                if client.call("POST", f"/api/v1/requests/{rid}/transitions", tokens["it"],
                               {"event": "accept"}) is None:
                    continue
                with lock:
                    done.append(rid)
                # Paced below the worker's rate on two shared cores, so the backlog stays bounded.
                stop.wait(pause)
            with lock:
                result.http_calls += client.calls
            client.close()

        def probe() -> None:
            client = Client(app.port, errors, lock)
            while not stop.wait(0.5):
                client.call("GET", "/healthz")
            with lock:
                result.probes += client.calls
            client.close()

        threads = [threading.Thread(target=lifecycles, daemon=True) for _ in range(concurrency)]
        threads.append(threading.Thread(target=probe, daemon=True))
        for t in threads:
            t.start()
        for n in range(1, kills + 1):
            # Kill n at n/(kills+1) of the run, once the worker is back from the previous one.
            while time.monotonic() < started + seconds * n / (kills + 1) and not stop.is_set():
                time.sleep(0.2)
            pid = app.pid_of("worker")
            while pid is None and time.monotonic() < started + seconds:
                time.sleep(0.2)
                pid = app.pid_of("worker")
            if pid is None:
                result.problems.append(f"kill {n}: no worker running")
                continue
            os.kill(pid, signal.SIGKILL)
            result.kills.append(pid)
            echo(f"  {time.monotonic() - started:5.0f} s: worker (pid {pid}) SIGKILLed; "
                 f"{len(done)} lifecycles so far")
        while time.monotonic() < started + seconds:
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
        result.seconds = time.monotonic() - started
        result.lifecycles = len(done)
        echo(f"  load done: {len(done)} lifecycles; waiting for the outbox and the mail to settle")

        settle_started = time.monotonic()
        while not _settled(var_dir) and time.monotonic() < settle_started + settle_timeout:
            time.sleep(0.5)
        result.settle_seconds = time.monotonic() - settle_started
        if not _settled(var_dir):
            result.problems.append(f"not settled {settle_timeout:.0f} s after the load")
        with _db(var_dir) as conn:
            stuck = conn.execute("SELECT count(*) FROM outgoing_emails WHERE state = 'sending'").fetchone()[0]
        if stuck:
            result.resent_by_hand = _resend_stuck(env)
        time.sleep(0.5)  # the sink's handler runs in its own thread

        result.restarts = app.restarts()
        code, alive = app.stop()
        if code != 0:
            result.problems.append(f"interdept run exited with {code} on SIGTERM")
        if alive:
            result.problems.append(f"children still alive after SIGTERM: {alive}")
        result.problems.extend(_check(var_dir, done, smtp, result, errors))
        log = app.log()
        for mark in ("Unrecoverable error", "JSONDecodeError", "malformed broker message"):
            if mark in log:
                result.problems.append(f"run log has {mark!r}")
        bad = var_dir / "broker" / "bad"
        result.set_aside = len(list(bad.iterdir())) if bad.exists() else 0
        if result.set_aside:
            result.problems.append(f"{result.set_aside} broker messages set aside")
        if result.restarts.get("worker", 0) != len(result.kills) or set(result.restarts) - {"worker"}:
            result.problems.append(f"restarts {dict(result.restarts)} for {len(result.kills)} worker kills")
    finally:
        if app.proc is not None and app.proc.poll() is None:
            app.stop()
        smtp.stop()
        if own_dir:
            shutil.copy(app.log_path, Path(tempfile.gettempdir()) / "interdept-soak-last-run.log") \
                if app.log_path.exists() else None
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def _check(var_dir: Path, done: list[int], smtp: SmtpCounter, result: SoakResult, errors: list[str]) -> list[str]:
    problems = [f"HTTP: {e}" for e in errors[:20]]
    if len(errors) > 20:
        problems.append(f"... {len(errors) - 20} more HTTP errors")
    with _db(var_dir) as conn:
        states = Counter(row[0] for row in conn.execute("SELECT state FROM information_requests"))
        accepted = {row[0] for row in conn.execute("SELECT id FROM information_requests WHERE state = 'accepted'")}
        unfinished = conn.execute("SELECT count(*) FROM outbox WHERE completed_at IS NULL").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        rows = conn.execute("SELECT message_id, state FROM outgoing_emails").fetchall()
    # Lifecycles interrupted by the end of the load (sent or answered, not accepted) are not counted in
    # `done`; every email of every request that exists is still owed.
    if not set(done) <= accepted:
        problems.append(f"{len(set(done) - accepted)} completed lifecycles not 'accepted'")
    expected_emails = 2 * states["sent"] + 3 * states["answered"] + EMAILS_PER_LIFECYCLE * states["accepted"]
    result.emails_expected = expected_emails
    if unfinished:
        problems.append(f"{unfinished} of {events} outbox events not completed")
    if len(rows) != expected_emails:
        problems.append(f"{len(rows)} emails queued, {expected_emails} expected for the requests {dict(states)}")
    not_sent = Counter(state for _, state in rows if state != "sent")
    if not_sent:
        problems.append(f"emails not sent: {dict(not_sent)}")
    with smtp._lock:
        delivered = Counter(smtp.ids)
    result.emails_delivered = sum(delivered.values())
    result.duplicates = sum(n - 1 for n in delivered.values())
    queued = {message_id for message_id, _ in rows}
    if set(delivered) != queued:
        problems.append(f"sink and outgoing_emails differ: {len(queued - set(delivered))} never delivered, "
                        f"{len(set(delivered) - queued)} delivered but never queued")
    if any(n > 2 for n in delivered.values()) or result.duplicates > len(result.kills) * WORKER_PROCESSES:
        problems.append(f"{result.duplicates} duplicate emails for {len(result.kills)} kills")
    return problems


@click.command("soak")
@click.option("--minutes", default=30.0, show_default=True, type=click.FloatRange(0.5, 24 * 60))
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(1, 32),
              help="Concurrent HTTP clients, each running lifecycles one after another.")
@click.option("--pause", default=2.0, show_default=True, type=click.FloatRange(0, 60),
              help="Seconds each client waits between lifecycles.")
@click.option("--kills", default=2, show_default=True, type=click.IntRange(0, 1000),
              help="Worker SIGKILLs, evenly spread over the run.")
def soak(minutes: float, concurrency: int, pause: float, kills: int) -> None:
    """The embedded default (`interdept run`) under load for MINUTES with the worker SIGKILLed; exit 1 on any problem."""
    started = time.time()
    result = run_soak(seconds=minutes * 60, concurrency=concurrency, pause=pause, kills=kills)
    click.echo(result.summary())
    for problem in result.problems:
        click.echo(f"PROBLEM: {problem}")
    click.echo(f"load average at the end: {os.getloadavg()}; wall time {time.time() - started:.0f} s")
    sys.exit(1 if result.problems else 0)
