"""Thin Celery tasks: each one calls a service function."""
from __future__ import annotations

from celery import shared_task

from workers.runtime import get_services
from services.events.outbox import handle_event as handle
from services.events.outbox import relay
from services.adapters.mail import mail_relay
from services.deadlines import sweep
from services.reports import run_schedule
from services.audit_trail import seal as seal_audit_log


@shared_task(name="interdept.handle_event", bind=True, acks_late=True, max_retries=None,
             autoretry_for=(Exception,), retry_backoff=2, retry_backoff_max=300, retry_jitter=True)
def handle_event(self, event_id: str) -> None:
    handle(get_services(), event_id)


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
