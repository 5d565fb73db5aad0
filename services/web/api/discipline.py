"""The execution-discipline report: figures per department and month, the items behind each, exports."""
from __future__ import annotations

from flask import Response, g
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from services import discipline as dc
from services.discipline_export import DEFINITION, MONTH_RULE, export_discipline
from services.report_export import PdfUnavailable
from services.web.api.auth import login_required
from services.web.api.contract import DISPOSITION_HEADER, PageQuery, file_response, page_of, paginate, refuses
from services.web.api.reports import PdfNotAvailable
from services.web.context import current_services
from services.web.fields import CODE, SLUG
from workflows.discipline import FIGURES, OUTCOME_LABELS, Figures

blp = Blueprint("discipline", __name__,
                description="Исполнительская дисциплина по запросам информации")


class DisciplineQuery(Schema):
    class Meta:
        unknown = RAISE  # an unknown filter is a 422 naming it, not silently ignored

    program = SLUG.field(load_default=None, metadata={"description": "Программа (slug); без него — все"})
    department = CODE.field(load_default=None,
                            metadata={"description": "Код подразделения-адресата; без него — все видимые"})
    from_ = fields.Date(data_key="from", load_default=None,
                        metadata={"description": "Начало периода (дата направления запроса), ГГГГ-ММ-ДД; "
                                                 "по умолчанию 1 января текущего года"})
    to = fields.Date(load_default=None, metadata={"description": "Конец периода включительно, ГГГГ-ММ-ДД; "
                                                                 "по умолчанию 31 декабря текущего года"})


class DisciplineItemsQuery(DisciplineQuery, PageQuery):
    figure = fields.String(load_default="received", validate=validate.OneOf(FIGURES),
                           metadata={"description": "Какое число раскрыть: " + ", ".join(FIGURES)})
    month = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"),
                          metadata={"description": "Месяц направления, ГГГГ-ММ; без него — весь период"})


class DisciplineFiguresOut(Schema):
    received = fields.Integer(metadata={"description": "Поступило (без отозванных)"})
    on_time = fields.Integer(metadata={"description": "Ответ дан не позже срока, действующего с продлениями"})
    late = fields.Integer(metadata={"description": "Ответ дан после срока"})
    overdue = fields.Integer(metadata={"description": "Ответа нет, срок истёк (на сегодня)"})
    open = fields.Integer(metadata={"description": "Ответа нет, срок не истёк"})
    withdrawn = fields.Integer(metadata={"description": "Отозвано запросившим; в другие числа не входит"})
    extended = fields.Integer(metadata={"description": "Запросов с продлением срока"})
    extensions = fields.Integer(metadata={"description": "Продлений предоставлено"})
    average_delay = fields.String(allow_none=True,
                                  metadata={"description": "Средняя задержка ответов с опозданием, рабочих дней"})
    on_time_share = fields.String(allow_none=True, metadata={"description": "Доля ответов в срок среди ответов"})
    late_delay_total = fields.Integer()
    overdue_delay_total = fields.Integer()


class DisciplineMonthFiguresOut(DisciplineFiguresOut):
    month = fields.String(metadata={"description": "ГГГГ-ММ"})


class DisciplineDepartmentOut(Schema):
    department = fields.String()
    department_name = fields.String()
    total = fields.Nested(DisciplineFiguresOut)
    months = fields.List(fields.Nested(DisciplineMonthFiguresOut))


class DisciplineOut(Schema):
    program = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    from_ = fields.String(data_key="from")
    to = fields.String()
    today = fields.String()
    definition = fields.String()
    month_rule = fields.String()
    months = fields.List(fields.String())
    departments = fields.List(fields.Nested(DisciplineDepartmentOut))
    total = fields.Nested(DisciplineFiguresOut)


class DisciplineItemOut(Schema):
    id = fields.Integer()
    department = fields.String()
    department_name = fields.String()
    requester = fields.String()
    requester_name = fields.String()
    subject = fields.String(allow_none=True, metadata={"description": "Только если вызывающий может открыть запрос "
                                                                     "(участник или администратор); иначе null"})
    month = fields.String()
    sent = fields.String()
    due = fields.String(metadata={"description": "Срок, действующий с продлениями"})
    answered = fields.String(allow_none=True)
    outcome = fields.String(metadata={"description": ", ".join(OUTCOME_LABELS)})
    outcome_label = fields.String()
    delay = fields.Integer(metadata={"description": "Рабочих дней после срока (с опозданием, просрочено)"})
    extensions = fields.Integer()
    extension_days = fields.Integer()


