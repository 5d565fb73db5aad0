"""Wires the real adapters (or test doubles) into one Services object per process."""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from config.settings import Settings
from services.adapters.db import make_engine, make_session_factory
from services.adapters.mailers import FileMailer, SmtpMailer
from services.adapters.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker
    mailer: Any
    publisher: Callable[[Iterable[str]], None] | None = None
    extras: dict = field(default_factory=dict)
    # Tests set a clock to act at a chosen instant; production uses the system time.
    clock: Callable[[], datetime] | None = None

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(timezone.utc)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.publish)

    def publish(self, event_ids: Iterable[str]) -> None:
        if self.publisher is not None:
            self.publisher(list(event_ids))

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @cached_property
    def calendar(self):
        from config.calendar import get_production_calendar

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
        from services.events.outbox import handle_event

        for event_id in event_ids:
            handle_event(self.services, event_id)


class CeleryPublisher:
    """Rings the broker's bell for committed events from a background thread.

    A slow or absent broker then never holds up an HTTP request: the events are
    already committed, and the relay republishes any bell that was not rung.
    """

    def __init__(self, settings: Settings, background: bool = True):
        self.settings = settings
        self.background = background
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @cached_property
    def celery(self):
        from workers.celery_app import create_celery

        return create_celery(self.settings)

    def __call__(self, event_ids: Iterable[str]) -> None:
        ids = list(event_ids)
        if not ids:
            return
        if not self.background:
            self.publish_now(ids)
            return
        self._ensure_thread()
        self._queue.put(ids)

    def publish_now(self, ids: list[str]) -> None:
        with self.celery.producer_or_acquire() as producer:
            for event_id in ids:
                self.celery.send_task("interdept.handle_event", args=[event_id], producer=producer, retry=False)

    def _ensure_thread(self) -> None:
        with self._lock:
            # After a fork (gunicorn, Celery prefork) the parent's thread does not exist here.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="outbox-bell", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            ids = self._queue.get()
            if ids is None:
                return
            try:
                self.publish_now(ids)
            except Exception:  # the relay republishes what is not handled
                log.warning("broker unreachable; %d events wait for the relay", len(ids), exc_info=True)

    def flush(self, timeout: float = 3.0) -> None:
        """Give queued bells a moment before the process exits (CLI runs)."""
        thread = self._thread
        if thread is None or not thread.is_alive() or self._pid != os.getpid():
            return
        self._queue.put(None)
        thread.join(timeout)
