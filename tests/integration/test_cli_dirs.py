"""`interdept beat`, `worker` and `web` each make the folders they need (issue 13, finding 11)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


BEAT_REDIS_DB = 12  # this test's own db number of the shared Redis, flushed at the end


def test_beat_alone_starts_when_its_var_folder_does_not_exist_yet(tmp_path, redis_url):
    # With Redis as broker nothing else creates var/ (the filesystem broker's folders would).
    import redis

    broker = redis_url.rsplit("/", 1)[0] + f"/{BEAT_REDIS_DB}"
    var = tmp_path / "not-yet" / "var"
    env = {**os.environ, "INTERDEPT_VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
           "CELERY_BROKER_URL": broker}
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "beat"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None and not any(var.glob("celerybeat-schedule*")):
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-2000:]
        assert any(var.glob("celerybeat-schedule*"))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        redis.Redis.from_url(broker).flushdb()
