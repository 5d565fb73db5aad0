"""The worker's Celery application: the shared broker settings, its tasks and beat's schedule."""
from __future__ import annotations

from celery import Celery
from celery.signals import setup_logging

from config.settings import Settings
from services.adapters.broker import celery_config
from services.adapters.log_format import configure_logging


def create_celery(settings: Settings) -> Celery:
    app = Celery("interdept", include=["workers.tasks"])
    app.conf.update(celery_config(settings))
    app.conf.update(
        beat_schedule={
            "outbox-relay": {"task": "interdept.relay_outbox", "schedule": settings.relay_interval},
            # With mail_stuck_after (45 s), a killed worker's unsent mail goes out within a minute.
            "mail-relay": {"task": "interdept.relay_mail", "schedule": settings.relay_interval},
            "deadline-sweep": {"task": "interdept.sweep_deadlines", "schedule": settings.sweep_interval},
            "audit-seal": {"task": "interdept.seal_audit", "schedule": 15.0},
            "report-schedule": {"task": "interdept.schedule_reports", "schedule": 3600.0},
        },
        beat_schedule_filename=str(settings.var_dir / "celerybeat-schedule"),
    )
    if settings.log_format == "json":
        # A receiver of setup_logging replaces Celery's own set-up: every line (Celery's included) is JSON.
        setup_logging.connect(_json_logging, weak=False)
    return app


def _json_logging(loglevel=None, **_) -> None:
    configure_logging("json", loglevel or "INFO")
