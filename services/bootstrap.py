"""The composition root: wires adapters, the event table and the reminder describers into Services.

Every entrypoint (the web app, the CLI, the worker) calls ``bootstrap`` once per
process; tests call it with their own settings, publisher or mailer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from config.calendar import get_production_calendar
from config.settings import Settings
from services import amendments, information_requests, registration, reports
from services.adapters.broker import CeleryPublisher
from services.adapters.db import make_engine, make_session_factory
from services.adapters.mailers import FileMailer, SmtpMailer
from services.adapters.unit_of_work import UnitOfWork
from services.events.handlers import EVENT_HANDLERS
from services.events.outbox import Handler, handle_event
from services.reminders import Describer

# What a reminder of each item kind says (the kinds of config/reminders.yaml).
REMINDER_KINDS: dict[str, Describer] = {
    "information_request": information_requests.describe_reminder,
    "report": reports.describe_reminder,
    "amendment_review": amendments.describe_reminder,
}


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker
    mailer: Any
    publisher: Callable[[Iterable[str]], None] | None = None
    event_handlers: dict[str, tuple[Handler, ...]] = field(default_factory=lambda: dict(EVENT_HANDLERS))
    reminder_kinds: dict[str, Describer] = field(default_factory=lambda: dict(REMINDER_KINDS))
    extras: dict = field(default_factory=dict)
    # Tests set a clock to act at a chosen instant; production uses the system time.
    clock: Callable[[], datetime] | None = None

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(timezone.utc)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.publish, listens=self.listens)

    def listens(self, event_type: str) -> bool:
        return bool(self.event_handlers.get(event_type))

    def bell_answered(self) -> None:
        """A worker starts to drain: a publisher that holds back bells while one waits rings again."""
        answered = getattr(self.publisher, "answered", None)
        if answered is not None:
            answered()

    def publish(self, event_ids: Iterable[str]) -> None:
        if self.publisher is not None:
            self.publisher(list(event_ids))

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @cached_property
    def registration(self) -> registration.Numbering:
        """The registration-number template and prefixes (checked in ``bootstrap``)."""
        return registration.load_numbering(self.settings)

    @cached_property
    def calendar(self):
        return get_production_calendar()

    def dispose(self) -> None:
        self.engine.dispose()


def make_mailer(settings: Settings):
    if settings.smtp_host:
        return SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password)
    return FileMailer(settings.mail_dir)


def bootstrap(settings: Settings | None = None, *, publisher=None, mailer=None, eager: bool = False) -> Services:
    """``eager`` runs event handlers inline after commit (tests, one-off CLI use)."""
    settings = settings or Settings.from_env()
    settings.ensure_dirs() if settings.is_sqlite or settings.broker_is_filesystem else None
    engine = make_engine(settings)
    services = Services(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        mailer=mailer or make_mailer(settings),
    )
    services.registration  # a bad template or prefix file stops the start, naming what is wrong
    if publisher is not None:
        services.publisher = publisher
    elif eager:
        services.publisher = InlinePublisher(services)
    else:
        services.publisher = CeleryPublisher(settings)
    return services


class InlinePublisher:
    """Handle events in-process right after commit: no broker involved."""

    def __init__(self, services: Services):
        self.services = services

    def __call__(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            handle_event(self.services, event_id)