def query_of(args: dict) -> dc.DisciplineQuery:
    return dc.DisciplineQuery(program=args.get("program"), department=args.get("department"),
                              start=args.get("from_"), end=args.get("to"))


def figures_view(f: Figures) -> dict:
    return {"received": f.received, "on_time": f.on_time, "late": f.late, "overdue": f.overdue, "open": f.open,
            "withdrawn": f.withdrawn, "extended": f.extended, "extensions": f.extensions,
            "average_delay": None if f.average_delay is None else str(f.average_delay),
            "on_time_share": None if f.on_time_share is None else str(f.on_time_share),
            "late_delay_total": f.late_delay_total, "overdue_delay_total": f.overdue_delay_total}


def report_view(view: dc.DisciplineView) -> dict:
    return {
        "program": view.query.program, "department": view.query.department,
        "from_": view.start.isoformat(), "to": view.end.isoformat(), "today": view.today.isoformat(),
        "definition": DEFINITION, "month_rule": MONTH_RULE, "months": view.report.months,
        "departments": [{
            "department": d.department, "department_name": view.names.get(d.department, d.department),
            "total": figures_view(d.total),
            "months": [{"month": m, **figures_view(d.months[m])} for m in view.report.months],
        } for d in view.report.departments],
        "total": figures_view(view.report.total),
    }


def item_view(view: dc.DisciplineView, item) -> dict:
    f = item.facts
    requester = view.requesters[f.item_id]
    return {
        "id": f.item_id, "registration_number": f.number, "department": f.department, "department_name": view.names.get(f.department, f.department),
        "requester": requester, "requester_name": view.names.get(requester, requester),
        "subject": view.subjects.get(f.item_id), "month": item.month, "sent": f.sent.isoformat(),
        "due": f.due.isoformat(), "answered": f.answered.isoformat() if f.answered else None,
        "outcome": item.outcome, "outcome_label": OUTCOME_LABELS[item.outcome], "delay": item.delay,
        "extensions": f.extensions, "extension_days": f.extension_days,
    }


def build(args: dict) -> dc.DisciplineView:
    services = current_services()
    with services.uow() as uow:
        return dc.discipline(uow.session, services, g.actor, query_of(args))


@blp.route("/api/v1/discipline")
@login_required
@blp.arguments(DisciplineQuery, location="query", unknown=RAISE)
@blp.response(200, DisciplineOut)
def report(args):
    """Per addressee department and per month of sending: received, on time, late, overdue now, open,
    withdrawn, extensions and the average delay in working days. Economic policy, finance and the admin see
    every department; others the items they are a party to (received or sent)."""
    return report_view(build(args))


@blp.route("/api/v1/discipline/items")
@login_required
@blp.arguments(DisciplineItemsQuery, location="query", unknown=RAISE)
@blp.response(200, page_of(DisciplineItemOut))
def items(args):
    """The items behind one number of the report: a figure, optionally for one department and month."""
    view = build(args)
    chosen = dc.drill_down(view, args["figure"], args.get("department"), args.get("month"))
    return paginate([item_view(view, i) for i in chosen], args)


def download(args: dict, fmt: str) -> Response:
    services = current_services()
    view = build(args)
    try:
        exported = export_discipline(view, fmt, tz=services.tz, now=services.now())
    except PdfUnavailable as exc:
        raise PdfNotAvailable(str(exc)) from None
    return Response(exported.data, mimetype=exported.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'})


@blp.route("/api/v1/discipline.xlsx")
@login_required
@blp.arguments(DisciplineQuery, location="query", unknown=RAISE)
@file_response(blp, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               description="The discipline report as an XLSX workbook.", headers=DISPOSITION_HEADER)
def xlsx(args):
    """The discipline report as an XLSX workbook: the figures per department and month, and the items."""
    return download(args, "xlsx")


@blp.route("/api/v1/discipline.pdf")
@login_required
@blp.arguments(DisciplineQuery, location="query", unknown=RAISE)
@file_response(blp, "application/pdf", description="The discipline report as a PDF.", headers=DISPOSITION_HEADER)
@refuses(blp, 503)
def pdf(args):
    """The discipline report as a PDF (needs reportlab and a TTF font with Cyrillic glyphs)."""
    return download(args, "pdf")
