"""`python -m bench sweep`: the reminder sweep must cost what is due, not what is open.

Bulk-loads open items' reminder steps into a fresh PostgreSQL database (COPY),
1,000 of them due, and times one sweep at growing table sizes, printing the
query plan of the due-steps query at the largest size.
"""
from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import click

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _load_steps(engine, total: int, due: int, now) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("TRUNCATE reminder_steps, outbox RESTART IDENTITY")
        future, past = now + timedelta(days=30), now - timedelta(minutes=5)
        columns = "item_kind, item_id, rule, deadline_revision, due_date, fire_at, state, created_at"
        with cur.copy(f"COPY reminder_steps ({columns}) FROM STDIN") as copy:
            for i in range(total):
                fire_at = past if i < due else future + timedelta(seconds=i % 86400)
                copy.write_row(("information_request", i + 1, "due_soon", 1, "2026-12-31", fire_at,
                                "pending", now))
        cur.execute("ANALYZE reminder_steps")
        raw.commit()
    finally:
        raw.close()


def run(pg_admin_url: str, sizes: list[int], due: int) -> list[dict]:
    from sqlalchemy import create_engine, text

    from config.settings import Settings
    from services.bootstrap import bootstrap
    from services.adapters.migrate import upgrade
    from services.reminders import sweep_reminders
    from workflows.reminders import next_send_instant

    name = f"interdept_bench_sweep_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    rows = []
    try:
        settings = Settings.from_env({"DATABASE_URL": url, "INTERDEPT_VAR_DIR": f"/tmp/{name}"})
        upgrade(settings)
        services = bootstrap(settings, publisher=lambda ids: None)
        # An instant inside working hours, so the sweep does its work.
        from services.models.base import utcnow

        now = next_send_instant(services.calendar, services.tz, utcnow()) + timedelta(minutes=1)
        _load_steps(services.engine, 10, 10, now)
        sweep_reminders(services, now)  # warm-up: imports, calendar, connection pool
        for size in sizes:
            started = time.perf_counter()
            _load_steps(services.engine, size, due, now)
            load_s = time.perf_counter() - started
            started = time.perf_counter()
            fired = sweep_reminders(services, now, batch=1000)
            sweep_s = time.perf_counter() - started
            rows.append({"open": size, "due": due, "fired": fired, "load_s": load_s, "sweep_ms": sweep_s * 1000})
        with services.engine.connect() as conn:
            # Put the due rows back to show the plan the sweep uses at the largest size.
            conn.execute(text("UPDATE reminder_steps SET state = 'pending' WHERE fire_at < :now"), {"now": now})
            conn.commit()
            plan = conn.execute(text(
                "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM reminder_steps WHERE state = 'pending' "
                "AND fire_at <= :now ORDER BY fire_at LIMIT 1000 FOR UPDATE SKIP LOCKED"), {"now": now}).scalars().all()
        rows.append({"plan": plan})
        services.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return rows


@click.command("sweep")
@click.option("--sizes", default="10000,100000,1000000", show_default=True, help="Open items per run.")
@click.option("--due", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--pg-admin-url", default=lambda: os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG), show_default=True)
def sweep_bench(sizes: str, due: int, pg_admin_url: str) -> None:
    """Time one reminder sweep as open items grow (needs PostgreSQL)."""
    try:
        counts = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter("comma-separated integers", param_hint="--sizes") from None
    results = run(pg_admin_url, counts, due)
    plan = results.pop()["plan"]
    click.echo(f"{'open items':>12} {'due':>6} {'fired':>6} {'bulk load s':>12} {'one sweep ms':>13}")
    for r in results:
        click.echo(f"{r['open']:>12,} {r['due']:>6} {r['fired']:>6} {r['load_s']:>12.1f} {r['sweep_ms']:>13.1f}")
    click.echo("\nquery plan of the due-steps query at the largest size:")
    for line in plan:
        click.echo(f"  {line}")
