"""`python -m bench` (`make bench`): the production topology on this machine, measured against two references.

One run creates a fresh PostgreSQL database, starts gunicorn, a Celery worker,
Celery beat and an SMTP sink, and drives complete information-request
lifecycles (create+send, answer, accept) over HTTP from a separate load process
at rising concurrency, each level for a fixed time. After each level it
measures, on the same database and at the same concurrency:

- PostgreSQL's own rate for the writes a transition makes (item update with
  version check, history row, outbox row), straight over psycopg;
- the stack's floor: a minimal Flask app (bench/floor_app.py, its own database)
  under the same gunicorn settings, driven by the same load generator, doing
  one transition per POST.

Last comes the pipeline-only level: with the worker stopped, the web side
fills the outbox; a fresh worker then drains it alone, so worker capacity is
seen apart from web capacity. Everything listens on loopback only; every loop
is bounded in count and time; the databases and the Redis db are removed at the end.
"""
from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click

from bench.floor_app import setup_database
from services.cli import WEB_WORKERS
from bench.measure import (db_now, event_stats, libpq_url, percentile, rate, reference_tps,  # noqa: F401
                           wait_drained)
from bench.table import LEGEND, LevelResult, format_memory, format_table

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
ROOT = Path(__file__).resolve().parent.parent
# Per lifecycle: send, answer, accept.
TRANSITIONS_PER_LIFECYCLE = 3
FLOOR_APP = "bench.floor_app:create_app()"
FLOOR_ITEMS = 1024

# Kept for callers of the earlier names.
_percentile, _libpq_url, _db_now = percentile, libpq_url, db_now


# --- small helpers ------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Direct and indirect children of a process, from /proc (psutil when installed)."""
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - the process is gone
        return []
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


# --- the servers ------------------------------------------------------------------

