"""JSON log lines and request ids, without a server."""
from __future__ import annotations

import io
import json
import logging

import pytest

from config.settings import Settings
from services.adapters.log_format import JsonFormatter, RequestIdFilter, configure_logging
from services.adapters.request_id import current_request_id, request_id_bound, sane_request_id


@pytest.mark.parametrize("raw", ["abc-123", "7f3c2a", "gw-2026/12/02:abc+1=@x", "a" * 128,
                                 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])
def test_a_sane_request_id_is_kept(raw):
    assert sane_request_id(raw) == raw


@pytest.mark.parametrize("raw", [None, "", " abc", "a b", "a" * 129, "x\ny", "x\r\nSet-Cookie: a=b", "привет",
                                 "<script>", '"quoted"', "-leading-dash", "a\x00b"])
def test_an_insane_request_id_is_refused(raw):
    assert sane_request_id(raw) is None


def _logger_to(buffer: io.StringIO) -> logging.Logger:
    logger = logging.getLogger(f"test.log_format.{id(buffer)}")
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_a_json_line_carries_the_bound_request_id_the_extras_and_the_traceback():
    buffer = io.StringIO()
    logger = _logger_to(buffer)
    with request_id_bound("req-42"):
        assert current_request_id() == "req-42"
        logger.info("handling event %s", "e1", extra={"event_id": "e1", "n": 3})
        try:
            raise ValueError("Ошибка")
        except ValueError:
            logger.exception("handler failed")
    assert current_request_id() is None
    logger.warning("outside")
    first, second, third = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["message"] == "handling event e1"
    assert first["request_id"] == "req-42"
    assert (first["event_id"], first["n"], first["level"]) == ("e1", 3, "INFO")
    assert first["ts"].endswith("+00:00")
    assert second["request_id"] == "req-42"
    assert "ValueError: Ошибка" in second["exc"]
    assert "request_id" not in third and third["level"] == "WARNING"


def test_configuring_json_twice_leaves_one_json_handler_and_others_alone():
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    saved_level = root.level
    try:
        configure_logging("json")
        configure_logging("json")
        ours = [h for h in root.handlers if getattr(h, "_interdept_json", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
        assert foreign in root.handlers
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_interdept_json", False)] + [foreign]:
            root.removeHandler(handler)
        root.setLevel(saved_level)


def test_the_log_format_setting_is_text_or_json_and_names_itself_when_wrong():
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"INTERDEPT_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ValueError, match="INTERDEPT_LOG_FORMAT"):
        Settings.from_env({"INTERDEPT_LOG_FORMAT": "xml"})
    assert Settings.from_env({}).metrics_token is None
    assert Settings.from_env({"INTERDEPT_METRICS_TOKEN": "t"}).metrics_token == "t"
