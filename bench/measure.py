"""What the bench reads from the service's database: drain, event lag and rates, PostgreSQL's own rate.

All of it is plain psycopg on the bench database, read after (or between) the
load, so measuring never adds work to the service while it is measured.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import click


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _scalar(conn, sql: str, *params):
    return conn.execute(sql, params).fetchone()[0]


def wait_drained(db_url: str, timeout: float) -> bool:
    """Every outbox event completed and every email sent (or failed for good)."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            pending = _scalar(conn, "SELECT count(*) FROM outbox WHERE completed_at IS NULL")
            unsent = _scalar(conn, "SELECT count(*) FROM outgoing_emails WHERE state NOT IN ('sent', 'failed')")
            if pending == 0 and unsent == 0:
                return True
            time.sleep(0.2)
    return False


def pending_events(db_url: str) -> int:
    import psycopg

    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        return _scalar(conn, "SELECT count(*) FROM outbox WHERE completed_at IS NULL")


def db_now(db_url: str):
    import psycopg

    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        return _scalar(conn, "SELECT clock_timestamp()")


@dataclass
class EventStats:
    """The handled events of the outbox rows created in one window."""

    lags: list[float] = field(default_factory=list)  # seconds, one per (event, handler) mark
    events: int = 0  # events with at least one handler mark
    first_created: float | None = None  # epoch seconds
    first_mark: float | None = None
    last_mark: float | None = None
    failed: int = 0  # events with an error, emails failed for good


def event_stats(db_url: str, since, until) -> EventStats:
    """Lag, count and time span of the events created in [since, until), and the failures since `since`."""
    import psycopg

    stats = EventStats()
    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        stats.lags = [row[0] for row in conn.execute(
            "SELECT EXTRACT(EPOCH FROM (h.handled_at - o.created_at))::float8 FROM handled_events h"
            " JOIN outbox o ON o.id = h.event_id WHERE o.created_at >= %s AND o.created_at < %s",
            (since, until))]
        (stats.events, stats.first_created, stats.first_mark, stats.last_mark) = conn.execute(
            "SELECT count(DISTINCT o.id), EXTRACT(EPOCH FROM min(o.created_at))::float8,"
            " EXTRACT(EPOCH FROM min(h.handled_at))::float8, EXTRACT(EPOCH FROM max(h.handled_at))::float8"
            " FROM handled_events h JOIN outbox o ON o.id = h.event_id"
            " WHERE o.created_at >= %s AND o.created_at < %s", (since, until)).fetchone()
        stats.failed = _scalar(conn, "SELECT count(*) FROM outbox WHERE last_error IS NOT NULL"
                                     " AND created_at >= %s AND created_at < %s", since, until)
        stats.failed += _scalar(conn, "SELECT count(*) FROM outgoing_emails WHERE state = 'failed'"
                                      " AND created_at >= %s", since)
    return stats


def rate(count: int, start: float | None, end: float | None) -> float | None:
    if not count or start is None or end is None or end <= start:
        return None
    return count / (end - start)


def reference_tps(db_url: str, concurrency: int, seconds: float, max_tx: int) -> tuple[float, int]:
    """Transactions/s PostgreSQL does with a transition's writes, at this concurrency.

    Each client owns distinct request rows (as the load's clients do) and, in
    one transaction: updates the row with the version check, inserts the
    history row and the outbox row. The rows it wrote are deleted afterwards.
    """
    import psycopg
    from psycopg.types.json import Jsonb

    url = libpq_url(db_url)
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
