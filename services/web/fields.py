"""The field definitions the API's schemas and the web forms share: one limit per field, in one place.

A ``Text`` knows its maximum length and whether it is one line (subjects, names, labels: CR/LF
there would end up in an email header or break a table row); a ``Number`` how many digits its
column holds. The API builds its marshmallow fields from them (``.field()``); the input guard
checks every web form field against ``form_rule(name)`` before a view sees it, so a page and the
API refuse the same values with the same reasons.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from marshmallow import ValidationError, fields, validate

from services import information_requests as ir
from services import people

ONE_LINE_ERROR = "Одна строка, без переводов строки."
INT_LIMIT = 2 ** 63       # no column holds more (BIGINT); SQLite overflows at it
ID_LIMIT = 2 ** 31        # ids are PostgreSQL integers


@dataclass(frozen=True)
class Text:
    max: int
    one_line: bool = False
    min: int = 0

    def problem(self, value: str) -> str | None:
        """Why ``value`` does not fit, in Russian; None when it does."""
        if len(value) > self.max:
            return f"Не длиннее {self.max} символов."
        if self.one_line and ("\r" in value or "\n" in value):
            return ONE_LINE_ERROR
        return None

    def field(self, **kwargs) -> fields.String:
        checks = [validate.Length(min=self.min, max=self.max)]
        if self.one_line:
            checks.append(validate.Regexp(r"^[^\r\n]*$", error=ONE_LINE_ERROR))
        checks += list(kwargs.pop("validate", []))
        return fields.String(validate=checks, **kwargs)


@dataclass(frozen=True)
class Number:
    """A whole number typed into a form or sent as JSON; ``limit`` is what its column holds."""

    limit: int = ID_LIMIT
    min: int | None = None
    max: int | None = None

    def problem(self, value: str) -> str | None:
        if len(value) > 32:  # a typed number; a megabyte there was taken for "no number given"
            return "Не длиннее 32 символов."
        digits = value.strip().lstrip("+-")
        # Any script's digits: int() reads them all, and fails beyond 4,300 of them.
        if re.fullmatch(r"\d+", digits) and (len(digits) > 19 or int(digits) >= self.limit):
            return "Число слишком велико."
        return None

    def field(self, **kwargs) -> fields.Integer:
        low = self.min if self.min is not None else -self.limit + 1
        high = self.max if self.max is not None else self.limit - 1
        kwargs.setdefault("strict", True)  # JSON bodies: 5 not "5"; a query string passes strict=False
        return fields.Integer(validate=validate.Range(min=low, max=high), **kwargs)


# --- the limits ------------------------------------------------------------------------------

SUBJECT = Text(ir.SUBJECT_MAX, one_line=True)
BODY = Text(ir.BODY_MAX)
COMMENT = Text(20000)
LONG_TEXT = Text(20000)                   # justifications, notes, remarks, text answers
SECTION_TEXT = Text(200000)               # a program section (passport text, may be long)
NAME = Text(200, one_line=True)           # user names, token names
DEPARTMENT_NAME = Text(500, one_line=True)
SLUG = Text(200, one_line=True)
CODE = Text(64, one_line=True)            # events, department codes, keys, states, sources
LABEL = Text(300, one_line=True)
REF = Text(200, one_line=True)            # what a comment points at ("indicators[I2].fact"): its column
EMAIL = Text(320, one_line=True)
PASSWORD = Text(people.MAX_PASSWORD_LENGTH, one_line=True)
RESOLUTION_NUMBER = Text(100, one_line=True)
SHORT = Text(64, one_line=True)           # a typed number or date before it is parsed
LINK = Text(2000, one_line=True)          # next=, back=
TOKEN = Text(200, one_line=True)          # the CSRF token
DEFAULT = Text(20000)                     # any other form field

ID = Number()
DAYS = Number(min=1, max=3650)
VERSION = Number()

# Web form fields by name (exact names first, then patterns of generated names).
FORM_FIELDS: dict[str, Text | Number] = {
    "subject": SUBJECT, "body": BODY, "comment": COMMENT, "text": LONG_TEXT, "note": LONG_TEXT,
    "remarks": LONG_TEXT, "justification": LONG_TEXT, "section_text": SECTION_TEXT,
    "program": SLUG, "addressees": CODE, "event": CODE, "section_key": CODE, "send": CODE,
    "add_row": CODE, "reload": CODE, "resolution_number": RESOLUTION_NUMBER, "resolution_date": SHORT,
    "email": EMAIL, "password": PASSWORD, "next": LINK, "back": LINK, "csrf_token": TOKEN,
    "working_days": DAYS, "review_working_days": DAYS, "assignee_id": ID, "version": VERSION, "ref": REF,
    # the profile page (/me)
    "current_password": PASSWORD, "new_password": PASSWORD, "new_password_confirm": PASSWORD,
    "reminder_mode": CODE, "token_name": NAME, "token_days": Number(min=1, max=people.MAX_TOKEN_DAYS),
    # administration and the password link
    "name": NAME, "department": CODE, "roles": CODE, "is_head": CODE, "send_link": CODE, "code": CODE,
    "title": DEPARTMENT_NAME, "password_repeat": PASSWORD,
}
_FORM_PATTERNS: list[tuple[re.Pattern, Text | Number]] = [
    (re.compile(r"f-\d{1,3}-label"), LABEL),
    (re.compile(r"f-\d{1,3}-(type|required|indicator|period|key)"), CODE),
    (re.compile(r"f_[a-z][a-z0-9_]{0,62}"), LONG_TEXT),    # an answer field: the request's form says its type
    (re.compile(r"(spent|act|actual)-.{1,64}", re.S), SHORT),
    (re.compile(r"(fin|tgt)-.{1,80}", re.S), SHORT),
]
_GENERATED = re.compile(r"(f|spent|act|actual|fin|tgt)[-_].*", re.S)
FIELD_NAME = Text(100, one_line=True)


def form_rule(name: str) -> Text | Number | None:
    """The rule for a form field; None for a generated name that fits no pattern (refused)."""
    if name in FORM_FIELDS:
        return FORM_FIELDS[name]
    for pattern, rule in _FORM_PATTERNS:
        if pattern.fullmatch(name):
            return rule
    return None if _GENERATED.fullmatch(name) else DEFAULT


def form_problems(form) -> dict[str, list[str]]:
    """Each form field (a MultiDict) against its rule: lengths, one line, numbers a column holds."""
    problems: dict[str, list[str]] = {}
    for name, value in form.items(multi=True):
        rule = form_rule(name) if FIELD_NAME.problem(name) is None else None
        if rule is None:
            problems.setdefault(name[:100], []).append("Неизвестное поле формы.")
            continue
        problem = rule.problem(value)
        if problem:
            problems.setdefault(name, []).append(problem)
    return problems


def text_entries(**rules: Text):
    """A validator for a free-form ``data`` object: the named entries, when strings, within their rules."""

    def check(data: dict) -> None:
        problems = {}
        for key, rule in rules.items():
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                problems[key] = ["Ожидается строка."]
            elif value is not None and rule.problem(value):
                problems[key] = [rule.problem(value)]
        if problems:
            raise ValidationError(problems)

    return check


_CHANGE_TEXTS = {"source": CODE, "indicator": CODE, "key": CODE, "op": CODE, "text": SECTION_TEXT}


def change_set_shape(changes: dict) -> None:
    """A change set's names and texts are strings within their limits (a list as a source was a 500);
    everything else about it is the use case's to judge."""
    problems = {}
    for group, items in changes.items():
        for n, item in enumerate(items if isinstance(items, list) else []):
            for key, rule in _CHANGE_TEXTS.items():
                value = item.get(key) if isinstance(item, dict) else None
                if value is not None and not isinstance(value, str):
                    problems[f"{group}[{n}].{key}"] = ["Ожидается строка."]
                elif value is not None and rule.problem(value):
                    problems[f"{group}[{n}].{key}"] = [rule.problem(value)]
    if problems:
        raise ValidationError(problems)