class SmtpCounter:
    """An aiosmtpd sink in this process that counts messages by Message-ID, with their arrival times."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.ids: list[str] = []
        self.arrivals: list[float] = []
        self._lock = threading.Lock()
        counter = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                content = envelope.original_content or envelope.content or b""
                message_id = ""
                for line in content.split(b"\r\n"):
                    if not line:
                        break
                    if line.lower().startswith(b"message-id:"):
                        message_id = line.split(b":", 1)[1].strip().decode()
                with counter._lock:
                    counter.ids.append(message_id)
                    counter.arrivals.append(time.time())
                return "250 OK"

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpCounter":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def count(self) -> tuple[int, int]:
        with self._lock:
            return len(self.ids), len(set(self.ids))

    def since(self, mark: int) -> tuple[int, float | None]:
        """Messages received after `mark` (an earlier count) and the epoch time of the last one."""
        with self._lock:
            return len(self.ids) - mark, (self.arrivals[-1] if len(self.arrivals) > mark else None)


def gunicorn_command(app: str, port: int, web_workers: int, extra: list[str]) -> list[str]:
    """One gunicorn command line for the service and the floor app alike, so they compare fairly."""
    return [sys.executable, "-m", "gunicorn", "-w", str(web_workers), "-b", f"127.0.0.1:{port}",
            "--backlog", "256", "--log-level", "warning", *extra, app]


def _http_ok(port: int) -> bool:
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@dataclass
class Topology:
    """gunicorn, a Celery worker, beat and the floor app's gunicorn as subprocesses of this one."""

    env: dict
    workdir: Path
    web_workers: int
    worker_concurrency: int
    gunicorn_args: list[str] = field(default_factory=list)
    port: int = field(default_factory=_free_port)
    floor_port: int = field(default_factory=_free_port)
    procs: dict = field(default_factory=dict)
    commands: dict = field(default_factory=dict)

    def _spawn(self, name: str, args: list[str], env: dict | None = None) -> int:
        """Start (or start again) a process; returns the size of its log before, to read only what is new."""
        path = self.workdir / f"{name}.log"
        offset = path.stat().st_size if path.exists() else 0
        self.commands[name] = (args, env or self.env)
        log = open(path, "ab")
        self.procs[name] = (subprocess.Popen(args, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                             cwd=str(ROOT)), log)
        return offset

    def start(self) -> None:
        py = sys.executable
        self._spawn("web", gunicorn_command("services.web.wsgi:app", self.port, self.web_workers,
                                            self.gunicorn_args))
        self._spawn("worker", [py, "-m", "celery", "-A", "workers.app", "worker", "-Q", "interdept",
                               "-c", str(self.worker_concurrency), "-l", "INFO", "--without-gossip",
                               "--without-mingle", "--without-heartbeat"])
        self._spawn("beat", [py, "-m", "celery", "-A", "workers.app", "beat", "-l", "WARNING",
                             "-s", str(self.workdir / "celerybeat-schedule")])

    def start_floor(self, database_url: str) -> None:
        env = {**self.env, "FLOOR_DATABASE_URL": database_url}
        self._spawn("floor", gunicorn_command(FLOOR_APP, self.floor_port, self.web_workers, self.gunicorn_args),
                    env)

    def log(self, name: str, offset: int = 0) -> str:
        return (self.workdir / f"{name}.log").read_bytes()[offset:].decode(errors="replace")

    def _check_alive(self) -> None:
        for name, (proc, _) in self.procs.items():
            if proc.poll() is not None:
                raise click.ClickException(f"{name} exited early:\n{self.log(name)[-3000:]}")

    def wait_ready(self, timeout: float = 180.0, worker_log_from: int = 0) -> None:
        """Every HTTP server answers /healthz and the worker has logged that it is ready."""
        deadline = time.monotonic() + timeout
        ports = [self.port] + ([self.floor_port] if "floor" in self.procs else [])
        up: set[int] = set()
        worker_ok = False
        while time.monotonic() < deadline:
            self._check_alive()
            up |= {p for p in ports if p not in up and _http_ok(p)}
            worker_ok = worker_ok or " ready." in self.log("worker", worker_log_from)
            if worker_ok and len(up) == len(ports):
                return
            time.sleep(0.2)
        waiting = [n for n, p in (("web", self.port), ("floor", self.floor_port)) if p in ports and p not in up]
        waiting += [] if worker_ok else ["worker"]
        raise click.ClickException(f"not ready in {timeout:.0f} s: {', '.join(waiting)}\n{self.log('web')[-2000:]}\n"
                                   f"{self.log('worker', worker_log_from)[-2000:]}")

    def memory(self) -> dict[str, list[float]]:
        """RSS in MiB of each process of each role (gunicorn master and workers, Celery parent and pool)."""
        result = {}
        for name, (proc, _) in self.procs.items():
            pids = [proc.pid, *_children(proc.pid)]
            result[name] = [r for r in (_rss_mib(p) for p in pids) if r is not None]
        return result

    def stop_process(self, name: str) -> None:
        proc, log = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()

    def restart(self, name: str) -> int:
        """Stop a process and start it again with the same command; returns its log offset."""
        self.stop_process(name)
        args, env = self.commands[name]
        return self._spawn(name, args, env)

    def stop(self) -> None:
        for proc, _ in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in list(self.procs):
            self.stop_process(name)


# --- the load process -------------------------------------------------------------

