"""The embedded default (`interdept run`: SQLite, the filesystem broker) under load with its worker SIGKILLed.

The short form of `python -m bench soak` (issue 13, item 1): beat's outbox relay
every 2 s, two clients running lifecycles over HTTP, the worker killed twice.
The site must answer every call, every lifecycle end accepted, every email be
delivered (a killed pool process may send its one in-flight email again), every
outbox event complete, and SIGTERM stop everything.
"""
from __future__ import annotations

from bench.soak import EMAILS_PER_LIFECYCLE, WORKER_PROCESSES, run_soak


def test_the_embedded_default_keeps_serving_and_loses_no_email_through_two_worker_kills(tmp_path):
    result = run_soak(seconds=45, concurrency=2, pause=1.0, kills=2, settle_timeout=120, workdir=tmp_path,
                      echo=print)
    print(result.summary())
    assert result.problems == [], "\n".join(result.problems) + "\n" + (tmp_path / "run.log").read_text()[-4000:]
    assert len(result.kills) == 2
    assert dict(result.restarts) == {"worker": 2}
    assert result.lifecycles >= 5
    assert result.emails_expected >= EMAILS_PER_LIFECYCLE * result.lifecycles
    assert result.emails_expected <= result.emails_delivered <= result.emails_expected + 2 * WORKER_PROCESSES
    assert result.set_aside == 0
