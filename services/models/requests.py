"""Information requests: a thread fanned out into one tracked copy per addressee."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.models.base import Base, UTCDateTime, utcnow
from services.models.registry import Department, Program, User
from services.models.search import search_key


class RequestThread(Base):
    __tablename__ = "request_threads"
    __table_args__ = (
        # Trigram index for the lists' substring search (GIN on PostgreSQL; a plain index on SQLite,
        # where LIKE '%…%' reads it instead of the wider table).
        Index("ix_request_threads_search_text", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    requester_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    form: Mapped[list] = mapped_column(JSON, default=list)
    working_days: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Registration number and (local) date, given when its first copy is sent; copies add "/n" (services.registration).
    registration_number: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    registration_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # search_key(subject, body), kept by the listener below on every ORM write.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    program: Mapped[Program] = relationship(lazy="joined")
    requester_department: Mapped[Department] = relationship(lazy="joined")
    created_by: Mapped[User] = relationship(lazy="joined")


class InformationRequest(Base):
    """One addressee's copy: its own state machine and its own clock."""

    __tablename__ = "information_requests"
    __table_args__ = (
        Index("ix_information_requests_open_due", "state", "due_at"),
        Index("ix_information_requests_department_state", "department_id", "state"),
        # The lists' "by due date" order (ASC NULLS LAST, the index's own order on PostgreSQL).
        Index("ix_information_requests_due_at_id", "due_at", "id"),
        Index("ix_information_requests_requester_id", "requester_department_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("request_threads.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    # The thread's, copied on insert (it never changes) so that who may see a copy is a test on this
    # row alone: the lists count a department's items without joining the threads.
    requester_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    state: Mapped[str] = mapped_column(String(32), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    working_days: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Registration number and (local) date, given when first sent: the thread's number + "/n" (services.registration).
    registration_number: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    registration_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Bumped whenever the deadline moves, so "once per deadline" has a key.
    deadline_revision: Mapped[int] = mapped_column(Integer, default=0)
    missed_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pauses: Mapped[list] = mapped_column(JSON, default=list)
    extensions: Mapped[list] = mapped_column(JSON, default=list)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    thread: Mapped[RequestThread] = relationship(lazy="joined")
    department: Mapped[Department] = relationship(lazy="joined", foreign_keys=[department_id])
    assignee: Mapped[User | None] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


@event.listens_for(RequestThread, "before_insert")
@event.listens_for(RequestThread, "before_update")
def _thread_search_text(_mapper, _connection, thread: RequestThread) -> None:
    thread.search_text = search_key(thread.subject, thread.body)


@event.listens_for(InformationRequest, "before_insert")
def _copy_requester(_mapper, _connection, req: InformationRequest) -> None:
    if req.requester_department_id is None and req.thread is not None:
        req.requester_department_id = req.thread.requester_department_id


class Answer(Base):
    __tablename__ = "request_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("information_requests.id"), index=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(Base):
    """File bytes live under the uploads folder, named by checksum; the row describes them."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("information_requests.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
