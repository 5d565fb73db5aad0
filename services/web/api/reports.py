"""Progress report endpoints, and the public open-data view of published reports (no login)."""
from __future__ import annotations

import csv
import io

from flask import Response, g, render_template
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from services import lists, reports as rp
from services.web.api.auth import login_required
from services.web.api.contract import (
    DISPOSITION_HEADER, HistoryEntryOut, ListQuery, PageQuery, file_response, history_view, page, page_of, paginate,
    public, refuses, sort_field,
)
from services.report_export import PdfUnavailable, csv_field, export_report
from services.web.context import current_services
from services.web.fields import CODE, COMMENT, LONG_TEXT, text_entries
from workflows.report_content import diff
from workflows.core import Refusal

# No url_prefix: the public HTML page lives outside /api/v1, the rest inside it.
blp = Blueprint("reports", __name__, description="Отчёты о ходе реализации программ")


class ReportListQuery(ListQuery):
    q = fields.String(load_default=None, validate=validate.Length(max=200), metadata={
        "description": "Поиск: период, программа, состояние, регистрационный номер"})
    program = fields.String(load_default=None)
    period = fields.String(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(("quarterly", "annual")))
    state = fields.String(load_default=None, validate=validate.OneOf(rp.WORKFLOW.states))
    # The API's order before its columns sorted: soonest deadline first (the web list: latest period).
    sort = sort_field(lists.REPORT_SORTS, "due")


class ReportTransitionIn(Schema):
    event = CODE.field(required=True)
    comment = COMMENT.field(load_default="")
    data = fields.Dict(load_default=dict, validate=text_entries(note=LONG_TEXT, remarks=LONG_TEXT))


class ReportInputsIn(Schema):
    spent = fields.Dict(keys=CODE.field(), values=fields.Raw(), load_default=None)
    activities = fields.Dict(keys=CODE.field(), values=fields.Raw(), load_default=None)
    actuals = fields.Dict(keys=CODE.field(), values=fields.Raw(), load_default=None)


class ReportSummaryOut(Schema):
    id = fields.Integer()
    program = fields.String()
    kind = fields.String()
    period = fields.String()
    period_label = fields.String()
    state = fields.String()
    state_label = fields.String()
    due_date = fields.String()
    registration_number = fields.String(allow_none=True, metadata={
        "description": "Регистрационный номер; присваивается при первом представлении (до этого null)"})
    registration_date = fields.String(allow_none=True, metadata={"description": "Дата регистрации, ГГГГ-ММ-ДД"})
    due_at = fields.String()
    co_executor_due_date = fields.String()
    overdue = fields.Boolean()
    allowed_events = fields.List(fields.String())
    version = fields.Integer()


class ReportRevisionOut(Schema):
    number = fields.Integer()
    submitted_at = fields.String()
    submitted_by_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    changes = fields.Raw(allow_none=True, metadata={"description": "Что изменилось против предыдущей редакции"})


class ReportOut(ReportSummaryOut):
    collection = fields.Raw(metadata={"description": "Кто из соисполнителей уже внёс свои данные"})
    inputs = fields.Dict()
    note = fields.String(allow_none=True)
    content = fields.Dict(metadata={"description": "Форма отчёта: показатели, финансирование, мероприятия"})
    revisions = fields.List(fields.Nested(ReportRevisionOut))


class PublicReportOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    period = fields.String()
    published_at = fields.String(allow_none=True)
    content = fields.Dict()


class PublicProgramOut(Schema):
    program = fields.Dict(metadata={"description": "slug и title"})
    reports = fields.List(fields.Nested(PublicReportOut))


class PublicProgramQuery(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "json (по умолчанию) или csv"})


def report_summary(session, actor, report) -> dict:
    passport = rp._passport(session, report).passport
    return {
        "id": report.id,
        "program": report.program.slug,
        "kind": report.kind,
        "period": report.period,
        "period_label": rp.period_label(report),
        "state": report.state,
        "state_label": rp.WORKFLOW.state_labels.get(report.state, report.state),
        "due_date": report.due_date.isoformat(),
        "registration_number": report.registration_number,
        "registration_date": report.registration_date.isoformat() if report.registration_date else None,
        "due_at": report.due_at.isoformat(),
        "co_executor_due_date": report.co_executor_due_date.isoformat(),
        "overdue": rp.is_overdue(report),
        "allowed_events": rp.WORKFLOW.allowed_events(report, rp.parties(actor, passport)),
        "version": report.version,
    }


def report_view(session, actor, report) -> dict:
    view = report_summary(session, actor, report)
    revs = rp.revisions(session, report.id)
    out_revs, previous = [], None
    for rev in revs:
        out_revs.append({
            "number": rev.number, "submitted_at": rev.submitted_at.isoformat(),
            "submitted_by_id": rev.submitted_by_id, "note": rev.note,
            "changes": None if previous is None else diff(previous.content, rev.content),
        })
        previous = rev
    view.update({
        "collection": rp.collection_status(session, report),
        "inputs": report.inputs or {},
        "note": report.note,
        "content": rp.content_of(session, report, tz=current_services().tz,
                                 today=current_services().now().astimezone(current_services().tz).date()),
        "revisions": out_revs,
    })
    return view


