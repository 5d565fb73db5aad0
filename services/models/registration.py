"""The registration counters: one row per (department, year), the last sequence number given out."""
from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base


class RegistrationCounter(Base):
    """Incremented in the transaction of the send/submit it numbers (see ``services.registration``):
    the row lock serialises concurrent sends, and a rolled-back transition rolls its number back too."""

    __tablename__ = "registration_counters"

    department: Mapped[str] = mapped_column(String(64), primary_key=True)  # departments.code
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
