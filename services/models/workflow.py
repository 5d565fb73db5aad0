"""What every workflow shares: transition history, the outbox, handled-event marks."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, UTCDateTime, utcnow


def new_event_id() -> str:
    return uuid.uuid4().hex


class TransitionRecord(Base):
    __tablename__ = "transitions"
    __table_args__ = (Index("ix_transitions_item", "workflow", "item_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor_role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxEvent(Base):
    """An event committed with the change that caused it; the broker only rings the bell."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "completed_at", "published_at"),
        # The drain's claim: the oldest unfinished events, without reading the finished ones.
        Index("ix_outbox_ready", "created_at", postgresql_where=text("completed_at IS NULL"),
              sqlite_where=text("completed_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_event_id)
    type: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    publish_count: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Failed drains of this event so far, and when it is due again (None: now). In the database, so
    # a worker killed during the backoff leaves it as it was.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The X-Request-Id of the HTTP request (or the event being handled) that emitted it, so the
    # worker's log lines for it can be joined to the request's.
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class HandledEvent(Base):
    """Written in the handler's own transaction: the proof it ran, once."""

    __tablename__ = "handled_events"

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    handler: Mapped[str] = mapped_column(String(100), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
