"""The broker: Celery's settings, and the bell the web side rings after a commit.

The web side and the CLI ring by task name through a bare Celery client built
from settings; they never import ``workers/`` (the worker app adds its tasks and
beat schedule on top of the same settings).
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from functools import cached_property
from typing import Iterable

from celery import Celery

from config.settings import Settings

log = logging.getLogger(__name__)

HANDLE_EVENT_TASK = "interdept.handle_event"
# A bell means "there is work": the worker drains batches until none is full, so one bell per this
# many events is enough (more let several worker processes share a large backlog).
EVENTS_PER_BELL = 50
# On Redis, a bell is not rung while one is waiting in the queue (a key set with NX when it is rung,
# deleted by the worker as it starts to drain, so whatever commits after that rings again). The
# key's lifetime bounds the silence if a rung bell was lost: then bells resume, and the relay rings.
PENDING_BELL_TTL = 5
FS_TRANSPORT = "services.adapters.fs_transport:Transport"


def celery_config(settings: Settings) -> dict:
    """What every Celery app of this service shares: the broker, its queue and its transport options."""
    conf = dict(
        broker_url=settings.broker_url,
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
    )
    if settings.broker_is_filesystem:
        # Our subclass of kombu's filesystem transport: messages appear whole or not at all
        # (fs_transport.py says why). Claimed files move to processed/ and are removed once read;
        # a malformed one goes to bad/. All folders on one filesystem, so every move is a rename.
        conf["broker_transport"] = FS_TRANSPORT
        folders = {name: settings.broker_dir / name for name in ("queue", "processed", "tmp", "bad", "control")}
        for path in folders.values():
            path.mkdir(parents=True, exist_ok=True)
        conf["broker_transport_options"] = {
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "tmp_folder": str(folders["tmp"]),
            "bad_folder": str(folders["bad"]),
            "store_processed": False,
            "polling_interval": 0.2,
            "control_folder": str(folders["control"]),
        }
    elif settings.broker_url.startswith("redis"):
        conf["broker_transport_options"] = {
            "visibility_timeout": 3600,
            "socket_connect_timeout": 3,
            "socket_timeout": 5,
        }
    return conf


def celery_client(settings: Settings) -> Celery:
    """A Celery app that only sends: no tasks of its own."""
    app = Celery("interdept")
    app.conf.update(celery_config(settings))
    return app


class CeleryPublisher:
    """Rings the broker's bell for committed events from a background thread.

    A slow or absent broker then never holds up an HTTP request: the events are
    already committed, and the relay republishes any bell that was not rung.
    """

    def __init__(self, settings: Settings, background: bool = True):
        self.settings = settings
        self.background = background
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @cached_property
    def celery(self) -> Celery:
        return celery_client(self.settings)

    def __call__(self, event_ids: Iterable[str]) -> None:
        ids = list(event_ids)
        if not ids:
            return
        if not self.background:
            self.publish_now(ids)
            return
        self._ensure_thread()
        self._queue.put(ids)

    @cached_property
    def _redis(self):
        if not self.settings.broker_url.startswith("redis"):
            return None
        import redis

        return redis.Redis.from_url(self.settings.broker_url, socket_connect_timeout=3, socket_timeout=5)

    @property
    def _pending_key(self) -> str:
        return f"interdept:bell-pending:{self.settings.queue}"

    def _claim_bell(self) -> bool:
        """False when a bell already waits for a worker (this commit's events will be in its drain)."""
        if self._redis is None:
            return True
        try:
            return bool(self._redis.set(self._pending_key, "1", nx=True, ex=PENDING_BELL_TTL))
        except Exception:  # noqa: BLE001  cannot tell: ring
            return True

    def answered(self) -> None:
        """The worker starts to drain: the next commit rings again (best effort)."""
        if self._redis is None:
            return
        try:
            self._redis.delete(self._pending_key)
        except Exception:  # noqa: BLE001  the key expires by itself
            log.warning("could not clear the pending bell", exc_info=True)

    def publish_now(self, ids: list[str]) -> None:
        bells = ids[::EVENTS_PER_BELL]
        if len(bells) == 1 and not self._claim_bell():
            return
        try:
            with self.celery.producer_or_acquire() as producer:
                for event_id in bells:
                    self.celery.send_task(HANDLE_EVENT_TASK, args=[event_id], producer=producer, retry=False)
        except Exception:
            self.answered()  # no bell waits after all: do not silence the next ones
            raise

    def _ensure_thread(self) -> None:
        with self._lock:
            # After a fork (gunicorn, Celery prefork) the parent's thread does not exist here.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="outbox-bell", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            ids = self._queue.get()
            if ids is None:
                return
            try:
                self.publish_now(ids)
            except Exception:  # the relay republishes what is not handled
                log.warning("broker unreachable; %d events wait for the relay", len(ids), exc_info=True)

    def flush(self, timeout: float = 3.0) -> None:
        """Give queued bells a moment before the process exits (CLI runs)."""
        thread = self._thread
        if thread is None or not thread.is_alive() or self._pid != os.getpid():
            return
        self._queue.put(None)
        thread.join(timeout)


def broker_problem(settings: Settings, timeout: float = 2.0) -> str | None:
    """None when the broker can take a message now, else why not (for /readyz).

    The embedded broker is folders: they must exist and be writable. A server broker
    must accept a connection within ``timeout`` seconds (for Redis, answer a PING).
    """
    if settings.broker_is_filesystem:
        # The subfolders are made by the first Celery client (web, worker or beat) that starts.
        folders = [settings.broker_dir] + [settings.broker_dir / name for name in ("queue", "tmp", "control")
                                           if (settings.broker_dir / name).exists()]
        for folder in folders:
            if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
                return f"broker folder {folder} is missing or not writable"
        return None
    from kombu import Connection

    options = {"socket_connect_timeout": timeout, "socket_timeout": timeout} \
        if settings.broker_url.startswith("redis") else {}
    try:
        with Connection(settings.broker_url, connect_timeout=timeout, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            client = getattr(conn.default_channel, "client", None)
            if client is not None and hasattr(client, "ping"):
                client.ping()
    except Exception as exc:  # noqa: BLE001  any failure means "not ready", said with its reason
        return f"{type(exc).__name__}: {exc}"[:300]
    return None
