"""`interdept run` restarts a child that dies and stops them all only when asked (issue 13, item 1)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from bench.harness import SmtpCounter, _free_port, _seed
from bench.soak import Interdept, embedded_env, wait_http


def _wait_new(app: Interdept, role: str, old: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = app.pid_of(role)
        if pid is not None and pid != old:
            return pid
        time.sleep(0.2)
    raise AssertionError(f"{role} was not started again:\n{app.log()[-3000:]}")


def test_run_restarts_each_killed_child_keeps_serving_and_stops_all_on_sigterm(tmp_path):
    smtp = SmtpCounter().start()
    env = embedded_env(tmp_path / "var", smtp.port)
    _seed(env)
    app = Interdept(env, tmp_path, _free_port())
    app.start()
    try:
        app.wait_ready()
        pids = {role: app.pid_of(role) for role in ("web", "worker", "beat")}
        assert all(pids.values()), pids

        os.kill(pids["worker"], signal.SIGKILL)
        new_worker = _wait_new(app, "worker", pids["worker"])
        assert wait_http(app.port, 5), "the web side stopped answering when the worker died"
        assert app.pid_of("web") == pids["web"] and app.pid_of("beat") == pids["beat"]

        os.kill(pids["beat"], signal.SIGKILL)
        new_beat = _wait_new(app, "beat", pids["beat"])

        os.kill(pids["web"], signal.SIGKILL)
        new_web = _wait_new(app, "web", pids["web"])
        assert wait_http(app.port, 60), f"the web side never came back:\n{app.log()[-3000:]}"
        assert app.pid_of("worker") == new_worker and app.pid_of("beat") == new_beat
        assert dict(app.restarts()) == {"worker": 1, "beat": 1, "web": 1}
        assert "worker killed by SIGKILL" in app.log()
        # The killed gunicorn master's workers went with it: none left besides the new master's.
        assert not [pid for pid in (pids["web"], pids["worker"], pids["beat"]) if Path(f"/proc/{pid}").exists()]

        children = [new_web, new_worker, new_beat]
        code, alive = app.stop()
        assert code == 0
        assert alive == []
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
        assert "stopping (SIGTERM)" in app.log()
    finally:
        if app.proc.poll() is None:
            app.stop()
        smtp.stop()
