"""Real servers: PostgreSQL, Redis, a Celery worker process and an aiosmtpd SMTP server."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
import time

import pytest

from tests.conftest import _truncate_all, make_services, make_settings
from tests.smtp_sink import SmtpSink, free_port as _free_port  # noqa: F401  (used by the suites below)


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def stack(tmp_path, pg_url, redis_url, smtp):
    """Services wired like production (Celery publisher, SMTP) plus a real worker process."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    _truncate_all(pg_url)
    env = {
        "DATABASE_URL": pg_url,
        "CELERY_BROKER_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "INTERDEPT_VAR_DIR": str(tmp_path / "var"),
        "INTERDEPT_OUTBOX_REPUBLISH_AFTER": "2",
        "INTERDEPT_QUEUE": f"interdept-test-{uuid.uuid4().hex[:8]}",
    }
    settings = make_settings(tmp_path, pg_url, **{k: v for k, v in env.items() if k != "DATABASE_URL"})
    services = make_services(settings, eager=False)
    worker = WorkerProcess({**os.environ, **env}, tmp_path / "worker.log")
    worker.start()
    yield services, worker, smtp
    worker.stop()
    services.dispose()


class WorkerProcess:
    def __init__(self, env: dict, log_path):
        self.env, self.log_path, self.proc = env, log_path, None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-P", "solo",
             "-Q", self.env.get("INTERDEPT_QUEUE", "interdept"),
             "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(predicate, timeout=30.0, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
