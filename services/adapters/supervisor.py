"""Keep a few child processes running: what `interdept run` is on the embedded default.

A child that dies (a crash, the OOM killer, a SIGKILL) is started again after a
backoff that doubles from ``min_backoff`` to ``max_backoff`` and resets once the
child has stayed up ``stable_after`` seconds; the others keep serving. Each child
leads its own process group, so what it leaves behind when killed (gunicorn or
Celery pool processes) is killed with it before the restart, and Ctrl-C in a
terminal reaches the supervisor only: it forwards SIGINT/SIGTERM to each child,
waits up to ``stop_timeout`` and then kills what is left. A second signal kills
at once.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

log = logging.getLogger("interdept.supervisor")


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = 0.0
    restarts: int = 0
    exits: list[int] = field(default_factory=list)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    def __init__(self, children: dict[str, list[str]], *, env: dict | None = None, min_backoff: float = 1.0,
                 max_backoff: float = 30.0, stable_after: float = 60.0, stop_timeout: float = 15.0,
                 poll: float = 0.2):
        self.children = {name: Child(name, argv, backoff=min_backoff) for name, argv in children.items()}
        self.env = env
        self.min_backoff, self.max_backoff, self.stable_after = min_backoff, max_backoff, stable_after
        self.stop_timeout, self.poll = stop_timeout, poll
        self.stop_signal: int | None = None
        self.signals = 0

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        """Start every child, keep them up until SIGTERM/SIGINT, then stop them all; returns the exit code."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for child in self.children.values():
                self._start(child)
            while self.stop_signal is None:
                self._tend(time.monotonic())
                time.sleep(self.poll)
            self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _on_signal(self, signum, frame) -> None:
        self.signals += 1
        if self.stop_signal is None:
            self.stop_signal = signum
        elif self.signals > 1:
            log.warning("second signal: killing every child now")
            for child in self.children.values():
                if child.proc is not None:
                    _kill_group(child.proc.pid, signal.SIGKILL)

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=self.env, start_new_session=True)
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("%s started (pid %d)", child.name, child.proc.pid)

    def _tend(self, now: float) -> None:
        for child in self.children.values():
            if child.proc is not None:
                code = child.proc.poll()
                if code is None:
                    if now - child.started_at >= self.stable_after:
                        child.backoff = self.min_backoff
                    continue
                # What the dead leader left behind (pool processes, gunicorn workers) goes with it.
                _kill_group(child.proc.pid, signal.SIGKILL)
                child.proc = None
                child.exits.append(code)
                if now - child.started_at >= self.stable_after:
                    child.backoff = self.min_backoff
                child.restart_at = now + child.backoff
                log.error("%s %s after %.1f s; restart %d in %.0f s", child.name, _describe(code),
                          now - child.started_at, child.restarts + 1, child.backoff)
                child.backoff = min(child.backoff * 2, self.max_backoff)
            elif child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._start(child)

    def _stop_all(self) -> None:
        sig = self.stop_signal or signal.SIGTERM
        log.info("stopping (%s): forwarding it to %s", signal.Signals(sig).name,
                 ", ".join(c.name for c in self.children.values() if c.proc is not None) or "nobody")
        running = [c for c in self.children.values() if c.proc is not None]
        for child in running:
            try:
                child.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s: killed", child.name, self.stop_timeout)
                _kill_group(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
            _kill_group(child.proc.pid, signal.SIGKILL)
            log.info("%s stopped: %s", child.name, _describe(child.proc.returncode))
