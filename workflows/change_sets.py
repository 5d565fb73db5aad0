"""Change sets of a program amendment: validation, application to a passport, diffs and conflicts.

Pure functions over ``workflows.passport``; the amendment's machine and its
guards are in ``workflows.amendment``.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from decimal import Decimal
from typing import Any, Mapping

from workflows.core import Invalid
from workflows.passport import Passport, PassportError, passport_to_dict
from workflows.passport_parser import parse_passport

CHANGE_KINDS = ("financing", "indicator_targets", "activities", "sections")
ACTIVITY_FIELDS = ("title", "executor", "years", "task", "subprogram")
_DECIMAL_RE = re.compile(r"-?\d+(?:\.\d+)?")


# --- validating a change set ----------------------------------------------------

class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, []).append(message)

    def raise_if_any(self, message: str = "Изменения не прошли проверку.") -> None:
        if self.fields:
            raise Invalid(message + " " + "; ".join(sorted(self.fields)), fields=self.fields)


def _amount(value: Any, path: str, errors: _Errors, *, allow_negative: bool, what: str) -> str | None:
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (str, int, Decimal)):
        errors.add(path, f"{what}: укажите число строкой, например \"3329.4\", получено {value!r}.")
        return None
    text = str(value).strip()
    if "," in text and _DECIMAL_RE.fullmatch(text.replace(",", ".")):
        errors.add(path, f"{what}: десятичный разделитель — точка ({text.replace(',', '.')}).")
        return None
    if not _DECIMAL_RE.fullmatch(text):
        errors.add(path, f"{what}: не число ({value!r}).")
        return None
    number = Decimal(text)
    if number < 0 and not allow_negative:
        errors.add(path, f"{what}: не может быть отрицательной ({text}).")
        return None
    return format(number, "f")


def _year(value: Any, path: str, errors: _Errors) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, f"Год — целое число, получено {value!r}.")
        return None
    return value


def _known_keys(item: Mapping, allowed: tuple[str, ...], path: str, errors: _Errors) -> None:
    for key in item:
        if key not in allowed:
            errors.add(f"{path}.{key}", f"Неизвестное поле; допустимы: {', '.join(allowed)}.")


def _list_of_mappings(raw: Mapping, key: str, errors: _Errors) -> list[tuple[str, Mapping]]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(f"changes.{key}", "Ожидается список.")
        return []
    out = []
    for i, item in enumerate(value):
        path = f"changes.{key}[{i}]"
        if not isinstance(item, Mapping):
            errors.add(path, "Ожидается объект.")
            continue
        out.append((path, item))
    return out


def _op_and_key(item: Mapping, path: str, errors: _Errors, field: str, existing: set[str], *,
                missing: str, exists: str, unknown: str) -> tuple[str, str] | None:
    """An add/change/remove line's (op, key), or None with the error recorded at its field."""
    op, key = item.get("op", "change"), item.get(field)
    if not isinstance(key, str) or not key.strip():
        errors.add(f"{path}.{field}", missing)
    elif op not in ("add", "change", "remove"):
        errors.add(f"{path}.op", "Допустимы add, change, remove.")
    elif op == "add" and key in existing:
        errors.add(f"{path}.{field}", exists.format(key))
    elif op in ("change", "remove") and key not in existing:
        errors.add(f"{path}.{field}", unknown.format(key))
    else:
        return op, key
    return None


