"""Thin Celery tasks: each one calls a service function."""
from __future__ import annotations

from celery import shared_task

from workers.runtime import get_services


@shared_task(name="interdept.handle_event", bind=True, acks_late=True, max_retries=None,
             autoretry_for=(Exception,), retry_backoff=2, retry_backoff_max=300, retry_jitter=True)
def handle_event(self, event_id: str) -> None:
    from services.events.outbox import handle_event as handle

    handle(get_services(), event_id)


@shared_task(name="interdept.relay_outbox", ignore_result=True)
def relay_outbox() -> int:
    from services.events.outbox import relay

    return relay(get_services())


@shared_task(name="interdept.relay_mail", ignore_result=True)
def relay_mail() -> int:
    from services.adapters.mail import mail_relay

    return mail_relay(get_services())


@shared_task(name="interdept.sweep_deadlines", ignore_result=True)
def sweep_deadlines() -> int:
    from services.deadlines import sweep

    return sweep(get_services())


@shared_task(name="interdept.schedule_reports", ignore_result=True)
def schedule_reports() -> int:
    from services.reports import run_schedule

    return run_schedule(get_services())
