"""Security headers on every response, and no secrets in any log line.

Tokens travel in the Authorization header (never logged: neither Flask nor
gunicorn's access log print it) and, for calendar apps, in ``?token=`` of the
feed URL — which every access log prints. ``redact`` masks such values; the
filter is put on the loggers and handlers that print request lines, and
gunicorn runs with :class:`RedactingGunicornLogger`.
"""
from __future__ import annotations

import logging
import re

from flask import Flask, request

# Query parameters and header-like fragments whose values are secrets.
_SECRET_QUERY = re.compile(
    r"(?i)((?:^|[?&;\s])(?:token|access_token|api_key|apikey|key|password|secret)=)[^&\s\"';]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"',}\s][^\"',}]*")
MASK = "***"

# Scripts only from this site's files; inline styles are allowed (pages use style="width:..%" bars),
# which cannot run code.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI (/docs) is served from this application with no inline script (services.web.api.docs):
# the same policy holds there.
CSP_DOCS = CSP


def redact(text: str) -> str:
    if not text:
        return text
    text = _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + " " + MASK, text)
    return _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)


class RedactSecretsFilter(logging.Filter):
    """Masks token values in the formatted message (then kept as the message, without arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = RedactSecretsFilter()
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "flask.app", "")


_ORIGINAL_FACTORY = logging.getLogRecordFactory()


def _redacting_factory(*args, **kwargs):
    record = _ORIGINAL_FACTORY(*args, **kwargs)
    _FILTER.filter(record)
    return record


def install_log_redaction() -> None:
    """Every log record made in this process is redacted as it is created (any logger, any handler);
    the filters on request loggers and root handlers stay as a second line."""
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def init_security(app: Flask) -> None:
    install_log_redaction()

    @app.after_request
    def _headers(response):
        headers = response.headers
        docs = request.path.rstrip("/") == "/docs" or request.path.startswith("/docs/")
        headers.setdefault("Content-Security-Policy", CSP_DOCS if docs else CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith("/api/") and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        return response


try:  # gunicorn is a dependency, but keep this module importable without it
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = None

if _GunicornLogger is not None:
    class RedactingGunicornLogger(_GunicornLogger):
        """gunicorn's logger whose access lines never carry ``?token=`` values or credentials."""

        def atoms(self, resp, req, environ, request_time):
            atoms = super().atoms(resp, req, environ, request_time)
            for key, value in list(atoms.items()):
                if isinstance(value, str):
                    atoms[key] = redact(value)
            # Headers as atoms ({authorization}i) are dropped outright.
            for key in list(atoms):
                if key.lower() in ("{authorization}i", "{cookie}i", "{x-csrftoken}i"):
                    atoms[key] = MASK
            return atoms
