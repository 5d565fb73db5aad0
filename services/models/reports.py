"""Progress reports: one row per (program, kind, period), and each submitted revision frozen."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.models.base import Base, UTCDateTime, utcnow
from services.models.registry import Program


class Report(Base):
    """The unique constraint is what makes generating the cycles twice impossible."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("program_id", "kind", "period", name="uq_reports_program_kind_period"),
        Index("ix_reports_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(32), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    due_date: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    co_executor_due_date: Mapped[date] = mapped_column(Date)
    # The executor's own figures: spent per source, its activities' completion.
    inputs: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Registration number and (local) date, given when first submitted, from the executor's counter (services.registration).
    registration_number: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    registration_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Reminder marks, so each reminder goes once.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Inner join: a row lock (FOR UPDATE) cannot cover the nullable side of an outer join.
    program: Mapped[Program] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}


class ReportRevision(Base):
    """The content as submitted; never updated, so reviewers compare what they were sent."""

    __tablename__ = "report_revisions"
    __table_args__ = (UniqueConstraint("report_id", "number", name="uq_report_revisions_report_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