@blp.route("/api/v1/reports")
@login_required
@blp.arguments(ReportListQuery, location="query", unknown=RAISE)
@blp.response(200, page_of(ReportSummaryOut))
def list_(args):
    """Report cycles, soonest deadline first unless ``sort`` says; the web list's filters."""
    with current_services().uow() as uow:
        query = {k: v for k, v in args.items() if k != "page_size"}
        found = lists.report_page(uow.session, g.actor, lists.ReportQuery(**query, per_page=args["page_size"]),
                                  now=current_services().now(), count_limit=None, clamp=False)
        return page([report_summary(uow.session, g.actor, r) for r in found.items], found.total, args)


@blp.route("/api/v1/reports/<int:report_id>")
@login_required
@blp.response(200, ReportOut)
def get(report_id: int):
    """One report: content (frozen once submitted), revisions with changes, collection, allowed events."""
    with current_services().uow() as uow:
        return report_view(uow.session, g.actor, rp.get_visible(uow.session, g.actor, report_id))


@blp.route("/api/v1/reports/<int:report_id>/transitions", methods=["POST"])
@login_required
@blp.arguments(ReportTransitionIn)
@blp.response(200, ReportOut)
@refuses(blp, 403, 409)
def transition(body, report_id: int):
    """Fire start_collection, submit (data.note), return (comment), resubmit, accept, publish."""
    services = current_services()
    with services.uow() as uow:
        report = rp.fire_transition(uow, services, g.actor, report_id, body["event"], body["comment"], body["data"])
        uow.commit()
        return report_view(uow.session, g.actor, report)


@blp.route("/api/v1/reports/<int:report_id>/inputs", methods=["PUT"])
@login_required
@blp.arguments(ReportInputsIn)
@blp.response(200, ReportOut)
@refuses(blp, 403, 409)
def put_inputs(body, report_id: int):
    """The executor's own figures: spent per source, its activities done, its indicators' actuals."""
    services = current_services()
    with services.uow() as uow:
        report = rp.set_inputs(uow, g.actor, report_id, {k: v for k, v in body.items() if v is not None})
        uow.commit()
        return report_view(uow.session, g.actor, report)


@blp.route("/api/v1/reports/<int:report_id>/history")
@login_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(HistoryEntryOut))
def history(args, report_id: int):
    """Every transition: who, which role, from, to, when, comment; oldest first."""
    with current_services().uow() as uow:
        return paginate(history_view(rp.history(uow.session, g.actor, report_id)), args)


def _download(report_id: int, fmt: str) -> Response:
    with current_services().uow() as uow:
        try:
            exported = export_report(uow.session, g.actor, report_id, fmt, tz=current_services().tz,
                                     now=current_services().now())
        except PdfUnavailable as exc:
            raise PdfNotAvailable(str(exc)) from None
    return Response(exported.data, mimetype=exported.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'})


@blp.route("/api/v1/reports/<int:report_id>.xlsx")
@login_required
@file_response(blp, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               description="The report form as an XLSX workbook.", headers=DISPOSITION_HEADER)
def xlsx(report_id: int):
    """The report form as an XLSX workbook."""
    return _download(report_id, "xlsx")


@blp.route("/api/v1/reports/<int:report_id>.pdf")
@login_required
@file_response(blp, "application/pdf", description="The report form as a PDF.", headers=DISPOSITION_HEADER)
@refuses(blp, 503)
def pdf(report_id: int):
    """The report form as a PDF (needs reportlab and a TTF font with Cyrillic glyphs)."""
    return _download(report_id, "pdf")


class PdfNotAvailable(Refusal):
    status = 503
    code = "pdf_unavailable"


# --- public, no login ---------------------------------------------------------------------

def _csv(view: dict, slug: str) -> Response:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=rp.CSV_COLUMNS)
    writer.writeheader()
    for row in rp.public_rows(view):
        writer.writerow({k: csv_field(v) for k, v in row.items()})
    # Flask adds "; charset=utf-8" to a text/* mimetype itself.
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{slug}.csv"'})


@blp.route("/api/v1/public/programs/<slug>")
@public(blp)
@blp.arguments(PublicProgramQuery, location="query")
@blp.response(200, PublicProgramOut)
@blp.doc(responses={"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/PublicProgramOut"}},
                                        "text/csv": {"schema": {"type": "string"}}},
                            "description": "JSON, or with format=csv (or a slug ending in .csv) a CSV file: "
                                           + ", ".join(rp.CSV_COLUMNS) + "."}})
def public_program(args, slug: str):
    """Published reports of a program as open data: JSON, or CSV with ?format=csv. No login."""
    fmt = args["format"]
    if slug.endswith(".csv"):
        slug, fmt = slug[:-4], "csv"
    with current_services().uow() as uow:
        view = rp.public_program(uow.session, slug)
    return _csv(view, slug) if fmt == "csv" else view


@blp.route("/public/programs/<slug>")
@public(blp)
@file_response(blp, "text/html", description="The public HTML page of the program.")
def public_page(slug: str):
    """The public page: published reports with plan-vs-fact bars, financing and activities. No login."""
    with current_services().uow() as uow:
        view = rp.public_program(uow.session, slug)
    return render_template("public/program.html", view=view, slug=slug, bar=_bar)


def _bar(value: str | None) -> int:
    """Bar width in percent for a ratio string (capped at 100)."""
    if value is None:
        return 0
    try:
        return max(0, min(100, round(float(value) * 100)))
    except ValueError:
        return 0
