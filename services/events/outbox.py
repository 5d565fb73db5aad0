"""Handling outbox events exactly once per handler, and the relay that loses nothing.

The broker only says "look at event X". Each handler runs in its own
transaction that also writes a ``handled_events`` mark, so a redelivered event
finds the mark and does nothing; two concurrent deliveries collide on the
mark's primary key and the loser rolls back all it did.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from services.models.base import utcnow
from services.models.workflow import HandledEvent, OutboxEvent
from services.adapters.unit_of_work import UnitOfWork
from services.adapters.request_id import REQUEST_ID, request_id_bound

if TYPE_CHECKING:
    from services.bootstrap import Services

log = logging.getLogger(__name__)

HandlerFn = Callable[["UnitOfWork", OutboxEvent, "Services"], None]


@dataclass(frozen=True)
class Handler:
    """A named reaction to events; the table of who reacts to what is services.events.handlers."""

    name: str
    fn: HandlerFn


def handlers_for(services: "Services", event_type: str) -> tuple[Handler, ...]:
    return services.event_handlers.get(event_type, ())


class HandlerFailed(Exception):
    pass


def handle_event(services: "Services", event_id: str) -> bool:
    """Run every handler not yet recorded for this event; True when all are done.

    While it runs, the request id is the event's (the HTTP request's that emitted it): the
    log lines say it, and the events its handlers emit carry it on.
    """
    with request_id_bound(None):
        return _handle_event(services, event_id)


def _handle_event(services: "Services", event_id: str) -> bool:
    """The work of ``handle_event``.

    The first handler's transaction also loads the event, and the "complete" mark
    rides on the last one's (or, when it queued emails, on the transaction that
    records their outcome): an event with one handler and two emails takes three
    transactions (handle, claim the emails, mark them and the event).
    """
    failures: list[str] = []
    completed = False
    with services.uow() as uow:
        event = uow.session.get(OutboxEvent, event_id)
        if event is None:
            log.warning("event %s not found; ignoring", event_id)
            return True
        REQUEST_ID.set(event.request_id)
        if event.completed_at is not None:
            return True
        log.info("handling event %s (%s)", event.id, event.type,
                 extra={"event_id": event.id, "event_type": event.type})
        uow.session.expunge(event)
        handlers = handlers_for(services, event.type)
        if not handlers:
            _complete(uow.session, event_id)
            uow.commit()
            return True
        completed = _run_handler_in(uow, services, event, handlers[0], failures, last=len(handlers) == 1)
    for n, handler in enumerate(handlers[1:], start=2):
        with services.uow() as uow:
            completed = _run_handler_in(uow, services, event, handler, failures, last=n == len(handlers))
    if failures or not completed:
        with services.uow() as uow:
            if failures:
                uow.session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id)
                                    .values(last_error="; ".join(failures)[:2000]))
            else:
                _complete(uow.session, event_id)
            uow.commit()
    if failures:
        raise HandlerFailed("; ".join(failures))
    return True


def _complete(session, event_id: str) -> None:
    session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id)
                    .values(completed_at=utcnow(), last_error=None))


def _run_handler_in(uow: UnitOfWork, services: "Services", event: OutboxEvent, handler: Handler,
                    failures: list[str], last: bool) -> bool:
    """One handler in ``uow``'s transaction; True when that commit also completes the event.

    It does when this is the last handler and none before it failed: every other handler's
    mark is then committed (by this delivery or, when it lost a race, by the other).
    """
    close = last and not failures
    try:
        _, closed = _run(uow, services, event, handler, close=close)
        return closed
    except Exception as exc:  # each handler retries on its own; others go on
        uow.rollback()
        log.exception("handler %s failed on %s", handler.name, event.id)
        failures.append(f"{handler.name}: {exc!r}")
        return False


def _run(uow: UnitOfWork, services: "Services", event: OutboxEvent, handler: Handler,
         close: bool = False) -> tuple[bool, bool]:
    """(ran, closed): ran is False when the handler had already handled the event; closed when
    the event's "complete" mark went with this commit (see UnitOfWork.close_with)."""
    already = uow.session.get(HandledEvent, (event.id, handler.name)) is not None
    if already and not close:
        return False, False
    if not already:
        handler.fn(uow, event, services)
        uow.session.add(HandledEvent(event_id=event.id, handler=handler.name))
    if close:
        uow.close_with(lambda session: _complete(session, event.id))
    try:
        uow.commit()
    except IntegrityError:
        uow.rollback()
        log.info("handler %s raced on %s; the other delivery won", handler.name, event.id)
        return False, False
    return not already, close


def run_handler(services: "Services", event: OutboxEvent, handler: Handler) -> bool:
    """False when this handler had already handled the event."""
    with services.uow() as uow:
        return _run(uow, services, event, handler)[0]


def relay(services: "Services", now: datetime | None = None, limit: int = 500) -> int:
    """Publish again whatever some handler has not finished within the timeout."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=services.settings.outbox_republish_after)
    with services.uow() as uow:
        query = (
            select(OutboxEvent.id)
            .where(OutboxEvent.completed_at.is_(None))
            .where(or_(OutboxEvent.published_at.is_(None), OutboxEvent.published_at < cutoff))
            .order_by(OutboxEvent.created_at)
            .limit(limit)
        )
        if not services.settings.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        ids = list(uow.session.execute(query).scalars())
        if not ids:
            return 0
        uow.session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(ids))
            .values(published_at=now, publish_count=OutboxEvent.publish_count + 1)
        )
        uow.commit()
    services.publish(ids)
    return len(ids)
