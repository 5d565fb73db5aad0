"""`python -m bench profile`: the request path in-process, per call kind, on PostgreSQL.

Drives ``--lifecycles`` complete lifecycles (create+send by IT, answer by MFC, accept by IT: the bench's
lifecycle, the same bodies) through the Flask test client against a fresh PostgreSQL database (created
here, dropped at the end; no broker: the publisher is a no-op, so no worker runs), and prints per call
kind the medians of: SQL statements sent (SQLAlchemy ``before_cursor_execute``), pool checkouts
(``checkout`` pool events), pre-ping round trips (the dialect's ``do_ping``), transactions begun on a
connection (``begin``), CPU ms of this process (``time.process_time``) and wall ms. With ``--pyinstrument``
(the optional ``profile`` extra: ``pip install -e '.[profile]'``) the same calls run once more under
pyinstrument and its text profile is printed.
"""
from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from contextlib import contextmanager

import click

from bench.harness import DEFAULT_PG, _create_database, _drop_database
from bench.loadgen import PROGRAM

KINDS = ("create+send", "answer", "accept")
CREATE = {"program": PROGRAM, "subject": "Нагрузочный запрос", "body": "Сведения для отчёта.",
          "addressees": ["mfc"], "send": True}
ANSWER = {"event": "answer", "data": {"text": "Сведения приложены."}}
ACCEPT = {"event": "accept"}


class Counters:
    """SQL statements, pool checkouts, pings and BEGINs of one engine, read as deltas around a call."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.n = Counter()
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", lambda conn: self.n.update(["begin"]))
        event.listen(engine.pool, "checkout", lambda *a: self.n.update(["checkout"]))
        dialect = engine.dialect
        original = dialect.do_ping

        def counted_ping(dbapi_connection):
            self.n["ping"] += 1
            return original(dbapi_connection)

        dialect.do_ping = counted_ping

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        self.n["sql"] += 1
        self.statements.append(statement.split(None, 1)[0].upper() + " " + _table(statement))

    def snapshot(self) -> Counter:
        return Counter(self.n)


def _table(statement: str) -> str:
    words = statement.replace("\n", " ").split()
    upper = [w.upper() for w in words]
    for key in ("FROM", "INTO", "UPDATE"):
        if key in upper[:40]:
            i = upper.index(key)
            if i + 1 < len(words):
                return words[i + 1].strip('"(')
    return ""


@contextmanager
def _services(pg_admin_url: str):
    from config.settings import Settings
    from services.adapters.migrate import upgrade
    from services.bootstrap import bootstrap
    from services.registry import seed_demo_users, seed_reference

    name, url = _create_database(pg_admin_url, prefix="interdept_profile")
    services = None
    try:
        settings = Settings.from_env({"DATABASE_URL": url, "INTERDEPT_VAR_DIR": f"/tmp/{name}",
                                      "INTERDEPT_ENV": os.environ.get("INTERDEPT_ENV", "development")})
        upgrade(settings)
        services = bootstrap(settings, publisher=lambda ids: None)
        with services.uow() as uow:
            seed_reference(uow)
            issued = seed_demo_users(uow)
            uow.commit()
        tokens = {email.split("@")[0].replace(".", "_"): token for email, token in issued}
        yield services, tokens
    finally:
        if services is not None:
            services.dispose()
        _drop_database(pg_admin_url, name)


def lifecycle_calls(client, tokens: dict):
    """One lifecycle as three (kind, call) pairs; each call returns the response."""
    it = {"Authorization": f"Bearer {tokens['it']}"}
    mfc = {"Authorization": f"Bearer {tokens['mfc']}"}
    state: dict = {}

    def create():
        r = client.post("/api/v1/requests", json=CREATE, headers=it)
        assert r.status_code == 201, r.get_data(as_text=True)
        state["rid"] = r.json["requests"][0]["id"]
        return r

    def answer():
        r = client.post(f"/api/v1/requests/{state['rid']}/transitions", json=ANSWER, headers=mfc)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r

    def accept():
        r = client.post(f"/api/v1/requests/{state['rid']}/transitions", json=ACCEPT, headers=it)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r

    return list(zip(KINDS, (create, answer, accept)))


def measure(lifecycles: int, pg_admin_url: str, pyinstrument: bool = False, show_sql: bool = False) -> dict:
    from services.web.app import create_app

    with _services(pg_admin_url) as (services, tokens):
        app = create_app(services=services, test_config={"TESTING": True})
        client = app.test_client()
        counters = Counters(services.engine)
        for kind, call in lifecycle_calls(client, tokens) * 1:  # warm: plans, caches, lazy imports
            call()
        for _ in range(2):
            for kind, call in lifecycle_calls(client, tokens):
                call()
        samples: dict[str, list[dict]] = {kind: [] for kind in KINDS}
        last_sql: dict[str, list[str]] = {}
        for _ in range(lifecycles):
            for kind, call in lifecycle_calls(client, tokens):
                before, mark = counters.snapshot(), len(counters.statements)
                cpu, wall = time.process_time(), time.perf_counter()
                call()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                after = counters.snapshot()
                samples[kind].append({"cpu_ms": cpu * 1000, "wall_ms": wall * 1000,
                                      **{k: after[k] - before[k] for k in ("sql", "checkout", "ping", "begin")}})
                last_sql[kind] = counters.statements[mark:]
        result = {"kinds": {kind: {key: statistics.median(s[key] for s in rows) for key in rows[0]}
                            for kind, rows in samples.items()},
                  "statements": last_sql}
        if pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            for _ in range(lifecycles):
                for _kind, call in lifecycle_calls(client, tokens):
                    call()
            profiler.stop()
            result["pyinstrument"] = profiler.output_text(unicode=True, color=False, show_all=False)
        return result


@click.command("profile")
@click.option("--lifecycles", default=40, show_default=True, help="Lifecycles measured (after 3 warm-up ones).")
@click.option("--pg-admin-url", default=lambda: os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG),
              show_default=DEFAULT_PG, help="A database on the server where the profile's database is created.")
@click.option("--pyinstrument", "with_pyinstrument", is_flag=True,
              help="Also run the calls under pyinstrument and print its profile (the 'profile' extra).")
@click.option("--sql", "show_sql", is_flag=True, help="List the statements of the last call of each kind.")
def profile_path(lifecycles: int, pg_admin_url: str, with_pyinstrument: bool, show_sql: bool) -> None:
    """The request path in-process: SQL statements, pool checkouts, pings, CPU ms per call kind."""
    result = measure(lifecycles, pg_admin_url, with_pyinstrument, show_sql)
    click.echo(f"{lifecycles} lifecycles through the Flask test client on PostgreSQL (medians per call)")
    click.echo("| call | SQL statements | pool checkouts | pre-pings | BEGINs | CPU ms | wall ms |")
    click.echo("|------|----------------|----------------|-----------|--------|--------|---------|")
    for kind, row in result["kinds"].items():
        click.echo(f"| {kind} | {row['sql']:g} | {row['checkout']:g} | {row['ping']:g} | {row['begin']:g} "
                   f"| {row['cpu_ms']:.1f} | {row['wall_ms']:.1f} |")
    if show_sql:
        for kind, statements in result["statements"].items():
            click.echo(f"\n{kind}:")
            for statement in statements:
                click.echo(f"  {statement}")
    if "pyinstrument" in result:
        click.echo("\n" + result["pyinstrument"])

