"""`python -m bench lists`: a list page and a search must cost the same with 1,000 items or 1,000,000.

Fills a fresh PostgreSQL database (created here, dropped at the end) with information requests by
``INSERT ... SELECT generate_series`` (one thread and one sent copy per item, addressed in turn to three
departments), then times, at each size, what a person waits for: the first page of /requests and
searches, through the Flask app (the page rendered) and through the use case alone, as the
administrator (sees everything) and as MFC (sees a third). The rare search finds the same 10 rows,
the oldest, at every size; the common one finds an eighth of all rows.
"""
from __future__ import annotations

import os
import statistics
import time
import uuid

import click

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RARE = "серверной"      # in the 10 oldest subjects only
COMMON = "закупках"     # in every eighth subject
TOPICS = ("посещаемости сайта", "услугах МФЦ", "обращениях граждан", "закупках", "электронных услугах",
          "доступности сайта", "обучении сотрудников", "каналах связи")


def _fill(conn, info: dict, start: int, stop: int) -> None:
    """Items start+1 .. stop; ids follow the series, so item i is request i and thread i."""
    from sqlalchemy import text

    topics = "ARRAY[" + ", ".join(f"'{t}'" for t in TOPICS) + "]"
    subject = (f"CASE WHEN i <= 10 THEN 'Отчёт о ремонте серверной № ' || i "
               f"ELSE 'Запрос сведений № ' || i || ' о ' || ({topics})[1 + i % 8] END")
    conn.execute(text(f"""
        INSERT INTO request_threads (id, program_id, requester_department_id, created_by_id, subject, body,
                                     form, working_days, created_at, search_text)
        SELECT i, :program, :it, :user, s, 'Просим представить сведения.', '[]'::json, 5,
               now() - make_interval(secs => :stop - i), replace(lower(s || ' Просим представить сведения.'), 'ё', 'е')
        FROM (SELECT i, {subject} AS s FROM generate_series(:start + 1, :stop) AS i) AS g
    """), {"start": start, "stop": stop, "program": info["program"], "it": info["depts"]["it"],
           "user": info["user"]})
    conn.execute(text("""
        INSERT INTO information_requests (id, thread_id, department_id, requester_department_id, state, version,
                                          working_days, sent_at, due_date, due_at, deadline_revision, pauses,
                                          extensions, created_at, updated_at)
        SELECT i, i, (ARRAY[:mfc, :fin, :econ])[1 + i % 3], :it, (ARRAY['sent', 'answered', 'accepted'])[1 + i % 3],
               1, 5, now() - make_interval(secs => :stop - i), (now() + make_interval(days => i % 60))::date,
               now() + make_interval(days => i % 60), 0, '[]'::json, '[]'::json, now(), now()
        FROM generate_series(:start + 1, :stop) AS i
    """), {"start": start, "stop": stop, "mfc": info["depts"]["mfc"], "fin": info["depts"]["finance"],
           "it": info["depts"]["it"],
           "econ": info["depts"]["economic-policy"]})
    for table in ("request_threads", "information_requests"):
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :stop)"), {"stop": stop})


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm: plans, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(pg_admin_url: str, sizes: list[int], repeat: int, sorts: bool = False) -> tuple[list[dict], dict]:
    from sqlalchemy import create_engine, select, text

    from config.settings import Settings
    from services import lists
    from services.adapters.migrate import upgrade
    from services.bootstrap import bootstrap
    from services.models.registry import Department, Program, User
    from services.registry import actor_for, seed_demo_users, seed_reference
    from services.web.app import create_app

    name = f"interdept_bench_lists_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    rows, plans = [], {}
    try:
        settings = Settings.from_env({"DATABASE_URL": url, "INTERDEPT_VAR_DIR": f"/tmp/{name}"})
        upgrade(settings)
        services = bootstrap(settings, publisher=lambda ids: None)
        with services.uow() as uow:
            seed_reference(uow)
            seed_demo_users(uow)
            uow.commit()
        with services.uow() as uow:
            s = uow.session
            info = {"depts": dict(s.execute(select(Department.code, Department.id)).all()),
                    "user": s.execute(select(User.id).where(User.email == "it@kotovsk.example")).scalar_one(),
                    "program": s.execute(select(Program.id)).scalars().first()}
            who = {w: actor_for(s.execute(select(User).where(User.email == f"{w}@kotovsk.example")).scalar_one())
                   for w in ("admin", "mfc")}
        app = create_app(services=services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})
        clients = {}
        for w in who:
            clients[w] = app.test_client()
            r = clients[w].post("/login", data={"email": f"{w}@kotovsk.example", "password": "demo-password-1"})
            assert r.status_code == 302, r.status_code
        done = 0
        for size in sizes:
            started = time.perf_counter()
            with services.engine.begin() as conn:
                # A GIN index is far quicker built once than updated row by row.
                conn.execute(text("DROP INDEX ix_request_threads_search_text"))
                _fill(conn, info, done, size)
                conn.execute(text("CREATE INDEX ix_request_threads_search_text ON request_threads "
                                  "USING gin (search_text gin_trgm_ops)"))
            with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE request_threads"))
                conn.execute(text("VACUUM ANALYZE information_requests"))
            fill_s, done = time.perf_counter() - started, size
            row = {"items": size, "fill_s": fill_s}
            for w in who:
                def use_case(q=None, limit=lists.COUNT_LIMIT, w=w):
                    with services.uow() as uow:
                        found = lists.request_page(uow.session, who[w], lists.RequestQuery(q=q), count_limit=limit)
                        return len(found.items), found.total
                row[f"{w}_page_ms"] = _median_ms(lambda w=w: clients[w].get("/requests"), repeat)
                row[f"{w}_rare_ms"] = _median_ms(lambda w=w: clients[w].get(f"/requests?q={RARE}"), repeat)
                row[f"{w}_common_ms"] = _median_ms(lambda w=w: clients[w].get(f"/requests?q={COMMON}"), repeat)
                row[f"{w}_uc_page_ms"] = _median_ms(use_case, repeat)
                row[f"{w}_uc_rare_ms"] = _median_ms(lambda: use_case(RARE), repeat)
                row[f"{w}_exact_count_ms"] = _median_ms(lambda: use_case(None, None), repeat)
                row[f"{w}_rare_found"] = use_case(RARE)
            if sorts:  # each column's order, first page, as the administrator (sees everything)
                for key in lists.REQUEST_COLUMNS:
                    def sorted_page(key=key):
                        with services.uow() as uow:
                            return len(lists.request_page(uow.session, who["admin"],
                                                          lists.RequestQuery(sort=key)).items)
                    row[f"sort_{key}_ms"] = _median_ms(sorted_page, repeat)
            rows.append(row)
        with services.engine.connect() as conn:
            for label, where in (("rare search", f"t.search_text LIKE '%{RARE}%'"), ("first page", "true")):
                plans[label] = conn.execute(text(
                    "EXPLAIN (ANALYZE, BUFFERS) SELECT r.id FROM information_requests r "
                    f"JOIN request_threads t ON t.id = r.thread_id WHERE {where} ORDER BY r.id DESC LIMIT 20"
                )).scalars().all()
        services.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return rows, plans


