"""Recording a periodic job's run (count, total and last duration) in ``job_runs``.

One short transaction per run; two runs at once (beat and a CLI sweep) both count:
the row is updated in place, and a first insert that loses the race updates instead.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from services.models.base import utcnow
from services.models.jobs import JobRun

log = logging.getLogger(__name__)

REMINDER_SWEEP = "reminder_sweep"


def record_run(session_factory, name: str, duration: float) -> None:
    values = dict(runs=JobRun.runs + 1, total_seconds=JobRun.total_seconds + duration,
                  last_duration_seconds=duration, last_finished_at=utcnow())
    for _ in range(2):
        with session_factory() as session:
            if session.execute(update(JobRun).where(JobRun.name == name).values(**values)).rowcount:
                session.commit()
                return
            session.add(JobRun(name=name, runs=1, total_seconds=duration, last_duration_seconds=duration,
                               last_finished_at=utcnow()))
            try:
                session.commit()
                return
            except IntegrityError:
                session.rollback()


@contextmanager
def timed_run(session_factory, name: str) -> Iterator[None]:
    """Time the block and record it when it finishes without an error; a failure to record is
    logged, never raised (the job's work is committed by then)."""
    started = time.perf_counter()
    yield
    try:
        record_run(session_factory, name, time.perf_counter() - started)
    except SQLAlchemyError:
        log.warning("could not record the run of %s", name, exc_info=True)
