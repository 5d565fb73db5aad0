"""How periodic jobs ran: one row per job, updated by each run, read by /metrics.

Beat's jobs run in the worker process, which no scrape reaches; their timings are
kept in the database so whichever web process answers /metrics reports them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, UTCDateTime


class JobRun(Base):
    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    total_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    last_duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