def validate_changes(passport: Passport, raw: Any) -> dict:
    """Check a change set against the base version; return it normalised (Decimal strings, ops).

    Every error names the cell, e.g. ``changes.financing[0].amount``; after the
    cell checks the change set is applied and the result must be a valid passport.
    """
    errors = _Errors()
    if not isinstance(raw, Mapping):
        raise Invalid("Изменения должны быть объектом.", fields={"changes": ["Ожидается объект."]})
    for key in raw:
        if key not in CHANGE_KINDS:
            errors.add(f"changes.{key}", f"Неизвестный раздел; допустимы: {', '.join(CHANGE_KINDS)}.")

    years = set(passport.financing_years())
    normal: dict[str, list[dict]] = {kind: [] for kind in CHANGE_KINDS}

    seen: dict[tuple, str] = {}

    def once(key: tuple, path: str) -> bool:
        if key in seen:
            errors.add(path, f"Та же позиция уже изменена в {seen[key]}.")
            return False
        seen[key] = path
        return True

    for path, item in _list_of_mappings(raw, "financing", errors):
        _known_keys(item, ("year", "source", "amount"), path, errors)
        year = _year(item.get("year"), f"{path}.year", errors)
        if year is not None and year not in years:
            errors.add(f"{path}.year", f"Год {year} не финансируется программой "
                                       f"({', '.join(map(str, sorted(years)))}).")
            year = None
        source = item.get("source")
        if source not in passport.sources:
            errors.add(f"{path}.source", f"Неизвестный источник {source!r}; допустимы: "
                                         f"{', '.join(passport.sources)}.")
            source = None
        amount = _amount(item.get("amount"), f"{path}.amount", errors, allow_negative=False, what="Сумма")
        if year is not None and source is not None and amount is not None \
                and once(("financing", year, source), path):
            normal["financing"].append({"year": year, "source": source, "amount": amount})

    indicators = {i.code: i for i in passport.indicators}
    for path, item in _list_of_mappings(raw, "indicator_targets", errors):
        _known_keys(item, ("indicator", "year", "value"), path, errors)
        code = item.get("indicator")
        if code not in indicators:
            errors.add(f"{path}.indicator", f"Неизвестный показатель {code!r}.")
            code = None
        year = _year(item.get("year"), f"{path}.year", errors)
        if year is not None and not passport.period_start <= year <= passport.period_end:
            errors.add(f"{path}.year", f"Год {year} вне срока программы "
                                       f"{passport.period_start}–{passport.period_end}.")
            year = None
        value = item.get("value")
        if value is not None:
            value = _amount(value, f"{path}.value", errors, allow_negative=True, what="Целевое значение")
            if value is None:
                continue
        elif "value" not in item:
            errors.add(f"{path}.value", "Укажите значение (null — снять целевое значение).")
            continue
        if code is not None and year is not None and once(("target", code, year), path):
            normal["indicator_targets"].append({"indicator": code, "year": year, "value": value})

    activity_codes = {a.code for a in passport.activities}
    for path, item in _list_of_mappings(raw, "activities", errors):
        _known_keys(item, ("op", "code", *ACTIVITY_FIELDS), path, errors)
        found = _op_and_key(item, path, errors, "code", activity_codes, missing="Укажите код мероприятия.",
                            exists="Мероприятие {} уже есть; для правки используйте op=change.",
                            unknown="Нет мероприятия {}.")
        if found is None:
            continue
        op, code = found
        fields = {k: item[k] for k in ACTIVITY_FIELDS if k in item}
        if op == "add":
            for k in ("title", "executor", "years"):
                if k not in fields:
                    errors.add(f"{path}.{k}", "Обязательное поле для нового мероприятия.")
        if op == "change" and not fields:
            errors.add(path, "Укажите, какие поля мероприятия меняются.")
        if op == "remove" and fields:
            errors.add(path, "При удалении указывается только код.")
        if once(("activity", code), path):
            normal["activities"].append({"op": op, "code": code, **fields})

    section_keys = {s.key for s in passport.sections}
    for path, item in _list_of_mappings(raw, "sections", errors):
        _known_keys(item, ("op", "key", "title", "text"), path, errors)
        found = _op_and_key(item, path, errors, "key", section_keys, missing="Укажите ключ раздела.",
                            exists="Раздел {} уже есть; для правки используйте op=change.",
                            unknown="Нет раздела {}.")
        if found is None:
            continue
        op, key = found
        entry: dict[str, Any] = {"op": op, "key": key}
        for k in ("title", "text"):
            if k in item:
                if not isinstance(item[k], str) or not item[k].strip():
                    errors.add(f"{path}.{k}", "Непустой текст.")
                else:
                    entry[k] = item[k]
        if op == "add" and not ("title" in item and "text" in item):
            errors.add(path, "Для нового раздела нужны title и text.")
        if op == "change" and not ("title" in item or "text" in item):
            errors.add(path, "Укажите новый текст или заголовок раздела.")
        if once(("section", key), path):
            normal["sections"].append(entry)

    errors.raise_if_any()
    if not any(normal.values()):
        raise Invalid("Изменения пусты.", fields={"changes": ["Укажите хотя бы одно изменение."]})
    apply_changes(passport, normal)  # the result must be a valid passport
    return normal


# --- applying -------------------------------------------------------------------

