"""The id of the HTTP request (or of the event being handled) this code runs for.

The web side sets it per request from a sane incoming ``X-Request-Id`` (or a new
one); ``UnitOfWork.emit`` stores it on each outbox event; the worker sets it again
from the event it handles, so one id joins the request's log lines, its outbox
rows and the worker's lines for them (and for the events those handlers emit).
"""
from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

REQUEST_ID: ContextVar[str | None] = ContextVar("interdept_request_id", default=None)

# Printable, no spaces or quotes, bounded: safe in a header, a log line and a String(128) column.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")


def sane_request_id(raw: str | None) -> str | None:
    """The incoming id if it is fit to carry along, else None (the caller makes a new one)."""
    if raw and _SANE.fullmatch(raw):
        return raw
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return REQUEST_ID.get()


@contextmanager
def request_id_bound(value: str | None) -> Iterator[None]:
    token = REQUEST_ID.set(value)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)
