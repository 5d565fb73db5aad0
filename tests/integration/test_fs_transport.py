"""The embedded default's broker never hands a consumer half a message, and survives a bad file (issue 13, item 1).

The connection is built from ``celery_config`` exactly as the web side, the CLI
and the worker build theirs, so these tests exercise whatever transport the
embedded default really uses.
"""
from __future__ import annotations

import json
import threading
import time
from queue import Empty

import pytest
from kombu import Exchange, Queue

from config.settings import Settings
from services.adapters.broker import celery_client

QUEUE = "interdept"


@pytest.fixture
def settings(tmp_path):
    s = Settings.from_env({"INTERDEPT_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": "sqlite://"})
    s.ensure_dirs()
    return s


def _connection(settings):
    return celery_client(settings).connection_for_write()


def test_a_malformed_message_file_is_moved_aside_and_the_next_message_is_delivered(settings):
    queue_dir = settings.broker_dir / "queue"
    with _connection(settings) as conn:
        queue = conn.SimpleQueue(QUEUE)
        # What a producer killed mid-write, or kombu's in-place write seen too early, leaves behind.
        (queue_dir / f"1_00000000-0000-0000-0000-000000000001.{QUEUE}.msg").write_bytes(b"")
        (queue_dir / f"2_00000000-0000-0000-0000-000000000002.{QUEUE}.msg").write_bytes(b'{"body": "eyJ')
        (queue_dir / f"3_00000000-0000-0000-0000-000000000003.{QUEUE}.msg").write_bytes(b"\xff\xfe not json")
        queue.put({"n": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"n": 1}
        message.ack()
        with pytest.raises(Empty):
            queue.get(block=False)
        queue.close()
    bad = sorted(p.name for p in (settings.broker_dir / "bad").iterdir())
    assert bad == [f"1_00000000-0000-0000-0000-000000000001.{QUEUE}.msg",
                   f"2_00000000-0000-0000-0000-000000000002.{QUEUE}.msg",
                   f"3_00000000-0000-0000-0000-000000000003.{QUEUE}.msg"]
    assert (settings.broker_dir / "bad" / bad[1]).read_bytes() == b'{"body": "eyJ'
    assert not [p for p in queue_dir.iterdir() if p.name.endswith(".msg")]


MESSAGES = 60
BLOB = 1_000_000  # large, so the write of one message takes long enough to be caught half done


def test_a_consumer_polling_while_a_producer_writes_large_messages_never_reads_half_of_one(settings):
    errors: list[BaseException] = []
    received: list[int] = []

    def produce():
        try:
            with _connection(settings) as conn:
                queue = conn.SimpleQueue(QUEUE)
                for n in range(MESSAGES):
                    queue.put({"n": n, "blob": "x" * BLOB})
                queue.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with _connection(settings) as conn:
        queue = conn.SimpleQueue(QUEUE)
        producer = threading.Thread(target=produce)
        producer.start()
        deadline = time.monotonic() + 120
        try:
            while len(received) < MESSAGES and time.monotonic() < deadline:
                try:
                    message = queue.get(block=False)
                except Empty:
                    continue
                payload = message.payload
                assert len(payload["blob"]) == BLOB
                received.append(payload["n"])
                message.ack()
        finally:
            producer.join(120)
            queue.close()
    assert not errors, errors
    assert sorted(received) == list(range(MESSAGES))
    assert not any((settings.broker_dir / "bad").iterdir())
    assert not any((settings.broker_dir / "tmp").iterdir()), "temporary files left behind"


def test_the_exchange_table_is_never_read_half_written(settings):
    """Queue declarations rewrite the control folder's table; a concurrent reader always sees valid JSON."""
    table = settings.broker_dir / "control" / f"{QUEUE}.exchange"
    stop = threading.Event()
    seen: list[str] = []

    def read():
        while not stop.is_set():
            try:
                seen.append(table.read_text())
            except FileNotFoundError:
                pass

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with _connection(settings) as conn:
            exchange = Exchange(QUEUE, "direct")
            for n in range(200):
                conn.SimpleQueue(Queue(f"q{n}", exchange=exchange, routing_key=f"q{n}")).close()
    finally:
        stop.set()
        reader.join(10)
    for text in seen:
        json.loads(text)
    assert len(json.loads(table.read_text())) >= 200