def apply_changes(passport: Passport, changes: Mapping, *, resolution: tuple[str, dt.date] | None = None) -> Passport:
    """The passport with the change set applied; year totals and the grand total are recomputed.

    ``resolution`` (number, date) is appended to the passport's amendments list.
    A result the passport parser refuses is a 422 naming the change that caused it.
    """
    data = passport_to_dict(passport)
    fin = data["financing"]
    by_year = {entry["year"]: entry for entry in fin["years"]}
    for cell in changes.get("financing", ()):
        by_year[cell["year"]][cell["source"]] = cell["amount"]
    grand = Decimal("0")
    for entry in fin["years"]:
        total = sum((Decimal(entry[s]) for s in fin["sources"]), Decimal("0"))
        entry["total"] = format(total, "f")
        grand += total
    fin["total"] = format(grand, "f")

    indicators = {i["code"]: i for i in data["indicators"]}
    for t in changes.get("indicator_targets", ()):
        targets = indicators[t["indicator"]]["targets"]
        if t["value"] is None:
            targets.pop(str(t["year"]), None)
        else:
            targets[str(t["year"])] = t["value"]

    activities = data["activities"]
    for a in changes.get("activities", ()):
        fields = {k: a[k] for k in ACTIVITY_FIELDS if k in a}
        if a["op"] == "add":
            activities.append({"code": a["code"], "task": None, "subprogram": None, **fields})
        elif a["op"] == "remove":
            activities[:] = [x for x in activities if x["code"] != a["code"]]
        else:
            for x in activities:
                if x["code"] == a["code"]:
                    x.update(fields)

    sections = data["sections"]
    for s in changes.get("sections", ()):
        if s["op"] == "add":
            sections.append({"key": s["key"], "title": s["title"], "text": s["text"]})
        elif s["op"] == "remove":
            sections[:] = [x for x in sections if x["key"] != s["key"]]
        else:
            for x in sections:
                if x["key"] == s["key"]:
                    x.update({k: s[k] for k in ("title", "text") if k in s})

    if resolution is not None:
        number, date = resolution
        data["amendments"].append({"date": date.isoformat(), "number": number})

    try:
        return parse_passport(data)
    except PassportError as exc:
        raise Invalid(f"После применения изменений паспорт некорректен: {exc}",
                      fields={_blame(exc.field, changes): [exc.message]}) from None


def _blame(field: str, changes: Mapping) -> str:
    """Map a passport error path back to the change that caused it."""
    m = re.match(r"activities\[([^\]]+)\](.*)", field or "")
    if m:
        for i, a in enumerate(changes.get("activities", ())):
            if a["code"] == m.group(1):
                return f"changes.activities[{i}]{m.group(2)}"
        return "changes.activities"
    m = re.match(r"sections\[([^\]]+)\](.*)", field or "")
    if m:
        for i, s in enumerate(changes.get("sections", ())):
            if s["key"] == m.group(1):
                return f"changes.sections[{i}]{m.group(2)}"
        return "changes.sections"
    if (field or "").startswith("amendments"):
        return "data.resolution_date"
    if (field or "").startswith("financing"):
        return "changes.financing"
    if (field or "").startswith("indicators"):
        return "changes.indicator_targets"
    return "changes"


# --- comparing ------------------------------------------------------------------

def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _delta(old: Decimal | None, new: Decimal | None) -> str:
    return format((new or Decimal("0")) - (old or Decimal("0")), "f")


def diff_passports(a: Passport, b: Passport) -> dict:
    """Exactly what changed from version ``a`` to ``b``: cells with old/new values and the totals' change."""
    cells_a = {(c.year, c.source): c.amount for c in a.financing}
    cells_b = {(c.year, c.source): c.amount for c in b.financing}
    cells = []
    for key in sorted(set(cells_a) | set(cells_b)):
        old, new = cells_a.get(key), cells_b.get(key)
        if old != new:
            cells.append({"year": key[0], "source": key[1], "old": _s(old), "new": _s(new),
                          "delta": _delta(old, new)})
    years = []
    for year in sorted(set(a.financing_years()) | set(b.financing_years())):
        old = a.year_total(year) if year in a.financing_years() else None
        new = b.year_total(year) if year in b.financing_years() else None
        if old != new:
            years.append({"year": year, "old": _s(old), "new": _s(new), "delta": _delta(old, new)})
    total_a, total_b = a.financing_total(), b.financing_total()

    targets = []
    ind_a = {i.code: i for i in a.indicators}
    ind_b = {i.code: i for i in b.indicators}
    for code in list(ind_a) + [c for c in ind_b if c not in ind_a]:
        ta = ind_a[code].targets if code in ind_a else {}
        tb = ind_b[code].targets if code in ind_b else {}
        for year in sorted(set(ta) | set(tb)):
            if ta.get(year) != tb.get(year):
                targets.append({"indicator": code, "year": year, "old": _s(ta.get(year)), "new": _s(tb.get(year))})

    act_a = {x.code: x for x in a.activities}
    act_b = {x.code: x for x in b.activities}
    activities = {
        "added": [_activity(act_b[c]) for c in act_b if c not in act_a],
        "removed": [_activity(act_a[c]) for c in act_a if c not in act_b],
        "changed": [],
    }
    for code in act_a:
        if code in act_b and act_a[code] != act_b[code]:
            old, new = _activity(act_a[code]), _activity(act_b[code])
            activities["changed"].append({
                "code": code,
                "fields": {k: {"old": old[k], "new": new[k]} for k in ACTIVITY_FIELDS if old[k] != new[k]},
            })

    sec_a = {s.key: s for s in a.sections}
    sec_b = {s.key: s for s in b.sections}
    sections = {
        "added": [{"key": k, "title": sec_b[k].title, "text": sec_b[k].text} for k in sec_b if k not in sec_a],
        "removed": [{"key": k, "title": sec_a[k].title, "text": sec_a[k].text} for k in sec_a if k not in sec_b],
        "changed": [],
    }
    for key in sec_a:
        if key in sec_b and sec_a[key] != sec_b[key]:
            sections["changed"].append({
                "key": key,
                "old_title": sec_a[key].title, "new_title": sec_b[key].title,
                "old_text": sec_a[key].text, "new_text": sec_b[key].text,
                "diff": "\n".join(difflib.unified_diff(
                    sec_a[key].text.splitlines(), sec_b[key].text.splitlines(),
                    fromfile="old", tofile="new", lineterm="")),
            })

    old_amendments = [(x.date, x.number) for x in a.amendments]
    return {
        "financing": {
            "cells": cells,
            "years": years,
            "total": {"old": _s(total_a), "new": _s(total_b), "delta": _delta(total_a, total_b)},
        },
        "indicator_targets": targets,
        "activities": activities,
        "sections": sections,
        "amendments_added": [{"date": x.date.isoformat(), "number": x.number}
                             for x in b.amendments if (x.date, x.number) not in old_amendments],
    }


