"""`interdept`: the one entry point for operators."""
from __future__ import annotations

import logging
import os
import sys
from datetime import date, datetime, timezone

import click

from config.settings import Settings, served_base_url
from services.adapters.migrate import upgrade
from services.adapters.supervisor import Supervisor
from services.audit_trail import seal as audit_seal_run
from services.audit_trail import verify as audit_verify_run
from services.bootstrap import bootstrap
from services.deadlines import sweep
from services.events.outbox import relay
from services.models.registry import User
from services.people import issue_password_link, set_password
from services.registry import DEMO_PASSWORD, create_user, seed_demo_users, seed_reference
from services.reports import run_schedule
from services.signing import generate_key, private_key_path, published_keys
from workflows.core import NotFound, Refusal
from services.adapters.formatting import format_datetime


def _settings() -> Settings:
    return Settings.from_env()


def _services(eager: bool = False):
    return bootstrap(_settings(), eager=eager)


def _fail(error) -> None:
    """A Refusal becomes a readable message and exit code 2, never a traceback."""
    message = getattr(error, "message", str(error))
    fields = getattr(error, "fields", None)
    click.echo(f"Ошибка: {message}", err=True)
    for name, problems in (fields or {}).items():
        click.echo(f"  {name}: {'; '.join(map(str, problems))}", err=True)
    sys.exit(2)


@click.group()
def main() -> None:
    """Interdepartmental workflow service."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (creates the database on the embedded default)."""
    upgrade(_settings())
    click.echo("database is up to date")


@main.command()
@click.option("--demo-users/--no-demo-users", default=None,
              help="Create demo users and print their tokens (default: only when INTERDEPT_DEMO=1).")
@click.option("--reports/--no-reports", "report_cycles", default=True,
              help="Create the report cycles due now, as the hourly schedule would.")
def seed(demo_users: bool, report_cycles: bool) -> None:
    """Load reference programs from config/programs (idempotent), demo users and the report cycles due now."""
    if demo_users is None:  # a real stack never gets the demo accounts by accident
        demo_users = os.environ.get("INTERDEPT_DEMO") == "1"
    services = _services(eager=True)
    with services.uow() as uow:
        created = seed_reference(uow)
        issued = seed_demo_users(uow) if demo_users else []
        uow.commit()
    click.echo(f"programs created: {', '.join(created) or 'none (already there)'}")
    if report_cycles:
        # The same rule as beat's hourly run, so whichever comes first creates them and the other none.
        click.echo(f"report cycles created: {run_schedule(services)}")
    if issued:
        click.echo(f"demo users (web sign-in password: {DEMO_PASSWORD}; API tokens, shown once):")
        for email, token in issued:
            click.echo(f"  {email:32} {token}")


