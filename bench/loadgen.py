"""The load generator: one process, one thread, non-blocking sockets, many HTTP/1.1 clients.

Each simulated client is a Python generator that yields a request and is sent
its response (or None on a failed call), so a client can chain calls (create a
request, then answer it by the id it got back). The event loop does the I/O with
`selectors`, prebuilt request bytes and a minimal response parser, so it costs
far less CPU per request than threads over `http.client` (about a third,
measured against `wrk` in docs/benchmarks.md): on two shared cores every
millisecond the generator spends is taken from the server it measures. Both the
service and the floor app are driven by this same code.

Run as `python -m bench.loadgen '<json config>'`; prints one JSON object.
"""
from __future__ import annotations

import json
import selectors
import socket
import sys
import time
from dataclasses import dataclass
from typing import Callable, Generator

PROGRAM = "kotovsk-information-society"
REQUEST_TIMEOUT = 30.0


@dataclass
class Call:
    """One HTTP request a client wants, with the status it counts as success."""

    method: str
    path: str
    token: str
    body: bytes
    expect: int


@dataclass
class Response:
    status: int
    body: bytes

    def json(self):
        return json.loads(self.body)


Client = Generator[Call, "Response | None", None]


def encode(call: Call, host: str) -> bytes:
    return (f"{call.method} {call.path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {call.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(call.body)}\r\n\r\n").encode() + call.body


def parse_head(head: bytes) -> tuple[int, int | None, bool]:
    """Status, Content-Length (None if absent) and whether the server closes after this response."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = None, lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding" and value.strip().lower() != b"identity":
            raise ValueError("chunked responses are not supported by the load generator")
    return status, length, close


class _Conn:
    """One client's connection and the call in flight on it."""

    def __init__(self, client: Client, index: int):
        self.client = client
        self.index = index
        self.sock: socket.socket | None = None
        self.reused = False
        self.call: Call | None = None
        self.out = b""
        self.buf = b""
        self.started = 0.0
        self.retried = False
        self.head: tuple[int, int | None, bool] | None = None
        self.body_at = 0


