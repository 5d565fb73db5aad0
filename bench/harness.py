"""`python -m bench` (`make bench`): the production topology on this machine, measured against PostgreSQL's own limit.

One run creates a fresh PostgreSQL database, starts gunicorn, a Celery worker,
Celery beat and an SMTP sink, and drives complete information-request
lifecycles (create+send, answer, accept) over HTTP from a separate load process
at rising concurrency. After each level it measures, on the same database and
at the same concurrency, how many transactions per second PostgreSQL itself
does with the writes a transition makes (item update with version check,
history row, outbox row), so the service's rate is read as a fraction of the
machine's. Everything listens on loopback only; every loop is bounded in count
and time; the database and the Redis db are removed at the end.
"""
from __future__ import annotations

import json
import os
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

PROGRAM = "kotovsk-information-society"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
# Per lifecycle: send, answer, accept.
TRANSITIONS_PER_LIFECYCLE = 3


# --- small helpers ------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


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
    """An aiosmtpd sink in this process that counts messages by Message-ID."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.ids: list[str] = []
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


@dataclass
class Topology:
    """gunicorn, a Celery worker and beat as subprocesses of this one."""

    env: dict
    workdir: Path
    web_workers: int
    worker_concurrency: int
    port: int = field(default_factory=_free_port)
    procs: dict = field(default_factory=dict)

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")
        self.procs[name] = (subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                             cwd=str(Path(__file__).resolve().parent.parent)), log)

    def start(self) -> None:
        py = sys.executable
        self._spawn("web", [py, "-m", "gunicorn", "-w", str(self.web_workers), "-b", f"127.0.0.1:{self.port}",
                            "--backlog", "256", "--log-level", "warning", "services.web.wsgi:app"])
        self._spawn("worker", [py, "-m", "celery", "-A", "workers.app", "worker", "-Q", "interdept",
                               "-c", str(self.worker_concurrency), "-l", "INFO", "--without-gossip",
                               "--without-mingle", "--without-heartbeat"])
        self._spawn("beat", [py, "-m", "celery", "-A", "workers.app", "beat", "-l", "WARNING",
                             "-s", str(self.workdir / "celerybeat-schedule")])

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        web_ok = worker_ok = False
        while time.monotonic() < deadline:
            for name, (proc, _) in self.procs.items():
                if proc.poll() is not None:
                    raise click.ClickException(f"{name} exited early:\n{self.log(name)[-3000:]}")
            if not web_ok:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    conn.request("GET", "/healthz")
                    web_ok = conn.getresponse().status == 200
                    conn.close()
                except OSError:
                    pass
            worker_ok = worker_ok or " ready." in self.log("worker")
            if web_ok and worker_ok:
                return
            time.sleep(0.2)
        raise click.ClickException(f"topology not ready in {timeout}s:\n{self.log('web')[-2000:]}\n"
                                   f"{self.log('worker')[-2000:]}")

    def memory(self) -> dict[str, list[float]]:
        """RSS in MiB of each process of each role (gunicorn master and workers, Celery parent and pool)."""
        result = {}
        for name, (proc, _) in self.procs.items():
            pids = [proc.pid, *_children(proc.pid)]
            result[name] = [r for r in (_rss_mib(p) for p in pids) if r is not None]
        return result

    def stop(self) -> None:
        for proc, _ in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()


# --- the load process -------------------------------------------------------------

def _load_main(config_json: str) -> None:
    """Runs in its own process: lifecycles over keep-alive HTTP, one thread per concurrent client."""
    import http.client

    cfg = json.loads(config_json)
    port, tokens = cfg["port"], cfg["tokens"]
    total, concurrency, cap = cfg["requests"], cfg["concurrency"], cfg["seconds"]
    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    errors: list[str] = []
    lifecycles = [0]
    stop_at = time.monotonic() + cap

    def take() -> bool:
        with lock:
            if state["next"] >= total or time.monotonic() >= stop_at:
                return False
            state["next"] += 1
            return True

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []

        def call(token: str, path: str, body: dict, expect: int) -> dict | None:
            nonlocal conn
            payload = json.dumps(body).encode()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with lock:
                    errors.append(f"{path}: {exc!r}")
                return None
            mine.append(time.perf_counter() - started)
            if response.status != expect:
                with lock:
                    errors.append(f"{path}: HTTP {response.status} {data[:200]!r}")
                return None
            return json.loads(data)

        while take():
            created = call(tokens["it"], "/api/v1/requests", {
                "program": PROGRAM, "subject": "Нагрузочный запрос", "body": "Сведения для отчёта.",
                "addressees": ["mfc"], "send": True}, 201)
            if created is None:
                continue
            rid = created["requests"][0]["id"]
            if call(tokens["mfc"], f"/api/v1/requests/{rid}/transitions",
                    {"event": "answer", "data": {"text": "Сведения приложены."}}, 200) is None:
                continue
            if call(tokens["it"], f"/api/v1/requests/{rid}/transitions", {"event": "accept"}, 200) is None:
                continue
            with lock:
                lifecycles[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    json.dump({"elapsed": elapsed, "lifecycles": lifecycles[0], "latencies": latencies, "errors": errors},
              sys.stdout)


def run_load(port: int, tokens: dict, requests: int, concurrency: int, seconds: float) -> dict:
    config = json.dumps({"port": port, "tokens": tokens, "requests": requests, "concurrency": concurrency,
                         "seconds": seconds})
    out = subprocess.run([sys.executable, "-m", "bench.harness", config], capture_output=True, text=True,
                         timeout=seconds + 120, cwd=str(Path(__file__).resolve().parent.parent))
    if out.returncode != 0:
        raise click.ClickException(f"load process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


# --- the physical reference ----------------------------------------------------------

def reference_tps(db_url: str, concurrency: int, seconds: float, max_tx: int) -> tuple[float, int]:
    """Transactions/s PostgreSQL does with a transition's writes, at this concurrency.

    Each client owns distinct request rows (as the load's clients do) and, in
    one transaction: updates the row with the version check, inserts the
    history row and the outbox row. The rows it wrote are deleted afterwards.
    """
    import psycopg
    from psycopg.types.json import Jsonb

    url = _libpq_url(db_url)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT id, version FROM information_requests ORDER BY id").fetchall()
        actor = conn.execute("SELECT id FROM users WHERE email = 'it@kotovsk.example'").fetchone()[0]
    if len(rows) < concurrency:
        raise click.ClickException("too few request rows for the reference run")
    shares = [rows[i::concurrency] for i in range(concurrency)]
    counts = [0] * concurrency
    failures: list[str] = []
    barrier = threading.Barrier(concurrency + 1)
    stop = threading.Event()
    per_client = max(1, max_tx // concurrency)

    def client(i: int) -> None:
        versions = {rid: v for rid, v in shares[i]}
        ids = list(versions)
        states = ("answered", "accepted")
        try:
            with psycopg.connect(url) as conn:
                barrier.wait()
                n = 0
                while not stop.is_set() and n < per_client:
                    rid = ids[n % len(ids)]
                    source, target = states[n % 2], states[(n + 1) % 2]
                    with conn.transaction():
                        cur = conn.execute(
                            "UPDATE information_requests SET state = %s, version = version + 1, updated_at = now()"
                            " WHERE id = %s AND version = %s", (target, rid, versions[rid]))
                        if cur.rowcount != 1:
                            raise RuntimeError(f"version check failed on {rid}")
                        payload = {"workflow": "bench_reference", "item_id": rid, "event": "accept",
                                   "from": source, "to": target, "actor_id": actor, "actor_department": "it",
                                   "comment": "", "thread_id": rid, "department": "mfc"}
                        conn.execute(
                            "INSERT INTO transitions (workflow, item_id, event, from_state, to_state, actor_id,"
                            " actor_department, actor_role, comment, payload, at)"
                            " VALUES ('bench_reference', %s, 'accept', %s, %s, %s, 'it', 'requester', '', %s, now())",
                            (rid, source, target, actor, Jsonb(payload)))
                        conn.execute(
                            "INSERT INTO outbox (id, type, payload, created_at, published_at, publish_count)"
                            " VALUES (%s, 'bench_reference.accept', %s, now(), now(), 1)",
                            (uuid.uuid4().hex, Jsonb(payload)))
                    versions[rid] += 1
                    n += 1
                counts[i] = n
        except Exception as exc:  # noqa: BLE001
            failures.append(repr(exc))
            try:
                barrier.abort()
            except threading.BrokenBarrierError:
                pass

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    try:
        barrier.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    timer.cancel()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM outbox WHERE type = 'bench_reference.accept'")
        conn.execute("DELETE FROM transitions WHERE workflow = 'bench_reference'")
    if failures:
        raise click.ClickException(f"reference run failed: {failures[0]}")
    return sum(counts) / elapsed, sum(counts)


# --- measuring what the workers did -------------------------------------------------------

def _scalar(conn, sql: str, *params):
    return conn.execute(sql, params).fetchone()[0]


def wait_drained(db_url: str, timeout: float) -> bool:
    """Every outbox event completed and every email sent (or failed for good)."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(_libpq_url(db_url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            pending = _scalar(conn, "SELECT count(*) FROM outbox WHERE completed_at IS NULL")
            unsent = _scalar(conn, "SELECT count(*) FROM outgoing_emails WHERE state NOT IN ('sent', 'failed')")
            if pending == 0 and unsent == 0:
                return True
            time.sleep(0.2)
    return False


def event_lags(db_url: str, since, until) -> tuple[list[float], int]:
    """Seconds from each outbox row's creation to each handler's mark, for events created in the window."""
    import psycopg

    with psycopg.connect(_libpq_url(db_url), autocommit=True) as conn:
        lags = [row[0] for row in conn.execute(
            "SELECT EXTRACT(EPOCH FROM (h.handled_at - o.created_at))::float8 FROM handled_events h"
            " JOIN outbox o ON o.id = h.event_id WHERE o.created_at >= %s AND o.created_at < %s",
            (since, until))]
        failed = _scalar(conn, "SELECT count(*) FROM outbox WHERE last_error IS NOT NULL AND created_at >= %s"
                               " AND created_at < %s", since, until)
        failed += _scalar(conn, "SELECT count(*) FROM outgoing_emails WHERE state = 'failed'")
    return lags, failed


def _db_now(db_url: str):
    import psycopg

    with psycopg.connect(_libpq_url(db_url), autocommit=True) as conn:
        return _scalar(conn, "SELECT clock_timestamp()")


# --- the command ------------------------------------------------------------------------

@dataclass
class LevelResult:
    concurrency: int
    lifecycles: int
    transitions_per_s: float
    p50: float | None
    p95: float | None
    p99: float | None
    lag_p50: float | None
    lag_p99: float | None
    emails: int
    errors: int
    pg_tps: float
    drained: bool

    @property
    def ratio(self) -> float:
        return self.transitions_per_s / self.pg_tps if self.pg_tps else 0.0


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f}"


