"""Request forms: validating their definition, and answers against them with marshmallow.

A form is a list of fields the addressee fills in; fields may name a program
indicator and period, so an accepted answer becomes that indicator's actual.
"""
from __future__ import annotations

import re
from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from workflows.core import Invalid
from workflows.passport import Passport

FIELD_TYPES = ("decimal", "integer", "text", "date", "file")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PERIOD_RE = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")


class FormFieldSchema(Schema):
    key = fields.String(required=True, validate=validate.Regexp(KEY_RE, error="Латинские строчные буквы, цифры и _."))
    label = fields.String(required=True, validate=[
        validate.Length(min=1, max=300),
        validate.Regexp(r"^[^\r\n]*$", error="Подпись поля — одна строка, без переводов строки."),
    ])
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    required = fields.Boolean(load_default=True)
    indicator = fields.String(load_default=None, allow_none=True)
    period = fields.String(load_default=None, allow_none=True)


def validate_form(form: list[dict], passport: Passport) -> list[dict]:
    """Field errors are keyed ``form[i].name`` so the user sees which one."""
    errors: dict[str, list[str]] = {}
    cleaned: list[dict] = []
    seen: set[str] = set()
    years = range(passport.period_start, passport.period_end + 1)
    codes = {i.code for i in passport.indicators}
    for index, raw in enumerate(form or []):
        where = f"form[{index}]"
        try:
            item = FormFieldSchema().load(raw)
        except ValidationError as exc:
            for name, problems in exc.normalized_messages().items():
                errors[f"{where}.{name}"] = problems if isinstance(problems, list) else [str(problems)]
            continue
        if item["key"] in seen:
            errors[f"{where}.key"] = [f"Ключ «{item['key']}» повторяется."]
        seen.add(item["key"])
        if (item["indicator"] is None) != (item["period"] is None):
            errors[f"{where}.period"] = ["Показатель и период указываются вместе."]
        if item["indicator"] is not None:
            if item["indicator"] not in codes:
                errors[f"{where}.indicator"] = [f"Нет показателя «{item['indicator']}» в программе."]
            if item["type"] not in ("decimal", "integer"):
                errors[f"{where}.type"] = ["Значение показателя должно быть числом (decimal или integer)."]
        if item["period"] is not None:
            match = PERIOD_RE.match(item["period"])
            if not match or int(match.group(1)) not in years:
                errors[f"{where}.period"] = [
                    f"Период в формате ГГГГ или ГГГГ-Qn в пределах {years.start}–{years.stop - 1}."]
        cleaned.append(item)
    if errors:
        raise Invalid("Форма запроса заполнена с ошибками.", fields=errors)
    return cleaned


# Numbers are stored as NUMERIC(20, 4) (indicator actuals): refuse what would not fit
# or would be silently rounded, instead of failing (or losing digits) at acceptance.
MAX_INTEGER_DIGITS = 16
MAX_FRACTION_DIGITS = 4


def _fits_storage(value) -> None:
    value = Decimal(value)
    exponent = value.normalize().as_tuple().exponent  # trailing zeros do not count
    fraction = -exponent if exponent < 0 else 0
    if fraction > MAX_FRACTION_DIGITS:
        raise ValidationError(f"Не более {MAX_FRACTION_DIGITS} знаков после запятой.")
    if abs(value) >= Decimal(10) ** MAX_INTEGER_DIGITS:
        raise ValidationError(f"Не более {MAX_INTEGER_DIGITS} цифр в целой части.")


def _field_for(item: dict) -> fields.Field:
    required = bool(item.get("required", True))
    kwargs = {"required": required, "allow_none": not required}
    kind = item["type"]
    if kind == "decimal":
        return fields.Decimal(as_string=True, allow_nan=False, validate=_fits_storage, **kwargs)
    if kind == "integer":
        return fields.Integer(strict=True, validate=_fits_storage, **kwargs)
    if kind == "date":
        return fields.Date(**kwargs)
    if kind == "file":
        return fields.Integer(strict=True, **kwargs)
    return fields.String(validate=validate.Length(max=20000), **kwargs)


def answer_schema(form: list[dict]) -> Schema:
    schema_cls = Schema.from_dict({item["key"]: _field_for(item) for item in form}, name="AnswerSchema")
    return schema_cls(unknown=RAISE)


def validate_answer(form: list[dict], data) -> dict:
    """The answer as JSON-ready values (decimals as strings); 422 naming each bad field."""
    if not isinstance(data, dict):
        raise Invalid("Ответ должен быть объектом с полями формы.", fields={"data": ["Ожидается объект."]})
    if not form:
        text = data.get("text") if set(data) <= {"text"} else None
        if not isinstance(text, str) or not text.strip():
            raise Invalid("Запрос без формы: ответ передаётся в поле text.",
                          fields={"data.text": ["Обязательное поле."]} if set(data) <= {"text"} else
                          {f"data.{k}": ["Неизвестное поле."] for k in set(data) - {"text"}})
        return {"text": text}
    try:
        loaded = answer_schema(form).load(data)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        raise Invalid(
            "Ответ не прошёл проверку: " + ", ".join(f"data.{k}" for k in sorted(messages)),
            fields={f"data.{k}": _russian(v) for k, v in messages.items()},
        ) from None
    result = {}
    for key, value in loaded.items():
        if isinstance(value, Decimal):
            result[key] = format(value, "f")
        elif hasattr(value, "isoformat"):
            result[key] = value.isoformat()
        else:
            result[key] = value
    return result


_TRANSLATIONS = {
    "Missing data for required field.": "Обязательное поле.",
    "Unknown field.": "Неизвестное поле.",
    "Not a valid number.": "Ожидается число.",
    "Not a valid integer.": "Ожидается целое число.",
    "Not a valid date.": "Ожидается дата в формате ГГГГ-ММ-ДД.",
    "Not a valid string.": "Ожидается строка.",
    "Field may not be null.": "Обязательное поле.",
}


def _russian(problems) -> list[str]:
    problems = problems if isinstance(problems, list) else [problems]
    return [_TRANSLATIONS.get(str(p), str(p)) for p in problems]
