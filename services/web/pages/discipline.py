"""The execution-discipline page: filters, the table per department and month, a chart, the drill-down, files."""
from __future__ import annotations

from datetime import date

from flask import Response, render_template, request
from sqlalchemy import select

from services import discipline as dc
from services.adapters.formatting import format_month
from services.models.registry import Department
from services.discipline_export import DEFINITION, MONTH_RULE, export_discipline
from services.report_export import PdfUnavailable
from services.web.pages import svg
from services.web.pages.common import actor, bp, login_required, paginate, services
from services.web.pages.lists import programs_visible
from workflows.core import Invalid
from workflows.discipline import FIGURE_LABELS, FIGURES, OUTCOME_LABELS

COLUMNS = (("received", "Поступило"), ("on_time", "В срок"), ("late", "С опозданием"),
           ("overdue", "Просрочено сейчас"), ("open", "Срок не истёк"), ("withdrawn", "Отозвано"),
           ("extended", "С продлением"))
CHART_SERIES = (("В срок", "#2e7d32", "on_time"), ("С опозданием", "#c75b12", "late"),
                ("Просрочено сейчас", "#b00020", "overdue"), ("Срок не истёк", "#1f5fa8", "open"))
FILTERS = ("program", "department", "from", "to")


def _filters() -> tuple[dict[str, str], dc.DisciplineQuery, dict[str, list[str]]]:
    """The filter form as typed, the query it asks for, and what in it cannot be read."""
    raw = {name: request.args.get(name, "").strip() for name in FILTERS}
    errors: dict[str, list[str]] = {}
    dates: dict[str, date | None] = {}
    for name in ("from", "to"):
        text = raw[name]
        dates[name] = None
        if text:
            try:
                dates[name] = date.fromisoformat(text) if len(text) == 10 else None
            except ValueError:
                pass
            if dates[name] is None:
                errors[name] = ["Дата в виде ГГГГ-ММ-ДД."]
    query = dc.DisciplineQuery(program=raw["program"] or None, department=raw["department"] or None,
                               start=dates["from"], end=dates["to"])
    return raw, query, errors


def _build(session, svc, me, query, errors) -> tuple[dc.DisciplineView | None, dict[str, list[str]]]:
    try:
        if errors:
            raise Invalid("Отчёт не построен: проверьте фильтры.", fields=errors)
        return dc.discipline(session, svc, me, query), {}
    except Invalid as exc:
        return None, {**(exc.fields or {}), **errors}


def _args(view: dc.DisciplineView, **extra) -> dict:
    """The URL arguments of the period shown, for the links from each number and the files."""
    args = {"from": view.start.isoformat(), "to": view.end.isoformat()}
    if view.query.program:
        args["program"] = view.query.program
    if view.query.department:
        args["department"] = view.query.department
    return {**args, **{k: v for k, v in extra.items() if v is not None}}


def _chart(view: dc.DisciplineView):
    groups = [(m, format_month(m, short=True)) for m in view.report.months]
    series = []
    for name, colour, key in CHART_SERIES:
        values = {m: sum(getattr(d.months[m], key) for d in view.report.departments) for m in view.report.months}
        series.append((name, colour, values))
    return svg.count_chart("Запросы по месяцам направления: исполнение сроков", groups, series, unit="запросов")


def _page():
    svc, me = services(), actor()
    raw, query, errors = _filters()
    with svc.uow() as uow:
        session = uow.session
        view, errors = _build(session, svc, me, query, errors)
        departments = sorted(((d.code, d.name) for d in session.execute(select(Department)).scalars()),
                             key=lambda d: d[1])
        programs = [(pr.program.slug, pr.passport.title) for pr in programs_visible(session, me)]
    common = dict(raw=raw, view=view, errors=errors, departments=departments, programs=programs,
                  definition=DEFINITION, month_rule=MONTH_RULE, columns=COLUMNS, args=_args,
                  figure_labels=FIGURE_LABELS, outcome_labels=OUTCOME_LABELS, sees_all=dc.sees_all(me))
    return common, view, errors


@bp.route("/discipline")
@login_required
def discipline_page():
    common, view, errors = _page()
    if view is None:
        return render_template("webui/discipline.html", **common), 422
    return render_template("webui/discipline.html", chart=_chart(view), **common)


@bp.route("/discipline/items")
@login_required
def discipline_items():
    common, view, errors = _page()
    figure = request.args.get("figure", "received")
    month = request.args.get("month") or None
    department = request.args.get("department") or None
    if view is not None:
        try:
            chosen = dc.drill_down(view, figure if figure in FIGURES else "", department, month)
        except Invalid as exc:
            view, errors = None, exc.fields or {}
            common.update(view=None, errors=errors)
    if view is None:
        return render_template("webui/discipline_items.html", figure=None, month=None, page=None,
                               **common), 422
    return render_template("webui/discipline_items.html", figure=figure, month=month, department=department,
                           page=paginate(chosen), **common)


@bp.route("/discipline.xlsx")
@login_required
def discipline_xlsx():
    return _file("xlsx")


@bp.route("/discipline.pdf")
@login_required
def discipline_pdf():
    return _file("pdf")


def _file(fmt: str):
    svc = services()
    common, view, errors = _page()
    if view is None:
        return render_template("webui/discipline.html", **common), 422
    try:
        exported = export_discipline(view, fmt, tz=svc.tz, now=svc.now())
    except PdfUnavailable as exc:
        return render_template("webui/error.html", title="PDF недоступен", message=str(exc), status=503), 503
    return Response(exported.data, mimetype=exported.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'})