def run_load(port: int, tokens: dict, requests: int, concurrency: int, seconds: float,
             scenario: str = "lifecycle", **extra) -> dict:
    """One level of load from a separate process (bench/loadgen.py), so the bench's own work is not in it.

    `requests` caps lifecycles (service) or transitions (floor); `seconds` ends the level.
    """
    config = json.dumps({"scenario": scenario, "port": port, "tokens": tokens, "requests": requests,
                         "concurrency": concurrency, "seconds": seconds, **extra})
    out = subprocess.run([sys.executable, "-m", "bench.loadgen", config], capture_output=True, text=True,
                         timeout=seconds + 120, cwd=str(ROOT))
    if out.returncode != 0:
        raise click.ClickException(f"load process failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout)
    result["lifecycles"] = result["done"]
    return result


def _load_share(load: dict) -> str:
    return f"load generator {100 * load['cpu_seconds'] / load['elapsed']:.0f} % of a core"


# --- databases ---------------------------------------------------------------------------

def _create_database(admin_url: str, prefix: str = "interdept_bench") -> tuple[str, str]:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(env: dict) -> dict[str, str]:
    from config.settings import Settings
    from services.bootstrap import bootstrap
    from services.adapters.migrate import upgrade
    from services.registry import seed_demo_users, seed_reference

    settings = Settings.from_env(env)
    upgrade(settings)
    services = bootstrap(settings, publisher=lambda ids: None)
    try:
        with services.uow() as uow:
            seed_reference(uow)
            issued = seed_demo_users(uow)
            uow.commit()
    finally:
        services.dispose()
    return {email.split("@")[0].replace(".", "_"): token for email, token in issued}


# --- the levels ---------------------------------------------------------------------------

@dataclass
class Run:
    """What every level needs: the topology, its databases, the sink and the knobs."""

    topology: Topology
    db_url: str
    smtp: SmtpCounter
    tokens: dict
    floor_token: str
    requests: int
    seconds: float
    floor_seconds: float
    ref_seconds: float
    echo: object = click.echo

    @property
    def drain_timeout(self) -> float:
        return max(60.0, 3 * self.seconds)

    def floor(self, concurrency: int, seconds: float, requests: int | None = None) -> dict:
        return run_load(self.topology.floor_port, {}, requests or self.requests * TRANSITIONS_PER_LIFECYCLE,
                        concurrency, seconds, scenario="floor", token=self.floor_token, items=FLOOR_ITEMS)


def http_level(run: Run, level: int) -> LevelResult:
    """The service at `level` clients for `seconds`, then its drain, lag, PostgreSQL's rate and the floor's."""
    mark = run.smtp.count()[0]
    since = db_now(run.db_url)
    load = run_load(run.topology.port, run.tokens, requests=run.requests, concurrency=level, seconds=run.seconds)
    until = db_now(run.db_url)
    drained = wait_drained(run.db_url, run.drain_timeout)
    stats = event_stats(run.db_url, since, until)
    emails, last_email = run.smtp.since(mark)
    pg_tps, _ = reference_tps(run.db_url, level, run.ref_seconds, max_tx=100_000)
    floor = run.floor(level, run.floor_seconds)
    lat = load["latencies"]
    result = LevelResult(
        label=str(level), lifecycles=load["lifecycles"],
        transitions_per_s=load["lifecycles"] * TRANSITIONS_PER_LIFECYCLE / load["elapsed"],
        p50=percentile(lat, 50), p95=percentile(lat, 95), p99=percentile(lat, 99),
        lag_p50=percentile(stats.lags, 50), lag_p99=percentile(stats.lags, 99),
        events=stats.events, events_per_s=rate(stats.events, stats.first_created, stats.last_mark),
        emails=emails, emails_per_s=rate(emails, stats.first_created, last_email),
        errors=len(load["errors"]) + stats.failed, drained=drained, pg_tps=pg_tps,
        floor_rps=floor["done"] / floor["elapsed"], floor_errors=len(floor["errors"]),
    )
    run.echo(f"  {level} clients: {result.lifecycles} lifecycles in {load['elapsed']:.1f} s, "
             f"{result.transitions_per_s:.1f} transitions/s ({_load_share(load)}); PostgreSQL {pg_tps:.0f} tx/s; "
             f"floor {result.floor_rps:.0f} transitions/s ({_load_share(floor)})"
             + (f"; first error: {load['errors'][0]}" if load["errors"] else "")
             + (f"; first floor error: {floor['errors'][0]}" if floor["errors"] else ""))
    return result


def pipeline_level(run: Run, events: int, concurrency: int, events_per_lifecycle: float) -> LevelResult:
    """The worker alone: the outbox filled over HTTP with the worker stopped, then drained by a fresh worker.

    Rates run from the first handler mark (the new worker's first event) to the
    last mark (events/s) and to the last email at the sink (emails/s), so the
    worker's start-up and the fill are not in them.
    """
    topology = run.topology
    topology.stop_process("worker")
    lifecycles = max(1, round(events / max(events_per_lifecycle, 1.0)))
    since = db_now(run.db_url)
    load = run_load(topology.port, run.tokens, requests=lifecycles, concurrency=concurrency,
                    seconds=max(120.0, 4 * run.seconds))
    until = db_now(run.db_url)
    mark = run.smtp.count()[0]
    offset = topology.restart("worker")
    topology.wait_ready(worker_log_from=offset)
    drained = wait_drained(run.db_url, max(run.drain_timeout, 300.0))
    stats = event_stats(run.db_url, since, until)
    emails, last_email = run.smtp.since(mark)
    result = LevelResult(
        label="pipeline", lifecycles=load["lifecycles"], events=stats.events,
        events_per_s=rate(stats.events, stats.first_mark, stats.last_mark), emails=emails,
        emails_per_s=rate(emails, stats.first_mark, last_email),
        errors=len(load["errors"]) + stats.failed, drained=drained,
    )
    run.echo(f"  pipeline: {stats.events} events from {result.lifecycles} lifecycles filled in "
             f"{load['elapsed']:.1f} s with the worker stopped; drained by a fresh worker at "
             f"{result.events_per_s or 0:.1f} events/s, {result.emails_per_s or 0:.1f} emails/s"
             + (f"; first error: {load['errors'][0]}" if load["errors"] else ""))
    return result


# --- the command ------------------------------------------------------------------------

def run_bench(*, requests: int, concurrency: list[int], seconds: float, web_workers: int,
              worker_concurrency: int, ref_seconds: float, pg_admin_url: str, redis_url: str,
              floor_seconds: float = 10.0, pipeline_events: int = 600, gunicorn_args: list[str] | None = None,
              echo=click.echo) -> tuple[list[LevelResult], dict]:
    import redis as redis_lib

    if any(c < 1 for c in concurrency):
        raise click.BadParameter("concurrency levels must be positive")
    for url in (pg_admin_url, redis_url):
        host = url.split("@")[-1].split("//")[-1].split(":")[0].split("/")[0]
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise click.BadParameter(f"loopback only: {url}")
    workdir = Path(tempfile.mkdtemp(prefix="interdept-bench-"))
    redis_client = redis_lib.Redis.from_url(redis_url)
    redis_client.flushdb()
    db_name, db_url = _create_database(pg_admin_url)
    floor_name, floor_url = _create_database(pg_admin_url, "interdept_bench_floor")
    smtp = SmtpCounter().start()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "INTERDEPT_VAR_DIR": str(workdir / "var"),
        "INTERDEPT_BASE_URL": "http://127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    topology = Topology(env, workdir, web_workers, worker_concurrency, list(gunicorn_args or []))
    results: list[LevelResult] = []
    memory: dict[str, list[float]] = {}
    try:
        echo(f"databases {db_name} (service), {floor_name} (floor app); seeding; load average "
             + " ".join(f"{v:.2f}" for v in os.getloadavg()))
        tokens = _seed(env)
        floor_token = secrets.token_urlsafe(24)
        setup_database(floor_url, {1: floor_token}, FLOOR_ITEMS)
        topology.start()
        topology.start_floor(floor_url)
        topology.wait_ready()
        echo(f"gunicorn ({web_workers} workers{', ' + shlex.join(topology.gunicorn_args) if gunicorn_args else ''})"
             f" on :{topology.port}, the floor app likewise on :{topology.floor_port}, celery worker "
             f"(-c {worker_concurrency}), beat, SMTP sink on :{smtp.port}; {seconds:.0f} s per level")
        run = Run(topology, db_url, smtp, tokens, floor_token, requests, seconds, floor_seconds, ref_seconds, echo)
        # Warm up every web worker's pool and imports (both apps), so level 1 does not pay for them.
        run_load(topology.port, tokens, requests=2 * web_workers, concurrency=web_workers, seconds=30)
        run.floor(web_workers, 10, requests=4 * web_workers)
        wait_drained(db_url, 30)

        def note_memory() -> None:
            for name, values in topology.memory().items():
                if sum(values) >= sum(memory.get(name, [])):
                    memory[name] = values

        for level in concurrency:
            results.append(http_level(run, level))
            note_memory()
        if pipeline_events:
            done = [r for r in results if r.lifecycles]
            per_lifecycle = (sum(r.events for r in done) / sum(r.lifecycles for r in done)) if done else 3.0
            results.append(pipeline_level(run, pipeline_events, max(concurrency), per_lifecycle))
            note_memory()
        total, unique = smtp.count()
        if total != unique:
            echo(f"WARNING: {total - unique} duplicate emails at the SMTP sink")
    finally:
        topology.stop()
        smtp.stop()
        try:
            _drop_database(pg_admin_url, db_name)
            _drop_database(pg_admin_url, floor_name)
        finally:
            redis_client.flushdb()
            shutil.rmtree(workdir, ignore_errors=True)
    return results, memory


def _levels(value: str) -> list[int]:
    try:
        return [int(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError as exc:
        raise click.BadParameter("a comma-separated list of integers, e.g. 1,4,16") from exc


@click.group("bench", invoke_without_command=True)
@click.option("--seconds", default=20.0, show_default=True, type=click.FloatRange(1, 600),
              help="How long each HTTP level drives the service (long enough for a backlog to show in the lag).")
@click.option("--requests", "requests_", default=10_000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Upper bound of lifecycles (create+send, answer, accept) per level.")
@click.option("--concurrency", default="1,4,16", show_default=True, help="Concurrent HTTP clients per level.")
@click.option("--floor-seconds", default=10.0, show_default=True, type=click.FloatRange(1, 600),
              help="How long the floor app is driven at each level.")
@click.option("--pipeline-events", default=600, show_default=True, type=click.IntRange(0, 100_000),
              help="Outbox events filled for the pipeline-only level (0: no such level).")
@click.option("--web-workers", default=WEB_WORKERS, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn workers (sync unless --gunicorn-args say otherwise): the service's default.")
@click.option("--gunicorn-args", default="", show_default=True,
              help="More gunicorn options, for the service and the floor app alike (e.g. '-k gthread --threads 4').")
@click.option("--worker-concurrency", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--ref-seconds", default=3.0, show_default=True, type=click.FloatRange(0.5, 60),
              help="Duration of each PostgreSQL reference run.")
@click.option("--pg-admin-url", default=lambda: os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG),
              show_default=DEFAULT_PG, help="A database on the server where the bench databases are created.")
@click.option("--redis-url", default=lambda: os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
              show_default=DEFAULT_REDIS, help="Broker db; flushed before and after.")
@click.pass_context
def bench(ctx: click.Context, seconds: float, requests_: int, concurrency: str, floor_seconds: float,
          pipeline_events: int, web_workers: int, gunicorn_args: str, worker_concurrency: int, ref_seconds: float,
          pg_admin_url: str, redis_url: str) -> None:
    """Benchmark the production topology against PostgreSQL's own rate and the stack's floor."""
    if ctx.invoked_subcommand is not None:
        return
    started = time.monotonic()
    results, memory = run_bench(requests=requests_, concurrency=_levels(concurrency), seconds=seconds,
                                web_workers=web_workers, worker_concurrency=worker_concurrency,
                                ref_seconds=ref_seconds, pg_admin_url=pg_admin_url, redis_url=redis_url,
                                floor_seconds=floor_seconds, pipeline_events=pipeline_events,
                                gunicorn_args=shlex.split(gunicorn_args))
    click.echo("")
    click.echo(format_table(results))
    click.echo("")
    click.echo(LEGEND)
    click.echo("memory (peak RSS seen after each level):")
    click.echo(format_memory(memory))
    click.echo(f"total time: {time.monotonic() - started:.0f} s; load average at the end: "
               + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    if any(r.errors or r.floor_errors or not r.drained for r in results):
        sys.exit(1)
