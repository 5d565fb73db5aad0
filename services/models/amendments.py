"""Program amendments: the change set, its revisions and each department's review decisions."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.models.base import Base, UTCDateTime, utcnow
from services.models.registry import Program
from services.models.search import search_key


class Amendment(Base):
    """A draft change set against version ``base_version``; ``revision`` grows with every edit."""

    __tablename__ = "amendments"
    __table_args__ = (
        Index("ix_amendments_program_state", "program_id", "state"),
        Index("ix_amendments_review_due", "state", "due_at"),
        Index("ix_amendments_search_text", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    base_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    justification: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    review_working_days: Mapped[int] = mapped_column(Integer, default=10)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Registration number and (local) date, given when first submitted for review, from the executor's counter (services.registration).
    registration_number: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    registration_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    adopted_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Ordinal among all the program's amendments, the seeded history included.
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolution_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resolution_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # search_key(justification, resolution_number), kept by the listener below on every ORM write.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    program: Mapped[Program] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


@event.listens_for(Amendment, "before_insert")
@event.listens_for(Amendment, "before_update")
def _amendment_search_text(_mapper, _connection, amendment: Amendment) -> None:
    amendment.search_text = search_key(amendment.justification, amendment.resolution_number)


class AmendmentRevision(Base):
    """Each revision's change set as it was, so reviewers can diff what changed since they looked."""

    __tablename__ = "amendment_revisions"
    __table_args__ = (UniqueConstraint("amendment_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    amendment_id: Mapped[int] = mapped_column(ForeignKey("amendments.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    base_version: Mapped[int] = mapped_column(Integer)
    justification: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AmendmentReview(Base):
    """One department's decision on one revision; the unique key makes a second one fail, not vanish."""

    __tablename__ = "amendment_reviews"
    __table_args__ = (UniqueConstraint("amendment_id", "revision", "department"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    amendment_id: Mapped[int] = mapped_column(ForeignKey("amendments.id"), index=True)
    department: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # approve | return
    remarks: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
