"""The embedded default's broker: kombu's filesystem transport, made unable to read half a message.

kombu's own transport (5.x) creates ``<n>_<uuid>.<queue>.msg`` in the queue
folder and only then writes into it, so a consumer listing the folder in
between reads an empty or partial file and dies on ``JSONDecodeError``
(celery/kombu#1551). Here a message is written whole under a temporary folder
on the same filesystem and renamed into the queue folder (``os.replace`` is
atomic), so the consumer's listing only ever shows complete files. A file that
still does not parse (written by something else, a disk error) is logged and
moved to ``bad_folder``; it is never fatal to the worker. The exchange tables
in the control folder are rewritten the same way, under a lock file, for the
same reason.
"""
from __future__ import annotations

import logging
import os
import uuid
from queue import Empty
from time import monotonic

from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

log = logging.getLogger(__name__)


def write_atomically(path: str, data: bytes, tmp_folder: str) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a part of it."""
    tmp = os.path.join(tmp_folder, f".{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Channel(filesystem.Channel):
    """Atomic puts; a get that sets aside what it cannot parse."""

    @cached_property
    def tmp_folder(self) -> str:
        folder = self.transport_options.get("tmp_folder") or os.path.join(self.data_folder_out, ".tmp")
        os.makedirs(folder, exist_ok=True)
        return folder

    @cached_property
    def bad_folder(self) -> str:
        folder = self.transport_options.get("bad_folder") or os.path.join(self.data_folder_in, ".bad")
        os.makedirs(folder, exist_ok=True)
        return folder

    @cached_property
    def claim_folder(self) -> str:
        """Where a consumer moves a file it takes: the processed folder, on the same filesystem."""
        folder = self.processed_folder
        os.makedirs(folder, exist_ok=True)
        return folder

    def _put(self, queue, payload, **kwargs):
        filename = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        target = os.path.join(self.data_folder_out, filename)
        try:
            write_atomically(target, str_to_bytes(dumps(payload)), self.tmp_folder)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {target!r} to directory") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.claim_folder, filename)
            try:
                # The rename is the claim: of two consumers exactly one succeeds.
                os.replace(os.path.join(self.data_folder_in, filename), claimed)
            except OSError:
                continue
            try:
                with open(claimed, "rb") as f:
                    raw = f.read()
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot read file {claimed!r} from queue.") from exc
            try:
                payload = loads(bytes_to_str(raw))
                if not isinstance(payload, dict):
                    raise ValueError(f"not a message object: {type(payload).__name__}")
            except (ValueError, UnicodeDecodeError) as exc:
                self._set_aside(claimed, filename, exc, len(raw))
                continue
            if not self.store_processed:
                os.remove(claimed)
            return payload
        raise Empty()

    def _set_aside(self, path: str, filename: str, error: Exception, size: int) -> None:
        aside = os.path.join(self.bad_folder, filename)
        try:
            os.replace(path, aside)
        except OSError:
            log.exception("could not move the malformed message %s aside", path)
            aside = path
        log.error("malformed broker message %s (%d bytes) moved to %s: %r", filename, size, aside, error)

    def _rewrite_table(self, exchange, change) -> None:
        """Read, change and atomically replace an exchange's table, one writer at a time."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.control_folder / f".{file.name}.lock", "a+b") as guard:
                filesystem.lock(guard, filesystem.LOCK_EX)
                try:
                    queues = list(self.get_table(exchange))
                    if change(queues):
                        write_atomically(str(file), str_to_bytes(dumps(queues)), str(self.control_folder))
                finally:
                    filesystem.unlock(guard)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot open {file}") from exc

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def add(queues: list) -> bool:
            if entry in queues:
                return False
            queues.insert(0, entry)
            return True

        self._rewrite_table(exchange, add)

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def remove(queues: list) -> bool:
            if entry not in queues:
                return False
            queues.remove(entry)
            return True

        self._rewrite_table(exchange, remove)

    def get_table(self, exchange):
        try:
            return super().get_table(exchange)
        except ValueError:  # an exchange table written half by an older kombu: rebuilt by the next bind
            log.error("malformed exchange table for %r in %s", exchange, self.control_folder)
            return []


class Transport(filesystem.Transport):
    """``broker_transport = "services.adapters.fs_transport:Transport"`` with ``broker_url = "filesystem://"``."""

    Channel = Channel
    # kombu keeps one binding table per process for every filesystem connection; one per control
    # folder instead, so a binding recorded for one broker folder is never taken as done for another.
    _states: dict[str, virtual.BrokerState] = {}

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        folder = os.path.abspath(str(client.transport_options.get("control_folder", "control")))
        self.state = self._states.setdefault(folder, virtual.BrokerState())
