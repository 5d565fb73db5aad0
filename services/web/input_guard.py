"""The boundary check every JSON body and query string passes before any view sees it.

Text that cannot be stored and shown again (a lone surrogate such as ``"\\ud800"``,
control characters other than tab, CR and LF), JSON nested deeper than any of our
bodies, integers with thousands of digits and integers no database column holds
are refused here with a 422 naming the field, so nothing downstream, not the
use cases and not the database, ever sees them, and nothing is stored that
would break a page later.
"""
from __future__ import annotations

import json
import re

from flask import Flask, current_app, g, request

from services.web.api.errors import error_response
from services.web.fields import form_problems
from services.web.session import current_web_user
from workflows.core import Invalid

MAX_DEPTH = 32
MAX_JSON_BYTES = 1 << 20      # the largest body we take (a program section's text) is well below
MAX_INT_DIGITS = 19           # 2**63 has 19 digits; parse no more than that
INT_LIMIT = 2 ** 63           # the largest integer any column holds is below this
_LONG_INT = re.compile(r"-?[0-9]{19,}")
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class BadInput(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadInput("", "число слишком велико")
    return int(text)


def _no_constant(name: str):
    raise BadInput("", f"{name} — не число JSON")


def check_text(value: str, field: str) -> None:
    """A string every page, email and export can carry."""
    bad = _BAD_CHARS.search(value)
    if bad is None:
        return
    char = bad.group()
    if "\ud800" <= char <= "\udfff":
        raise BadInput(field, "недопустимый символ (одиночный суррогат Unicode)")
    raise BadInput(field, f"недопустимый управляющий символ U+{ord(char):04X}")


def check_value(value, field: str = "", depth: int = 0) -> None:
    """Walk a parsed JSON value: depth, integer range and every string (keys too)."""
    if depth > MAX_DEPTH:
        raise BadInput(field or "body", f"вложенность глубже {MAX_DEPTH} уровней")
    if isinstance(value, str):
        check_text(value, field or "body")
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        if not -INT_LIMIT < value < INT_LIMIT:
            raise BadInput(field or "body", "число вне допустимого диапазона")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            check_text(key, field or "body")
            check_value(item, name, depth + 1)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            check_value(item, f"{field}[{n}]" if field else f"[{n}]", depth + 1)


class TooLarge(BadInput):
    pass


def parse_json(raw: bytes):
    """Parse with the size bounded first, the integer size before conversion, the depth by the walk."""
    if len(raw) > MAX_JSON_BYTES:
        raise TooLarge("body", f"тело запроса больше {MAX_JSON_BYTES // 1024} КБ")
    text = raw.decode("utf-8")
    # A cheap bound first, so the parser's own recursion is never what stops a deep body.
    if text.count("[") + text.count("{") > MAX_DEPTH and _max_nesting(text) > MAX_DEPTH + 1:
        raise BadInput("body", f"вложенность глубже {MAX_DEPTH} уровней")
    value = json.loads(text, parse_int=_int, parse_constant=_no_constant)
    check_value(value)
    return value


def _max_nesting(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _refuse(error: BadInput):
    field = error.field or "body"
    if isinstance(error, TooLarge):
        return error_response(413, "too_large", f"Слишком большой запрос: {error.reason}.", {field: [error.reason]})
    return error_response(422, "invalid", f"Данные не прошли проверку: {field}", {field: [error.reason]})


FORM_REFUSED = "Форма не принята: исправьте отмеченные поля."


def _form_errors() -> dict[str, list[str]]:
    """Every form field's text, then its length, line and number limits (``services.web.fields``)."""
    errors: dict[str, list[str]] = {}
    for name, value in request.form.items(multi=True):
        for text, where in ((name, name[:100]), (value, name[:100])):
            try:
                check_text(text, where)
            except BadInput as error:
                errors.setdefault(error.field, []).append(error.reason)
    if errors:
        return errors
    return form_problems(request.form)


def _guard_form():
    """Web forms: refused with the field's reason as a page (422), or handed to a view that shows
    them at the field (``g.form_errors``); checked after sign-in, so a stranger is sent to sign in."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.form:
        return None
    errors = _form_errors()
    if not errors:
        return None
    if request.path.startswith("/api/"):
        field = next(iter(errors))
        return error_response(422, "invalid", f"Данные не прошли проверку: {field}", errors)
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "requires_sign_in", False) and current_web_user() is None:
        return None  # the view sends them to sign in; nothing reaches the logic
    if getattr(view, "shows_form_errors", False):
        g.form_errors = errors
        return None
    raise Invalid(FORM_REFUSED, fields=errors)


def init_input_guard(app: Flask) -> None:
    @app.before_request
    def _guard_input():
        try:
            for name, value in request.args.items(multi=True):
                check_text(value, name)
                if _LONG_INT.fullmatch(value) and abs(int(value[:40])) >= INT_LIMIT:
                    raise BadInput(name, "число вне допустимого диапазона")
            if request.is_json and request.content_length != 0:
                raw = request.get_data(cache=True)
                if raw.strip():
                    try:
                        parse_json(raw)
                    except (UnicodeDecodeError, json.JSONDecodeError):
                        return None  # malformed JSON: the view's parser answers 400 as before
        except BadInput as error:
            return _refuse(error)
        return _guard_form()
