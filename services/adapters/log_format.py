"""Log lines as JSON (``INTERDEPT_LOG_FORMAT=json``), each with the current request id.

A small formatter over ``logging`` rather than a dependency: one object per line with
``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``process``, ``request_id``
when there is one, ``exc`` for a traceback, and whatever was passed as ``extra=``.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from services.adapters.request_id import current_request_id

LOG_FORMATS = ("text", "json")

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` (None outside a request or an event's handling)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(log_format: str, level: int | str = logging.INFO) -> None:
    """Text: ``logging.basicConfig`` as before. JSON: one handler on the root logger writing JSON
    lines to stderr (replacing an earlier one of ours, leaving others' handlers alone)."""
    if log_format != "json":
        logging.basicConfig(level=level)
        return
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_interdept_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler._interdept_json = True
    root.addHandler(handler)
    root.setLevel(level)