def sqlite_run(sizes: list[int], repeat: int) -> list[dict]:
    """The embedded default: the same items in a temporary SQLite file, the use case alone."""
    import tempfile

    from sqlalchemy import select, text

    from config.settings import Settings
    from services import lists
    from services.adapters.migrate import upgrade
    from services.bootstrap import bootstrap
    from services.models.registry import Department, Program, User
    from services.registry import actor_for, seed_demo_users, seed_reference

    var = tempfile.mkdtemp(prefix="interdept_bench_lists_")
    settings = Settings.from_env({"INTERDEPT_VAR_DIR": var})
    upgrade(settings)
    services = bootstrap(settings, publisher=lambda ids: None)
    with services.uow() as uow:
        seed_reference(uow)
        seed_demo_users(uow)
        uow.commit()
    with services.uow() as uow:
        s = uow.session
        depts = dict(s.execute(select(Department.code, Department.id)).all())
        user = s.execute(select(User.id).where(User.email == "it@kotovsk.example")).scalar_one()
        program = s.execute(select(Program.id)).scalars().first()
        admin = actor_for(s.execute(select(User).where(User.email == "admin@kotovsk.example")).scalar_one())
    topics = " ".join(f"WHEN {n} THEN '{t}'" for n, t in enumerate(TOPICS))
    rows, done = [], 0
    for size in sizes:
        started = time.perf_counter()
        with services.engine.begin() as conn:
            series = "WITH RECURSIVE g(i) AS (SELECT :start + 1 UNION ALL SELECT i + 1 FROM g WHERE i < :stop)"
            subject = (f"CASE WHEN i <= 10 THEN 'Отчёт о ремонте серверной № ' || i "
                       f"ELSE 'Запрос сведений № ' || i || ' о ' || (CASE i % 8 {topics} END) END")
            conn.execute(text(f"""{series}
                INSERT INTO request_threads (id, program_id, requester_department_id, created_by_id, subject, body,
                                             form, working_days, created_at, search_text)
                SELECT i, :program, :it, :user, {subject}, 'Просим представить сведения.', '[]', 5,
                       '2026-01-12 09:00:00.000000', '' FROM g"""),
                         {"start": done, "stop": size, "program": program, "it": depts["it"], "user": user})
            # SQLite's lower() is ASCII-only: the generated texts are folded as search_key would.
            conn.execute(text("UPDATE request_threads SET search_text = replace(replace(replace(replace("
                              "lower(subject || ' Просим представить сведения.'), 'О', 'о'), 'З', 'з'), "
                              "'П', 'п'), 'ё', 'е') WHERE id > :start"), {"start": done})
            conn.execute(text(f"""{series}
                INSERT INTO information_requests (id, thread_id, department_id, requester_department_id, state,
                                                  version, working_days, sent_at, deadline_revision, pauses,
                                                  extensions, created_at, updated_at)
                SELECT i, i, :mfc, :it, 'sent', 1, 5, '2026-01-12 09:00:00.000000', 0, '[]', '[]',
                       '2026-01-12 09:00:00.000000', '2026-01-12 09:00:00.000000' FROM g"""),
                         {"start": done, "stop": size, "mfc": depts["mfc"], "it": depts["it"]})
        with services.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        fill_s, done = time.perf_counter() - started, size

        def use_case(q=None):
            with services.uow() as uow:
                found = lists.request_page(uow.session, admin, lists.RequestQuery(q=q))
                return len(found.items), found.total

        rows.append({"items": size, "fill_s": fill_s, "page_ms": _median_ms(use_case, repeat),
                     "rare_ms": _median_ms(lambda: use_case(RARE), repeat),
                     "common_ms": _median_ms(lambda: use_case(COMMON), repeat), "rare_found": use_case(RARE)})
    services.dispose()
    return rows


