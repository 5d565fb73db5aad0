"""Change-set cells and values in words, for people.

The API names a cell by its path ("financing[2017].city") and keeps department codes in
values; a page says "Финансирование 2017, средства бюджета города: 3 500,0 → 3 400,0" and
names the department.
"""
from __future__ import annotations

from typing import Mapping

from services.adapters.formatting import NOTHING, format_amount, format_number
from workflows.passport import Passport

ACTIVITY_FIELD_LABELS = {"title": "наименование", "executor": "исполнитель", "years": "сроки",
                         "task": "задача", "subprogram": "подпрограмма"}
OP_LABELS = {"add": "добавить", "change": "изменить", "remove": "исключить"}


def _department(passport: Passport, code: str | None) -> str:
    for department in passport.departments:
        if department.code == code:
            return department.name
    return code or NOTHING


def _years(years) -> str:
    years = sorted(int(y) for y in years or ())
    if not years:
        return NOTHING
    return f"{years[0]}–{years[-1]} гг." if len(years) > 1 else f"{years[0]} г."


def cell_label(change: Mapping, passport: Passport) -> str:
    """'Финансирование 2017, средства бюджета города', 'Показатель I11 (…), цель на 2018 год', …"""
    kind = change.get("kind")
    if kind == "financing":
        source = passport.sources.get(change["source"], change["source"])
        return f"Финансирование {change['year']}, {source[:1].lower()}{source[1:]}"
    if kind == "indicator_target":
        return f"Показатель {indicator_label(change['indicator'], passport)}, целевое значение на {change['year']} год"
    if kind == "activity":
        title = next((a.title for a in passport.activities if a.code == change["code"]), "")
        return f"Мероприятие {change['code']}" + (f" «{title}»" if title else "")
    if kind == "section":
        title = next((s.title for s in passport.sections if s.key == change["key"]), "")
        return f"Раздел «{title}»" if title else f"Раздел {change['key']}"
    return str(change.get("cell", NOTHING))


def _activity_value(field: str, value, passport: Passport) -> str:
    if field == "executor":
        return _department(passport, value)
    if field == "years":
        return _years(value)
    return str(value) if value not in (None, "") else NOTHING


def activity_field(field: str, value, passport: Passport) -> str:
    """One field of an activity, e.g. ('executor', 'mfc') -> 'исполнитель: «Котовское МКУ …»'."""
    return f"{ACTIVITY_FIELD_LABELS.get(field, field)}: «{_activity_value(field, value, passport)}»"


def activity_change(field: str, old, new, passport: Passport) -> str:
    """'сроки: «2014–2020 гг.» → «2014–2021 гг.»'."""
    return (f"{ACTIVITY_FIELD_LABELS.get(field, field)}: «{_activity_value(field, old, passport)}» → "
            f"«{_activity_value(field, new, passport)}»")


def indicator_label(code: str, passport: Passport) -> str:
    try:
        return f"{code} «{passport.indicator(code).name}»"
    except KeyError:
        return code


def value_text(kind: str | None, value, passport: Passport) -> str:
    """One side of a change ("Было"/"Стало") in words; None means the cell was not in that revision."""
    if value is None:
        return NOTHING
    if not isinstance(value, Mapping):
        return format_number(value) if kind in ("financing", "indicator_target") else str(value)
    if kind == "financing":
        return format_amount(value.get("amount"))
    if kind == "indicator_target":
        return format_number(value.get("value")) if value.get("value") is not None else "снять цель"
    if kind == "activity":
        parts = [OP_LABELS.get(value.get("op"), value.get("op") or "")]
        parts += [activity_field(field, value[field], passport) for field in ACTIVITY_FIELD_LABELS if field in value]
        return "; ".join(p for p in parts if p)
    if kind == "section":
        parts = [OP_LABELS.get(value.get("op"), value.get("op") or "")]
        if value.get("title"):
            parts.append(f"заголовок: «{value['title']}»")
        if value.get("text"):
            text = value["text"]
            parts.append(f"текст: «{text[:300]}{'…' if len(text) > 300 else ''}»")
        return "; ".join(p for p in parts if p)
    return str(value)
