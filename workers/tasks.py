"""Thin Celery tasks: each one calls a service function."""
from __future__ import annotations

from celery import shared_task

from workers.runtime import get_services
from services.events.outbox import drain, relay
from services.models.base import utcnow
from services.adapters.mail import mail_relay
from services.deadlines import sweep
from services.reports import run_schedule
from services.audit_trail import seal as seal_audit_log


@shared_task(name="interdept.handle_event", bind=True, acks_late=True, max_retries=None,
             autoretry_for=(Exception,), retry_backoff=2, retry_backoff_max=300, retry_jitter=True)
def handle_event(self, event_id: str | None = None) -> int:
    """A bell: drain the outbox (``event_id`` is only a hint, kept so older bells still work).

    A failed event's backoff is in the database; a bell is scheduled for when it is due (if it
    is lost with this worker, the relay rings once it is due). Celery retries only what failed
    around the handlers (the database down).
    """
    services = get_services()
    services.bell_answered()  # before the claim: whatever commits from now on rings again
    done = drain(services)
    if done.next_due is not None:
        self.apply_async(args=[None], countdown=max(0.0, (done.next_due - utcnow()).total_seconds()))
    return done.claimed


@shared_task(name="interdept.relay_outbox", ignore_result=True)
def relay_outbox() -> int:
    return relay(get_services())


@shared_task(name="interdept.relay_mail", ignore_result=True)
def relay_mail() -> int:
    return mail_relay(get_services())


@shared_task(name="interdept.sweep_deadlines", ignore_result=True)
def sweep_deadlines() -> int:
    return sweep(get_services())


@shared_task(name="interdept.schedule_reports", ignore_result=True)
def schedule_reports() -> int:
    return run_schedule(get_services())


@shared_task(name="interdept.seal_audit", ignore_result=True)
def seal_audit() -> int:
    return seal_audit_log(get_services()).sealed
