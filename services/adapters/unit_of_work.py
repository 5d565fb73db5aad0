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


_TX_CACHE = "interdept_transaction_cache"


def transaction_cache(session: Session) -> dict:
    """What a use case read or made in this unit of work's transaction, to read again without a query
    (e.g. a copy's latest answer for the response); emptied at every commit, rollback and exit."""
    return session.info.setdefault(_TX_CACHE, {})


class RequestScope:
    """One connection and one session for a whole HTTP request, shared by its units of work.

    The entrypoint opens it (``REQUEST_SCOPE.set(RequestScope(factory))``) and closes it at the end of
    the request. The connection is checked out of the pool at the first statement and kept until
    ``close``; the session is bound to it, so a commit ends the transaction but not the checkout. The
    caller's authentication reads in this session without ending the transaction, so the view's unit of
    work goes on in the same transaction (one BEGIN, one checkout). A unit of work opened while
    another one holds the session (nested) gets a session of its own, as before.
    """

    def __init__(self, session_factory: sessionmaker):
        self.session_factory = session_factory
        self._session: Session | None = None
        self._connection = None
        self.busy = False

    @property
    def session(self) -> Session:
        if self._session is None:
            engine = self.session_factory.kw["bind"]
            self._connection = engine.connect()
            self._session = self.session_factory(bind=self._connection)
        return self._session

    def close(self) -> None:
        """End the request: roll back what was not committed, give the connection back."""
        session, connection = self._session, self._connection
        self._session = self._connection = None
        self.busy = False
        try:
            if session is not None:
                session.rollback()
                session.close()
        finally:
            if connection is not None:
                connection.close()

    def reset(self) -> None:
        """Drop the connection (e.g. found dead): the next statement checks out another one."""
        self.close()


# The request's scope, when the entrypoint opened one (the web app does for /api/).
REQUEST_SCOPE: ContextVar[RequestScope | None] = ContextVar("interdept_request_scope", default=None)


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
        self._scope: RequestScope | None = None

    def __enter__(self) -> "UnitOfWork":
        scope = REQUEST_SCOPE.get()
        if scope is not None and not scope.busy and scope.session_factory is self._session_factory:
            scope.busy = True
            self._scope = scope
            self.session = scope.session  # goes on in the request's transaction (e.g. the auth read's)
        else:
            self._scope = None
            self.session = self._session_factory()
        self._new_events = []
        self._after_commit = []
        self._batches = {}
        self._closing = []
        return self

    def __exit__(self, *exc: Any) -> None:
        self.session.info.pop(_TX_CACHE, None)
        self.session.rollback()
        if self._scope is not None:
            self._scope.busy = False  # the request's session and connection stay for its next unit of work
            self._scope = None
        else:
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
        self.session.info.pop(_TX_CACHE, None)
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
        self.session.info.pop(_TX_CACHE, None)
        self.session.rollback()
        self._new_events = []
        self._after_commit = []
        self._batches = {}
        self._closing = []
