"""Planned reminder steps: one row per (item, rule, deadline revision)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, UTCDateTime, utcnow


class ReminderStep(Base):
    """The sweep reads only pending rows due by now, through a partial index."""

    __tablename__ = "reminder_steps"
    __table_args__ = (
        UniqueConstraint("item_kind", "item_id", "rule", "deadline_revision"),
        Index("ix_reminder_steps_pending_due", "fire_at",
              postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),
        Index("ix_reminder_steps_item", "item_kind", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(32))
    deadline_revision: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[str] = mapped_column(String(10))
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
