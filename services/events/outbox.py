"""Handling outbox events exactly once per handler, and the relay that loses nothing.

The broker only says "there is work". The worker ``drain``s: it claims up to
BATCH_SIZE ready events with ``FOR UPDATE SKIP LOCKED`` and runs every handler
over the batch in one transaction with its ``handled_events`` marks, each handler
on each event under its own SAVEPOINT, so one failing event backs off alone
(``attempts``, ``next_attempt_at``) while the rest commit. A mark makes a second
run of a handler a no-op. ``handle_event`` (one event, a transaction per handler)
is kept for the in-process publisher and for tests.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from sqlalchemy import and_, or_, select, update
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


# Events claimed per transaction by one drain.
BATCH_SIZE = 50
# Celery's former retry schedule for a failed handler, now kept in the database: 2, 4, 8 … 300 s.
RETRY_BASE, RETRY_CAP = 2.0, 300.0


def retry_delay(attempts: int) -> timedelta:
    """Exponential with jitter (half to all of the step), so failed events do not return together."""
    ceiling = min(RETRY_CAP, RETRY_BASE * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _ready(now: datetime):
    return and_(OutboxEvent.completed_at.is_(None),
                or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now))


@dataclass
class Drained:
    """What a drain did: events claimed, completed, failed, and when the earliest failed one is due."""

    claimed: int = 0
    completed: int = 0
    failed: int = 0
    next_due: datetime | None = None


def drain(services: "Services", batch_size: int = BATCH_SIZE, max_batches: int = 1000) -> Drained:
    """Handle ready events a batch at a time until a batch comes back short.

    A bell that arrives meanwhile finds its event in one of these batches or in its own drain
    (SKIP LOCKED: never one another drain holds), so extra bells cost one empty claim.
    """
    total = Drained()
    for _ in range(max_batches):
        done = drain_batch(services, batch_size)
        total.claimed += done.claimed
        total.completed += done.completed
        total.failed += done.failed
        if done.next_due is not None and (total.next_due is None or done.next_due < total.next_due):
            total.next_due = done.next_due
        if done.claimed < batch_size:
            break
    return total


def drain_batch(services: "Services", batch_size: int = BATCH_SIZE) -> Drained:
    with request_id_bound(None):
        return _drain_batch(services, batch_size)


def _drain_batch(services: "Services", batch_size: int) -> Drained:
    """One transaction: claim, every handler on every event (a SAVEPOINT each), marks, outcomes.

    The claimed rows stay locked until the commit, so a concurrent drain skips them. An event
    whose handlers all ran is completed with the outcome of the emails they queued (as
    ``handle_event`` does, see UnitOfWork.close_with); until then its ``next_attempt_at`` is a
    lease of ``outbox_republish_after`` seconds, after which a dead worker's event is ready again
    (its marks make the second pass write nothing but the completion).
    """
    result = Drained()
    now = utcnow()
    with services.uow() as uow:
        query = (select(OutboxEvent).where(_ready(now))
                 .order_by(OutboxEvent.created_at).limit(batch_size))
        if not services.settings.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        events = list(uow.session.execute(query).scalars())
        if not events:
            return result
        result.claimed = len(events)
        ids = [event.id for event in events]
        for event in events:  # plain values for the handlers; a rolled-back savepoint expires nothing
            uow.session.expunge(event)
        marks = {tuple(row) for row in uow.session.execute(
            select(HandledEvent.event_id, HandledEvent.handler).where(HandledEvent.event_id.in_(ids)))}
        failures: dict[str, list[str]] = {}
        for event in events:
            REQUEST_ID.set(event.request_id)
            log.info("handling event %s (%s)", event.id, event.type,
                     extra={"event_id": event.id, "event_type": event.type})
            for handler in handlers_for(services, event.type):
                if (event.id, handler.name) in marks:
                    continue
                try:
                    with uow.savepoint():
                        handler.fn(uow, event, services)
                        uow.session.add(HandledEvent(event_id=event.id, handler=handler.name))
                        uow.session.flush()
                except Exception as exc:  # this handler on this event retries alone
                    log.exception("handler %s failed on %s", handler.name, event.id,
                                  extra={"event_id": event.id, "event_type": event.type})
                    failures.setdefault(event.id, []).append(f"{handler.name}: {exc!r}")
        REQUEST_ID.set(None)
        done = [event_id for event_id in ids if event_id not in failures]
        for event in events:
            if event.id not in failures:
                continue
            attempts = (event.attempts or 0) + 1
            due = now + retry_delay(attempts)
            uow.session.execute(update(OutboxEvent).where(OutboxEvent.id == event.id).values(
                attempts=attempts, next_attempt_at=due, last_error="; ".join(failures[event.id])[:2000]))
            result.next_due = due if result.next_due is None else min(result.next_due, due)
        if done:
            lease = now + timedelta(seconds=services.settings.outbox_republish_after)
            uow.session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(done))
                                .values(next_attempt_at=lease))
            uow.close_with(lambda session: session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(done))
                .values(completed_at=utcnow(), last_error=None, next_attempt_at=None)))
        uow.commit()
    result.completed, result.failed = len(done), len(failures)
    log.info("drained %d events (%d failed)", result.claimed, result.failed)
    return result


def relay(services: "Services", now: datetime | None = None, limit: int = 500) -> int:
    """Publish again whatever some handler has not finished within the timeout (and is due)."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=services.settings.outbox_republish_after)
    with services.uow() as uow:
        query = (
            select(OutboxEvent.id)
            .where(_ready(now))
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