@main.group()
def users() -> None:
    """People and their tokens."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--department", required=True, help="Department code, e.g. it, mfc, economic-policy, finance.")
@click.option("--role", "roles", multiple=True, required=True,
              help="executor, co_executor, economic_policy, finance or admin (repeatable).")
@click.option("--name", default="")
@click.option("--head", is_flag=True, help="Head of the department (may delegate).")
@click.option("--password-link/--no-password-link", default=True, show_default=True,
              help="Print a one-time link to set the password (nothing is emailed; for the first admin "
                   "on a stack where mail may not work yet).")
def users_create(email: str, department: str, roles: tuple[str, ...], name: str, head: bool,
                 password_link: bool) -> None:
    """Create a user; the password link (if any) comes before the new API token, printed on the last line."""
    services = _services(eager=True)
    link = None
    try:
        with services.uow() as uow:
            user, token = create_user(uow, email=email, department=department, roles=list(roles),
                                      name=name, is_head=head)
            if password_link:
                row, link = issue_password_link(uow, services, user, send=False)
                until = format_datetime(row.expires_at, services.tz)
            uow.commit()
    except Refusal as error:
        _fail(error)
    click.echo(f"created user {user.id} <{user.email}>")
    if link:
        click.echo(f"Ссылка для установки пароля: {link}")
        click.echo(f"(действует один раз, до {until} по местному времени)")
    click.echo(token)


@users.command("set-password")
@click.option("--email", required=True)
@click.option("--password", default=None, help="The new password (prompted for, hidden, when omitted).")
def users_set_password(email: str, password: str | None) -> None:
    """Set a person's web sign-in password (ends their other sessions)."""
    from sqlalchemy import select


    if password is None:
        password = click.prompt("Новый пароль", hide_input=True, confirmation_prompt=True)
    services = _services(eager=True)
    try:
        with services.uow() as uow:
            user = uow.session.execute(
                select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
            if user is None:
                raise NotFound(f"Нет пользователя с адресом {email}.")
            set_password(uow, user, password)
            uow.commit()
    except Refusal as error:
        _fail(error)
    click.echo(f"password set for <{user.email}>")


@main.group()
def deadlines() -> None:
    """Deadline sweep."""


@deadlines.command("sweep")
@click.option("--at", "at", default=None, help="ISO 8601 instant to sweep as of (default: now).")
def deadlines_sweep(at: str | None) -> None:
    """Run one deadline sweep as of an instant."""
    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            _fail(ValueError(f"--at: not an ISO 8601 instant: {at!r}"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    count = sweep(_services(), now=when)
    click.echo(f"deadline events recorded: {count}")


@main.group()
def outbox() -> None:
    """The event outbox."""


@outbox.command("relay")
def outbox_relay() -> None:
    """Publish again events some handler has not finished."""
    click.echo(f"republished: {relay(_services())}")


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("seal")
def audit_seal() -> None:
    """Chain the committed entries now and append a signed checkpoint of the head."""
    report = audit_seal_run(_services())
    if report.refused:
        click.echo(f"AUDIT SEALING REFUSED: {report.refused}", err=True)
        sys.exit(1)
    head = report.head
    click.echo(f"sealed: {report.sealed}; head: " + (f"entry {head.entry_id} at {head.position}" if head else "none"))


@audit.command("verify")
@click.option("--no-seal", is_flag=True, help="Check only; do not seal pending entries first.")
def audit_verify(no_seal: bool) -> None:
    """Seal, recompute the chain, check it against the latest signed checkpoint; exit 1 naming each bad entry."""
    services = _services()
    if not no_seal:
        sealed = audit_seal_run(services)
        if sealed.refused:
            click.echo(f"sealing refused: {sealed.refused}", err=True)
    result = audit_verify_run(services)
    if result.ok:
        cp = result.checkpoint
        click.echo(f"audit chain intact: {result.checked} entries sealed, {result.unsealed} not yet sealed"
                   + (f"; head matches the checkpoint of {cp['at']}" if cp else ""))
        return
    for problem in result.problems:
        where = f"entry {problem.entry_id}" if problem.entry_id is not None else "checkpoint"
        click.echo(f"AUDIT CHAIN BROKEN at {where}: {problem.reason}", err=True)
    click.echo(f"({result.checked} sealed entries checked, {result.unsealed} not yet sealed)", err=True)
    sys.exit(1)


@main.group()
def keys() -> None:
    """Departments' signing keys for decisions."""


@keys.command("generate")
@click.option("--department", required=True, help="Department code, e.g. it, mfc, economic-policy, finance.")
@click.option("--rotate", is_flag=True, help="Replace an existing key (the old public key stays published).")
def keys_generate(department: str, rotate: bool) -> None:
    """Make a key pair: the private key to <var>/keys/<department>.pem (0600), the public one published."""
    services = _services()
    try:
        with services.uow() as uow:
            row = generate_key(uow, services, department, rotate=rotate)
            uow.commit()
    except Refusal as error:
        _fail(error)
    click.echo(f"key {row.key_id} ({row.algorithm}) for {department}; private key: "
               f"{private_key_path(services, department)}")
    click.echo(row.public_key.strip())


@keys.command("list")
def keys_list() -> None:
    """Published public keys; '*' marks the key each department signs with now."""
    services = _services()
    with services.uow() as uow:
        rows = published_keys(uow.session)
    if not rows:
        click.echo("no keys yet (a department's key is made the first time it signs)")
    for k in rows:
        has_private = private_key_path(services, k.department).exists() if k.active else False
        click.echo(f"{'*' if k.active else ' '} {k.department:20} {k.key_id} {k.algorithm:8} "
                   f"{k.created_at:%Y-%m-%d %H:%M} "
                   f"{'private key present' if has_private else ('retired' if not k.active else 'PRIVATE KEY MISSING')}")


def _default_base_url(host: str, port: int) -> None:
    """Links in emails and the calendar feed point where this process serves, unless
    INTERDEPT_BASE_URL says otherwise; the children (web, worker, beat) inherit it."""
    if not os.environ.get("INTERDEPT_BASE_URL"):
        os.environ["INTERDEPT_BASE_URL"] = served_base_url(host, port)


def _celery_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.app", *args]


# gunicorn's worker class and count, measured on the 2-core machine (docs/benchmarks.md, "The gunicorn
# worker class and count"): 4 sync workers; `make run`, the Dockerfile, compose and `make bench` use them.
WEB_WORKERS = 4
WEB_WORKER_CLASS = "sync"


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--workers", "web_workers", default=WEB_WORKERS, type=int, show_default=True)
@click.option("--worker-class", default=WEB_WORKER_CLASS, show_default=True,
              type=click.Choice(["sync", "gthread"]), help="gunicorn's worker class.")
@click.option("--threads", default=1, type=int, show_default=True, help="Threads per gthread worker.")
def web(host: str, port: int, web_workers: int, worker_class: str, threads: int) -> None:
    """The web app under gunicorn."""
    _default_base_url(host, port)
    settings = _settings()
    settings.ensure_dirs()
    _metrics_dir_for_workers(settings)
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-w", str(web_workers), "-b", f"{host}:{port}",
                               "-k", worker_class, *(["--threads", str(threads)] if worker_class == "gthread" else []),
                               "--access-logfile", "-",
                               # access lines with ?token= values masked (the calendar feed URL)
                               "--logger-class", "services.web.security.RedactingGunicornLogger",
                               "services.web.wsgi:app"])


def _metrics_dir_for_workers(settings: Settings) -> None:
    """gunicorn's workers add up their HTTP metrics in one folder (prometheus-client's multiprocess
    mode): ``PROMETHEUS_MULTIPROC_DIR``, by default ``var/metrics``, emptied at each start."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(settings.var_dir / "metrics")
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


@main.command()
@click.option("--concurrency", default=2, type=int)
def worker(concurrency: int) -> None:
    """A Celery worker."""
    settings = _settings()
    settings.ensure_dirs()
    queue = settings.queue
    os.execvp(sys.executable, _celery_cmd("worker", "-Q", queue, "-c", str(concurrency), "-l", "INFO"))


@main.command()
def beat() -> None:
    """Celery beat: the outbox relay, the mail relay and the deadline sweep."""
    _settings().ensure_dirs()  # its schedule file lives in var/
    os.execvp(sys.executable, _celery_cmd("beat", "-l", "INFO"))


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--max-backoff", default=30.0, type=float, show_default=True,
              help="Longest wait, in seconds, before a child that keeps dying is started again.")
def run(host: str, port: int, max_backoff: float) -> None:
    """Web + worker + beat together, each restarted if it dies, until Ctrl-C or SIGTERM."""
    _default_base_url(host, port)
    settings = _settings()
    settings.ensure_dirs()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="[%(asctime)s: %(levelname)s/supervisor] %(message)s")
    me = [sys.executable, "-m", "services.cli"]
    supervisor = Supervisor({
        "web": [*me, "web", "--host", host, "--port", str(port)],
        "worker": [*me, "worker"],
        "beat": [*me, "beat"],
    }, max_backoff=max_backoff)
    click.echo(f"interdept is running at http://{host}:{port}/ (API docs: /docs, spec: /openapi.json)")
    click.echo(f"state lives in {settings.var_dir}; links in emails point at {settings.base_url}; "
               "press Ctrl-C to stop")
    sys.exit(supervisor.run())


@main.group()
def reports() -> None:
    """Progress reports."""


@reports.command("schedule")
@click.option("--today", default=None, help="Local date YYYY-MM-DD to schedule as of (default: today).")
@click.option("--year", type=int, default=None, help="Only this program year.")
@click.option("--program", default=None, help="Only this program (slug).")
@click.option("--backlog", is_flag=True, help="Every cycle whose period has begun, not only those due now.")
def schedule(today: str | None, year: int | None, program: str | None, backlog: bool) -> None:
    """Create the report cycles due now (idempotent: existing ones are kept; beat runs it hourly).

    Due now: the cycles of the reporting year (this year, or the program's last one once it ended)
    whose period has begun, and last year's annual report. --year or --backlog open older ones.
    """
    try:
        as_of = date.fromisoformat(today) if today else None
    except ValueError:
        raise click.BadParameter(f"not a date: {today!r}", param_hint="--today") from None
    services = bootstrap(eager=True)
    count = run_schedule(services, as_of, year=year, program=program, backlog=backlog)
    click.echo(f"report cycles created: {count}")


if __name__ == "__main__":
    main()
