"""One business transaction: the session, and the outbox events it commits with it."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.models.workflow import OutboxEvent, new_event_id
from services.models.base import utcnow
from services.adapters.request_id import current_request_id

log = logging.getLogger(__name__)

Publisher = Callable[[Iterable[str]], None]
Write = Callable[[Session], None]
# A batch's handler gets its items and the closing writes to put in its last transaction.
BatchHandler = Callable[[list, list[Write]], None]


# Writes an entrypoint wants made in the next commit of this request's context, whichever unit of work
# commits (e.g. an idempotency key's "committed" mark, in the transition's own transaction).
NEXT_COMMIT: ContextVar[list | None] = ContextVar("interdept_next_commit", default=None)


class UnitOfWork:
    """Commit writes and their events together; ring the broker only after commit."""

    def __init__(self, session_factory: sessionmaker, publisher: Publisher | None = None,
                 listens: Callable[[str], bool] = lambda event_type: True):
        """``listens(event_type)`` says whether anyone handles such events (bootstrap knows the table)."""
        self._session_factory = session_factory
        self._publisher = publisher
        self._listens = listens
        self.session: Session
        self._new_events: list[str] = []
        self._after_commit: list[Callable[[], None]] = []
        self._batches: dict[str, tuple[list, BatchHandler]] = {}
        self._closing: list[Write] = []

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self._new_events = []
        self._after_commit = []
        self._batches = {}
        self._closing = []
        return self

    def __exit__(self, *exc: Any) -> None:
        self.session.rollback()
        self.session.close()

    def emit(self, type_: str, payload: dict) -> OutboxEvent:
        """Record an event; one that no handler listens to is kept, complete, and rings no bell."""
        now = utcnow()
        listened = self._listens(type_)
        event = OutboxEvent(id=new_event_id(), type=type_, payload=payload, created_at=now,
                            published_at=now, publish_count=1 if listened else 0,
                            completed_at=None if listened else now, request_id=current_request_id())
        self.session.add(event)
        if listened:
            self._new_events.append(event.id)
        return event

    def get_for_update(self, model: type, item_id: Any):
        """Row lock on PostgreSQL; SQLite already serialises writers (BEGIN IMMEDIATE)."""
        return self.session.execute(
            select(model).where(model.id == item_id).with_for_update()
        ).scalar_one_or_none()

    def commit(self) -> None:
        batches = [(items, handle) for items, handle in self._batches.values() if items]
        closing, self._closing = self._closing, []
        pending = NEXT_COMMIT.get()
        if pending:
            writes, pending[:] = list(pending), []
            for write in writes:
                write(self.session)
        if closing and not batches:
            for write in closing:
                write(self.session)
            closing = []
        self.session.commit()
        published, self._new_events = self._new_events, []
        if published and self._publisher is not None:
            try:
                self._publisher(published)
            except Exception:  # the relay republishes; the commit stands
                log.warning("could not publish %d outbox events now; the relay will", len(published),
                            exc_info=True)
        callbacks, self._after_commit, self._batches = self._after_commit, [], {}
        for n, (items, handle) in enumerate(batches):
            callbacks.append(lambda items=items, handle=handle, last=n == len(batches) - 1:
                             handle(items, closing if last else []))
        for callback in callbacks:
            try:
                callback()
            except Exception:  # work done after commit is retried by its own relay
                log.exception("after-commit callback failed")

    def batch(self, key: str, handle: BatchHandler) -> list:
        """A list to append to; after commit ``handle(items, closing)`` gets it whole, once (e.g. emails
        to send), with the closing writes (see ``close_with``) when it is the last batch."""
        if key not in self._batches:
            self._batches[key] = ([], handle)
        return self._batches[key][0]

    def close_with(self, write: Write) -> None:
        """A write that closes this piece of work (e.g. "event complete"), made in its last transaction.

        That is this commit when nothing was batched for after it; else the transaction in which the
        last batch records its outcome (the emails' 'sent' marks), so the write is never seen before
        that outcome, and costs no transaction of its own. Lost if that work dies first: callers
        write only what a relay would write again.
        """
        self._closing.append(write)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run after a successful commit (e.g. deliver the emails it queued)."""
        self._after_commit.append(callback)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that fails alone (one handler on one event of a batch).

        On an exception its writes roll back to a SAVEPOINT, and so do the events it emitted, the
        items it batched (its emails) and the callbacks it registered; what came before stays.
        """
        state = (len(self._new_events), len(self._after_commit), len(self._closing),
                 {key: len(items) for key, (items, _) in self._batches.items()})
        try:
            with self.session.begin_nested():
                yield
        except BaseException:
            events, callbacks, closing, batched = state
            del self._new_events[events:], self._after_commit[callbacks:], self._closing[closing:]
            for key in list(self._batches):
                if key in batched:
                    del self._batches[key][0][batched[key]:]
                else:
                    del self._batches[key]
            raise

    def rollback(self) -> None:
        self.session.rollback()
        self._new_events = []
        self._after_commit = []
        self._batches = {}
        self._closing = []
