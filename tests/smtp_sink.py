"""The one SMTP sink of the tests: a real aiosmtpd server that keeps what it accepts.

It can be taken down and brought back on the same port (a mail-server outage), and it records the
client connection each message came over (to see that one kept-open connection served a batch).
"""
from __future__ import annotations

import socket
import threading
from collections import Counter
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[Message] = []
        self.raw: list[bytes] = []  # as received, to read with another policy
        self.peers: list[tuple] = []
        self._lock = threading.Lock()
        self.controller = None

    def start(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                data = envelope.original_content or envelope.content
                message = message_from_bytes(data)
                with sink._lock:
                    sink.raw.append(data)
                    sink.messages.append(message)
                    sink.peers.append(session.peer)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    up, down = start, stop  # the fault tests' words for an outage and its end

    @property
    def ids(self) -> list[str]:
        """Each accepted message's Message-ID, in the order they came."""
        with self._lock:
            return [m["Message-ID"] for m in self.messages]

    message_ids = ids.fget

    def counts(self) -> Counter:
        return Counter(self.ids)

    def connections(self) -> int:
        with self._lock:
            return len(set(self.peers))

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(make_header(decode_header(m["Subject"]))) for m in self.messages]

    def by_recipient(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(m["To"] for m in self.messages))
