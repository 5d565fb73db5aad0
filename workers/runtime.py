"""The worker process's Services, built on first use and rebuilt after fork."""
from __future__ import annotations

import atexit

from celery.signals import worker_process_init

from config.settings import Settings
from services.adapters.mailers import SmtpMailer
from services.bootstrap import bootstrap

_services = None


def get_services():
    global _services
    if _services is None:
        _services = bootstrap(Settings.from_env())
        if isinstance(_services.mailer, SmtpMailer):
            # One SMTP connection per worker process, kept across batches.
            _services.mailer.keep_open = True
            atexit.register(_services.mailer.close)
    return _services


@worker_process_init.connect
def _reset_after_fork(**_):
    # A forked child must not reuse the parent's pooled connections.
    if _services is not None:
        _services.engine.dispose(close=False)