class LoadRun:
    """Drives clients until each is exhausted; collects latencies, errors and completed calls."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.addr = (host, port)
        self.host_header = f"{host}:{port}"
        self.sel = selectors.DefaultSelector()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.calls = 0

    # --- connection handling ---
    def _open(self, conn: _Conn) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        # A refused connect shows as a failed send on the first write event.
        sock.connect_ex(self.addr)
        conn.sock, conn.reused = sock, False
        self.sel.register(sock, selectors.EVENT_WRITE, conn)

    def _close(self, conn: _Conn) -> None:
        if conn.sock is not None:
            self.sel.unregister(conn.sock)
            conn.sock.close()
            conn.sock = None

    def _start(self, conn: _Conn, response: Response | None) -> bool:
        """Hand the client its last response; send its next call. False when the client is done."""
        try:
            call = conn.client.send(response) if conn.call is not None else next(conn.client)
        except StopIteration:
            self._close(conn)
            return False
        conn.call, conn.retried = call, False
        conn.started = time.perf_counter()
        self._send(conn)
        return True

    def _send(self, conn: _Conn) -> None:
        conn.out, conn.buf, conn.head = encode(conn.call, self.host_header), b"", None
        if conn.sock is None:
            self._open(conn)
        else:
            conn.reused = True
            self.sel.modify(conn.sock, selectors.EVENT_WRITE, conn)

    def _fail(self, conn: _Conn, why: str) -> bool:
        self.errors.append(f"{conn.call.method} {conn.call.path}: {why}")
        self._close(conn)
        return self._start(conn, None)

    def _done(self, conn: _Conn, status: int, body: bytes, close: bool) -> bool:
        self.latencies.append(time.perf_counter() - conn.started)
        self.calls += 1
        if close:
            self._close(conn)
        if status != conn.call.expect:
            self.errors.append(f"{conn.call.method} {conn.call.path}: HTTP {status} {body[:200]!r}")
            return self._start(conn, None)
        return self._start(conn, Response(status, body))

    # --- events ---
    def _writable(self, conn: _Conn) -> bool:
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            return self._retry_or_fail(conn, repr(exc))
        conn.out = conn.out[sent:]
        if not conn.out:
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)
        return True

    def _retry_or_fail(self, conn: _Conn, why: str) -> bool:
        # A kept-alive connection the server closed while idle: open a new one and send again, once.
        if conn.reused and not conn.buf and not conn.retried:
            conn.retried = True
            self._close(conn)
            self._send(conn)
            return True
        return self._fail(conn, why)

    def _readable(self, conn: _Conn) -> bool:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            return self._retry_or_fail(conn, repr(exc))
        if not data:
            if conn.head is not None and conn.head[1] is None:  # body delimited by the close
                return self._done(conn, conn.head[0], conn.buf[conn.body_at:], True)
            return self._retry_or_fail(conn, "connection closed before the response")
        conn.buf += data
        if conn.head is None:
            end = conn.buf.find(b"\r\n\r\n")
            if end < 0:
                return True
            try:
                conn.head = parse_head(conn.buf[:end])
            except (ValueError, IndexError) as exc:
                return self._fail(conn, f"bad response: {exc}")
            conn.body_at = end + 4
        status, length, close = conn.head
        if length is not None and len(conn.buf) - conn.body_at >= length:
            return self._done(conn, status, conn.buf[conn.body_at:conn.body_at + length], close)
        return True

    def run(self, clients: list[Client]) -> float:
        """Run every client to its end; returns the elapsed seconds."""
        started = time.perf_counter()
        conns = [_Conn(c, i) for i, c in enumerate(clients)]
        live = sum(1 for c in conns if self._start(c, None))
        next_check = started + 1.0
        while live:
            for key, mask in self.sel.select(timeout=1.0):
                conn = key.data
                if conn.sock is None or key.fileobj is not conn.sock:
                    continue
                alive = self._writable(conn) if mask & selectors.EVENT_WRITE else self._readable(conn)
                if not alive:
                    live -= 1
            now = time.perf_counter()
            if now < next_check:
                continue
            next_check = now + 1.0
            for conn in conns:
                if conn.sock is not None and now - conn.started > REQUEST_TIMEOUT:
                    if not self._fail(conn, f"no response in {REQUEST_TIMEOUT:.0f} s"):
                        live -= 1
        return time.perf_counter() - started


# --- the scenarios -------------------------------------------------------------------------------

def _budget(total: int, seconds: float) -> Callable[[], bool]:
    """True while the level has lifecycles (or calls) and time left; shared by all clients."""
    stop_at = time.monotonic() + seconds
    taken = [0]

    def take() -> bool:
        if taken[0] >= total or time.monotonic() >= stop_at:
            return False
        taken[0] += 1
        return True

    return take


def lifecycle_client(take: Callable[[], bool], tokens: dict, done: list[int]) -> Client:
    """The service's lifecycle: create+send by IT, answer by MFC, accept by IT (3 transitions, 5 emails)."""
    create = json.dumps({"program": PROGRAM, "subject": "Нагрузочный запрос", "body": "Сведения для отчёта.",
                         "addressees": ["mfc"], "send": True}).encode()
    answer = json.dumps({"event": "answer", "data": {"text": "Сведения приложены."}}).encode()
    accept = json.dumps({"event": "accept"}).encode()
    while take():
        created = yield Call("POST", "/api/v1/requests", tokens["it"], create, 201)
        if created is None:
            continue
        rid = created.json()["requests"][0]["id"]
        if (yield Call("POST", f"/api/v1/requests/{rid}/transitions", tokens["mfc"], answer, 200)) is None:
            continue
        if (yield Call("POST", f"/api/v1/requests/{rid}/transitions", tokens["it"], accept, 200)) is None:
            continue
        done[0] += 1


def floor_client(take: Callable[[], bool], token: str, item_ids: list[int], done: list[int]) -> Client:
    """The floor app's one transition, on this client's own items (no lock shared with another client)."""
    body = json.dumps({"event": "accept"}).encode()
    n = 0
    while take():
        rid = item_ids[n % len(item_ids)]
        n += 1
        if (yield Call("POST", f"/items/{rid}/transitions", token, body, 200)) is not None:
            done[0] += 1


def build_clients(cfg: dict) -> tuple[list[Client], list[int]]:
    take = _budget(cfg["requests"], cfg["seconds"])
    done = [0]
    conc = cfg["concurrency"]
    if cfg["scenario"] == "lifecycle":
        clients: list[Client] = [lifecycle_client(take, cfg["tokens"], done) for _ in range(conc)]
    elif cfg["scenario"] == "floor":
        items = cfg["items"]
        clients = [floor_client(take, cfg["token"], list(range(i + 1, items + 1, conc)), done)
                   for i in range(conc)]
    else:
        raise ValueError(f"unknown scenario {cfg['scenario']!r}")
    return clients, done


def run(cfg: dict) -> dict:
    """One level of load; `done` counts lifecycles (service) or transitions (floor) that fully succeeded."""
    clients, done = build_clients(cfg)
    cpu_before = time.process_time()
    runner = LoadRun(cfg["port"])
    elapsed = runner.run(clients)
    return {"elapsed": elapsed, "done": done[0], "calls": runner.calls, "latencies": runner.latencies,
            "errors": runner.errors, "cpu_seconds": time.process_time() - cpu_before}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(json.loads(sys.argv[1]))))