@click.command("lists")
@click.option("--sizes", default="1000,100000,1000000", show_default=True, help="Items per run (growing).")
@click.option("--repeat", default=15, show_default=True, type=click.IntRange(1, 1000), help="Timings per figure.")
@click.option("--pg-admin-url", default=lambda: os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG), show_default=True)
@click.option("--sqlite", is_flag=True, help="The embedded default instead: the use case on a temporary SQLite file.")
@click.option("--sorts", is_flag=True, help="Also time the first page in each column's order (use case, admin).")
def lists_bench(sizes: str, repeat: int, pg_admin_url: str, sqlite: bool, sorts: bool) -> None:
    """Time the first list page and searches as the requests grow (needs PostgreSQL)."""
    try:
        counts = sorted(int(s) for s in sizes.split(",") if s.strip())
    except ValueError:
        raise click.BadParameter("comma-separated integers", param_hint="--sizes") from None
    if sqlite:
        click.echo(f"SQLite, the use case as admin, median of {repeat}, ms")
        click.echo(f"{'items':>10} {'fill s':>7} {'page':>7} {'rare':>7} {'common':>7}  found (rare)")
        for r in sqlite_run(counts, repeat):
            click.echo(f"{r['items']:>10,} {r['fill_s']:>7.1f} {r['page_ms']:>7.1f} {r['rare_ms']:>7.1f} "
                       f"{r['common_ms']:>7.1f}  {r['rare_found']}")
        return
    results, plans = run(pg_admin_url, counts, repeat, sorts)
    click.echo(f"median of {repeat}, ms; 'page'/'rare'/'common': GET /requests (rendered) with no query, "
               f"q={RARE} (10 rows), q={COMMON} (1/8 of rows); 'uc': the use case alone; "
               f"'exact count': the use case counting every match (the API's total)")
    head = (f"{'items':>10} {'fill s':>7} {'who':>6} {'page':>7} {'rare':>7} {'common':>7} {'uc page':>8} "
            f"{'uc rare':>8} {'exact count':>12}  found (rare)")
    click.echo(head)
    for r in results:
        for w in ("admin", "mfc"):
            click.echo(f"{r['items']:>10,} {r['fill_s']:>7.1f} {w:>6} {r[w + '_page_ms']:>7.1f} "
                       f"{r[w + '_rare_ms']:>7.1f} {r[w + '_common_ms']:>7.1f} {r[w + '_uc_page_ms']:>8.1f} "
                       f"{r[w + '_uc_rare_ms']:>8.1f} {r[w + '_exact_count_ms']:>12.1f}  {r[w + '_rare_found']}")
    if sorts:
        keys = [k[5:-3] for k in results[0] if k.startswith("sort_")]
        click.echo("\nfirst page in each column's order (use case, admin), ms")
        click.echo(f"{'items':>10} " + " ".join(f"{k:>8}" for k in keys))
        for r in results:
            click.echo(f"{r['items']:>10,} " + " ".join(f"{r[f'sort_{k}_ms']:>8.1f}" for k in keys))
    for label, plan in plans.items():
        click.echo(f"\nplan at the largest size, {label} (admin):")
        for line in plan:
            click.echo(f"  {line}")