def format_table(results: list[LevelResult]) -> str:
    head = ("conc", "lifecycles", "trans/s", "p50 ms", "p95 ms", "p99 ms", "lag p50 ms", "lag p99 ms",
            "emails", "errors", "PG tx/s", "ratio")
    rows = [head]
    for r in results:
        rows.append((str(r.concurrency), str(r.lifecycles), f"{r.transitions_per_s:.1f}", _ms(r.p50), _ms(r.p95),
                     _ms(r.p99), _ms(r.lag_p50), _ms(r.lag_p99), str(r.emails),
                     str(r.errors) + ("" if r.drained else " (not drained)"), f"{r.pg_tps:.0f}",
                     f"{r.ratio:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def format_memory(memory: dict[str, list[float]]) -> str:
    labels = {"web": "gunicorn (master, then workers)", "worker": "celery worker (parent, then pool)",
              "beat": "celery beat"}
    return "\n".join(f"  {labels.get(name, name)}: " + ", ".join(f"{v:.0f}" for v in values) + " MiB RSS"
                     for name, values in memory.items())


def _create_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"interdept_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as conn:
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


def run_bench(*, requests: int, concurrency: list[int], seconds: float, web_workers: int,
              worker_concurrency: int, ref_seconds: float, pg_admin_url: str, redis_url: str,
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
    topology = Topology(env, workdir, web_workers, worker_concurrency)
    results: list[LevelResult] = []
    memory: dict[str, list[float]] = {}
    try:
        echo(f"database {db_name}; seeding")
        tokens = _seed(env)
        topology.start()
        topology.wait_ready()
        echo(f"gunicorn ({web_workers} workers) on 127.0.0.1:{topology.port}, celery worker "
             f"(-c {worker_concurrency}), beat, SMTP sink on :{smtp.port}")
        # Warm up every web worker's pool and imports, so level 1 does not pay for them.
        run_load(topology.port, tokens, requests=2 * web_workers, concurrency=web_workers, seconds=30)
        wait_drained(db_url, 30)
        for level in concurrency:
            emails_before = smtp.count()[0]
            since = _db_now(db_url)
            load = run_load(topology.port, tokens, requests=requests, concurrency=level, seconds=seconds)
            until = _db_now(db_url)
            drained = wait_drained(db_url, 30)
            lags, failed = event_lags(db_url, since, until)
            lat = load["latencies"]
            pg_tps, _ = reference_tps(db_url, level, ref_seconds, max_tx=100_000)
            for name, values in topology.memory().items():
                if sum(values) >= sum(memory.get(name, [])):
                    memory[name] = values
            result = LevelResult(
                concurrency=level, lifecycles=load["lifecycles"],
                transitions_per_s=load["lifecycles"] * TRANSITIONS_PER_LIFECYCLE / load["elapsed"],
                p50=_percentile(lat, 50), p95=_percentile(lat, 95), p99=_percentile(lat, 99),
                lag_p50=_percentile(lags, 50), lag_p99=_percentile(lags, 99),
                emails=smtp.count()[0] - emails_before, errors=len(load["errors"]) + failed,
                pg_tps=pg_tps, drained=drained,
            )
            results.append(result)
            echo(f"  concurrency {level}: {result.lifecycles} lifecycles, {result.transitions_per_s:.1f} "
                 f"transitions/s, PostgreSQL {pg_tps:.0f} tx/s" +
                 (f"; first error: {load['errors'][0]}" if load["errors"] else ""))
        total, unique = smtp.count()
        if total != unique:
            echo(f"WARNING: {total - unique} duplicate emails at the SMTP sink")
    finally:
        topology.stop()
        smtp.stop()
        try:
            _drop_database(pg_admin_url, db_name)
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
@click.option("--requests", "requests_", default=150, show_default=True, type=click.IntRange(1, 100_000),
              help="Lifecycles (create+send, answer, accept) per concurrency level.")
@click.option("--concurrency", default="1,4,16", show_default=True, help="Concurrent HTTP clients per level.")
@click.option("--seconds", default=20.0, show_default=True, type=click.FloatRange(1, 600),
              help="Time cap of each level's load.")
@click.option("--web-workers", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--worker-concurrency", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--ref-seconds", default=3.0, show_default=True, type=click.FloatRange(0.5, 60),
              help="Duration of each PostgreSQL reference run.")
@click.option("--pg-admin-url", default=lambda: os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG),
              show_default=DEFAULT_PG, help="A database on the server where the bench database is created.")
@click.option("--redis-url", default=lambda: os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
              show_default=DEFAULT_REDIS, help="Broker db; flushed before and after.")
@click.pass_context
def bench(ctx: click.Context, requests_: int, concurrency: str, seconds: float, web_workers: int,
          worker_concurrency: int, ref_seconds: float, pg_admin_url: str, redis_url: str) -> None:
    """Benchmark the production topology against PostgreSQL's own rate (`bench sweep`: the sweep)."""
    if ctx.invoked_subcommand is not None:
        return
    levels = _levels(concurrency)
    started = time.monotonic()
    results, memory = run_bench(requests=requests_, concurrency=levels, seconds=seconds, web_workers=web_workers,
                                worker_concurrency=worker_concurrency, ref_seconds=ref_seconds,
                                pg_admin_url=pg_admin_url, redis_url=redis_url)
    click.echo("")
    click.echo(format_table(results))
    click.echo("")
    click.echo("trans/s: transitions per second over HTTP (3 per lifecycle); p50/p95/p99: HTTP latency;")
    click.echo("lag: outbox row created -> handler done; PG tx/s: the same writes straight to PostgreSQL;")
    click.echo("ratio: trans/s / PG tx/s at the same concurrency.")
    click.echo("memory (peak RSS seen after each level):")
    click.echo(format_memory(memory))
    click.echo(f"total time: {time.monotonic() - started:.0f} s")
    if any(r.errors or not r.drained for r in results):
        sys.exit(1)


if __name__ == "__main__":
    _load_main(sys.argv[1])