def _activity(a) -> dict:
    return {"code": a.code, "title": a.title, "executor": a.executor, "years": list(a.years),
            "task": a.task, "subprogram": a.subprogram}


def change_keys(changes: Mapping) -> dict[tuple, dict]:
    """Each change keyed by the cell it touches: ('financing', year, source), ('target', code, year), ..."""
    out: dict[tuple, dict] = {}
    for c in changes.get("financing", ()):
        out[("financing", c["year"], c["source"])] = c
    for t in changes.get("indicator_targets", ()):
        out[("target", t["indicator"], t["year"])] = t
    for x in changes.get("activities", ()):
        out[("activity", x["code"])] = x
    for s in changes.get("sections", ()):
        out[("section", s["key"])] = s
    return out


def _cell_value(p: Passport, key: tuple) -> Any:
    kind = key[0]
    if kind == "financing":
        try:
            return _s(p.amount(key[1], key[2]))
        except KeyError:
            return None
    if kind == "target":
        try:
            return _s(p.indicator(key[1]).targets.get(key[2]))
        except KeyError:
            return None
    if kind == "activity":
        found = [x for x in p.activities if x.code == key[1]]
        return _activity(found[0]) if found else None
    found = [s for s in p.sections if s.key == key[1]]
    return {"title": found[0].title, "text": found[0].text} if found else None


def _key_view(key: tuple) -> dict:
    kind = key[0]
    if kind == "financing":
        return {"kind": "financing", "year": key[1], "source": key[2], "cell": f"financing[{key[1]}].{key[2]}"}
    if kind == "target":
        return {"kind": "indicator_target", "indicator": key[1], "year": key[2],
                "cell": f"indicators[{key[1]}].targets[{key[2]}]"}
    if kind == "activity":
        return {"kind": "activity", "code": key[1], "cell": f"activities[{key[1]}]"}
    return {"kind": "section", "key": key[1], "cell": f"sections[{key[1]}]"}


def conflicts(changes: Mapping, old_base: Passport, current: Passport) -> list[dict]:
    """Cells the change set touches that were also changed between its base and the current version."""
    found = []
    for key, change in change_keys(changes).items():
        was, now = _cell_value(old_base, key), _cell_value(current, key)
        if was != now:
            found.append({**_key_view(key), "base": was, "current": now,
                          "amendment": {k: v for k, v in change.items() if k not in ("year", "source",
                                                                                       "indicator", "code", "key")}})
    return found


def diff_changesets(a: Mapping, b: Mapping) -> list[dict]:
    """What a revision changed relative to another: per touched cell, the change in each revision (None = absent)."""
    ka, kb = change_keys(a), change_keys(b)
    out = []
    for key in list(ka) + [k for k in kb if k not in ka]:
        if ka.get(key) != kb.get(key):
            out.append({**_key_view(key), "old": ka.get(key), "new": kb.get(key)})
    return out
