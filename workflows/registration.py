"""Registration numbers: the number and date an item is quoted by in letters and on the phone.

Every request thread, report and amendment gets one when it is first sent or submitted, from a
counter per department and year (the sequence ``seq``), rendered through a template such as
``{department_prefix}-{year}/{seq:05d}`` -> ``ИТ-2026/00017``.

Copies of a request: a thread (one request to several addressees) takes one number from the
requester's counter when its first copy is sent; each addressee's copy is that number with the
copy's position among the thread's addressees (in the order they were listed, from 1):
``ИТ-2026/00017/1``, ``ИТ-2026/00017/2``. The suffix is fixed when the thread is created, so a copy
sent later, or a copy never sent, changes no other copy's number.

Numbers are written in upper case (the template's own text and the prefixes may hold no lower-case
letters, nor "ё"), so a search can match them by upper-casing the query on every database.

Pure: no database, no settings; the counter itself is ``services.registration``.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

DEFAULT_TEMPLATE = "{department_prefix}-{year}/{seq:05d}"
FIELDS = ("department_prefix", "year", "seq")
MAX_LENGTH = 64
COPY_SEPARATOR = "/"
PREFIX_RE = re.compile(r"^[0-9A-ZА-ЯЁ]{1,16}$")  # Ё refused below: search folds ё to е
_FORMATTER = string.Formatter()


def label(item) -> str:
    """How an item is named to people (pages, emails, the calendar feed): its registration number,
    or "№17" (its id) before it was first sent or submitted."""
    return item.registration_number or f"№{item.id}"


class RegistrationConfigError(ValueError):
    """A template or prefix that would give numbers that are not unique, not upper case, or too long."""


@dataclass(frozen=True)
class NumberTemplate:
    text: str

    def render(self, department_prefix: str, year: int, seq: int) -> str:
        return self.text.format(department_prefix=department_prefix, year=year, seq=seq)


def parse_template(text: str | None) -> NumberTemplate:
    """Check a template: each of {department_prefix}, {year} and {seq} once (else two departments or
    two years would share numbers), no other fields, no lower-case text."""
    if text is None or not str(text).strip():
        text = DEFAULT_TEMPLATE
    text = str(text).strip()
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise RegistrationConfigError(f"registration template {text!r}: {exc}") from None
    seen: list[str] = []
    literal = ""
    for lit, name, spec, conversion in parts:
        literal += lit
        if name is None:
            continue
        if name not in FIELDS:
            raise RegistrationConfigError(
                f"registration template {text!r}: unknown field {{{name}}}; allowed: "
                + ", ".join("{" + f + "}" for f in FIELDS))
        if conversion:
            raise RegistrationConfigError(f"registration template {text!r}: no !conversions")
        if name == "department_prefix" and spec:
            raise RegistrationConfigError(f"registration template {text!r}: {{department_prefix}} takes no format")
        seen.append(name)
    for name in FIELDS:
        if seen.count(name) != 1:
            raise RegistrationConfigError(
                f"registration template {text!r}: needs {{{name}}} exactly once (numbers must be unique "
                "per department and year)")
    if literal != literal.upper() or "Ё" in literal:
        raise RegistrationConfigError(f"registration template {text!r}: no lower-case letters or Ё")
    template = NumberTemplate(text)
    try:
        sample = template.render("ФИН", 2026, 1)
    except (ValueError, TypeError) as exc:
        raise RegistrationConfigError(f"registration template {text!r}: {exc}") from None
    if sample.upper() != sample:
        raise RegistrationConfigError(f"registration template {text!r}: renders lower-case text ({sample!r})")
    if len(template.render("W" * 16, 9999, 10 ** 9)) > MAX_LENGTH - 8:  # room for a copy suffix
        raise RegistrationConfigError(f"registration template {text!r}: numbers would be too long")
    return template


def parse_prefixes(data) -> dict[str, str]:
    """``{department code: prefix}`` from config/registration.yaml's ``prefixes`` mapping."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RegistrationConfigError("prefixes: expected a mapping of department code to prefix")
    out: dict[str, str] = {}
    for code, prefix in data.items():
        if not isinstance(code, str) or not code:
            raise RegistrationConfigError(f"prefixes: bad department code {code!r}")
        if not isinstance(prefix, str) or not PREFIX_RE.match(prefix) or "Ё" in prefix:
            raise RegistrationConfigError(
                f"prefixes.{code}: {prefix!r} is not 1-16 upper-case letters or digits (no Ё)")
        out[code] = prefix
    taken: dict[str, str] = {}
    for code, prefix in out.items():
        if prefix in taken:
            raise RegistrationConfigError(f"prefixes.{code}: {prefix!r} is already {taken[prefix]}'s")
        taken[prefix] = code
    return out


def default_prefix(code: str) -> str:
    """A department without a configured prefix: its code in capitals, letters and digits only."""
    cleaned = re.sub(r"[^0-9A-Za-zА-Яа-яЁё]", "", code or "").upper().replace("Ё", "Е")
    return (cleaned or "DEPT")[:16]


def copy_number(thread_number: str, position: int) -> str:
    """An addressee's copy: the thread's number and the copy's position (from 1)."""
    if isinstance(position, bool) or not isinstance(position, int) or position < 1:
        raise ValueError(f"copy position must be a positive integer, got {position!r}")
    return f"{thread_number}{COPY_SEPARATOR}{position}"


def search_form(word: str) -> str:
    """A search word as numbers are written (upper case; the lists already fold ё to е)."""
    return word.upper()
