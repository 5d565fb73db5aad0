"""What /metrics reads from the database at scrape time: a prometheus-client Collector.

Counters kept in a process's memory would be partial (gunicorn runs several web
workers, Celery its own processes), so everything about the work itself comes from
the database, the same figures whichever process is scraped:

- the outbox backlog (events some handler has not finished), how many of them last
  failed, and the age of the oldest: one query on the ``(completed_at, published_at)`` index;
- emails by state: one GROUP BY on the ``(state, next_attempt_at)`` index;
- transitions by workflow and event, a counter: the first scrape of a process counts the
  table once; later ones count only rows added since, by primary key (see _TransitionCounts);
- periodic jobs' runs and durations (``job_runs``, written by the jobs themselves).

A database that does not answer gives ``interdept_database_up 0`` and no other figures
from it, never a failed scrape.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from services.models.base import utcnow
from services.models.jobs import JobRun
from services.models.mail import MAIL_STATES, OutgoingEmail
from services.models.workflow import OutboxEvent, TransitionRecord

log = logging.getLogger(__name__)

# A transition row older than this is taken as committed for good (no transaction stays open
# so long), so it is folded into the process's running totals and never counted again.
SETTLE_AFTER = timedelta(minutes=5)


class _TransitionCounts:
    """Running totals of ``transitions`` by (workflow, event), kept exact cheaply.

    Rows up to ``watermark`` (ids of rows older than SETTLE_AFTER) are in ``settled``; the rows
    after it, a few minutes' worth, are counted again at every scrape. Ids are allocated before
    commit, so a fresher row may be committed after a later id was seen: only settled rows are
    folded in. The table is append-only (history), so totals only grow.
    """

    def __init__(self):
        self.watermark = 0
        self.settled: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def read(self, session, now: datetime) -> dict[tuple[str, str], int]:
        with self._lock:
            new_mark = session.execute(
                select(func.max(TransitionRecord.id))
                .where(TransitionRecord.id > self.watermark, TransitionRecord.at < now - SETTLE_AFTER)
            ).scalar()
            if new_mark is not None:
                for key, count in self._grouped(session, TransitionRecord.id > self.watermark,
                                                TransitionRecord.id <= new_mark):
                    self.settled[key] = self.settled.get(key, 0) + count
                self.watermark = new_mark
            totals = dict(self.settled)
            for key, count in self._grouped(session, TransitionRecord.id > self.watermark):
                totals[key] = totals.get(key, 0) + count
            return totals

    @staticmethod
    def _grouped(session, *where):
        rows = session.execute(
            select(TransitionRecord.workflow, TransitionRecord.event, func.count())
            .where(*where).group_by(TransitionRecord.workflow, TransitionRecord.event)
        )
        return [((workflow, event), count) for workflow, event, count in rows]


class DatabaseCollector(Collector):
    def __init__(self, session_factory, now: Callable[[], datetime] = utcnow):
        self.session_factory = session_factory
        self.now = now
        self.transitions = _TransitionCounts()

    def describe(self):
        return []  # collected at scrape time only; nothing to read at registration

    def collect(self):
        up = GaugeMetricFamily("interdept_database_up", "1 when the database answered this scrape's queries")
        try:
            families = self._read()
        except DBAPIError:  # the database's answer (or its absence), not a bug here
            log.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list:
        now = self.now()
        with self.session_factory() as session:
            pending, failing, oldest = session.execute(
                select(func.count(), func.count(OutboxEvent.last_error), func.min(OutboxEvent.created_at))
                .where(OutboxEvent.completed_at.is_(None))
            ).one()
            emails = dict(session.execute(
                select(OutgoingEmail.state, func.count()).group_by(OutgoingEmail.state)).all())
            transitions = self.transitions.read(session, now)
            jobs = session.execute(select(JobRun.name, JobRun.runs, JobRun.total_seconds,
                                          JobRun.last_duration_seconds, JobRun.last_finished_at)).all()
            session.rollback()

        backlog = GaugeMetricFamily("interdept_outbox_unfinished_events",
                                    "Outbox events some handler has not finished")
        backlog.add_metric([], pending)
        failing_gauge = GaugeMetricFamily("interdept_outbox_failing_events",
                                          "Unfinished outbox events whose last handling failed")
        failing_gauge.add_metric([], failing)
        age = GaugeMetricFamily("interdept_outbox_oldest_unfinished_age_seconds",
                                "Age of the oldest unfinished outbox event (0 when there is none)")
        age.add_metric([], max(0.0, (now - _aware(oldest)).total_seconds()) if oldest is not None else 0.0)

        mail = GaugeMetricFamily("interdept_emails", "Outgoing emails by state", labels=["state"])
        for state in MAIL_STATES:
            mail.add_metric([state], emails.pop(state, 0))
        for state, count in sorted(emails.items()):  # a state this code does not know yet
            mail.add_metric([state], count)

        moved = CounterMetricFamily("interdept_transitions", "Workflow transitions recorded, by workflow and event",
                                    labels=["workflow", "event"])
        for (workflow, event), count in sorted(transitions.items()):
            moved.add_metric([workflow, event], count)

        runs = CounterMetricFamily("interdept_job_runs", "Completed runs of a periodic job", labels=["job"])
        seconds = CounterMetricFamily("interdept_job_duration_seconds",
                                      "Time spent in completed runs of a periodic job", labels=["job"])
        last = GaugeMetricFamily("interdept_job_last_duration_seconds",
                                 "How long the last completed run of a periodic job took", labels=["job"])
        finished = GaugeMetricFamily("interdept_job_last_finished_timestamp_seconds",
                                     "When the last run of a periodic job finished (Unix time)", labels=["job"])
        for job in jobs:
            runs.add_metric([job.name], job.runs)
            seconds.add_metric([job.name], job.total_seconds)
            last.add_metric([job.name], job.last_duration_seconds)
            if job.last_finished_at is not None:
                finished.add_metric([job.name], job.last_finished_at.timestamp())
        return [backlog, failing_gauge, age, mail, moved, runs, seconds, last, finished]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)
