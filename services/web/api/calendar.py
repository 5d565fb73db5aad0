"""The production calendar, so users can check how a deadline was computed."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from services.web.api.contract import public
from services.web.context import current_services
from workflows.core import Invalid
from services.adapters.formatting import format_date

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/calendar", description="Производственный календарь")


class WorkingDaysQuery(Schema):
    start = fields.Date(required=True, metadata={"description": "Дата отсчёта, ГГГГ-ММ-ДД"})
    add = fields.Integer(required=True, strict=False, validate=validate.Range(min=0, max=3650))


class WorkingDaysResult(Schema):
    date = fields.Date()
    explanation = fields.String()


@blp.route("/working-days")
@public(blp)
@blp.arguments(WorkingDaysQuery, location="query")
@blp.response(200, WorkingDaysResult)
def working_days(args):
    """The N-th working day after ``start`` (``start`` itself not counted)."""
    calendar = current_services().calendar
    start, add = args["start"], args["add"]
    if not 1990 <= start.year <= 2100:
        raise Invalid("Дата вне поддерживаемого диапазона.", fields={"start": ["Год от 1990 до 2100."]})
    result = calendar.add_working_days(start, add)
    skipped = calendar.days_off_between(start, result)
    names = sorted({d.name for d in skipped if d.name and not d.weekend})
    explanation = f"{add}-й рабочий день после {format_date(start)} — {format_date(result)}"
    if skipped:
        explanation += f"; пропущено нерабочих дней: {len(skipped)}"
        if names:
            explanation += f" ({'; '.join(names)})"
    return {"date": result, "explanation": explanation + "."}
