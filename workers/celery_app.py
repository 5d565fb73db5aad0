"""The Celery application: settings only; tasks live in workers.tasks."""
from __future__ import annotations

from celery import Celery

from config.settings import Settings


def create_celery(settings: Settings) -> Celery:
    app = Celery("interdept", broker=settings.broker_url, include=["workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.queue,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "outbox-relay": {"task": "interdept.relay_outbox", "schedule": settings.relay_interval},
            "mail-relay": {"task": "interdept.relay_mail", "schedule": 30.0},
            "deadline-sweep": {"task": "interdept.sweep_deadlines", "schedule": 60.0},
            "report-schedule": {"task": "interdept.schedule_reports", "schedule": 3600.0},
        },
        beat_schedule_filename=str(settings.var_dir / "celerybeat-schedule"),
    )
    if settings.broker_is_filesystem:
        folder = settings.broker_dir / "queue"
        processed = settings.broker_dir / "processed"
        for path in (folder, processed):
            path.mkdir(parents=True, exist_ok=True)
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(processed),
            "store_processed": False,
            "polling_interval": 0.2,
            "control_folder": str(settings.broker_dir / "control"),
        }
    elif settings.broker_url.startswith("redis"):
        app.conf.broker_transport_options = {
            "visibility_timeout": 3600,
            "socket_connect_timeout": 3,
            "socket_timeout": 5,
        }
    return app
