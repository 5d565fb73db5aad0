"""Outgoing email: a row per message, keyed so the same message is never queued twice."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, UTCDateTime, utcnow

MAIL_STATES = ("queued", "sending", "sent", "retrying", "failed")


class OutgoingEmail(Base):
    __tablename__ = "outgoing_emails"
    __table_args__ = (Index("ix_outgoing_emails_due", "state", "next_attempt_at"),
                      Index("ix_outgoing_emails_item", "item", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    message_id: Mapped[str] = mapped_column(String(300))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # What the email is about ("information_request:12"), so that item's page can say it failed.
    item: Mapped[str | None] = mapped_column(String(64), nullable=True)
