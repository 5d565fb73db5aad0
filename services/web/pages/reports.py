"""Report pages: cycles per program, the report with plan vs fact, inputs, review actions, downloads."""
from __future__ import annotations

import re

from flask import Response, flash, redirect, render_template, request, url_for

from services import list_export, lists, reports as rp
from services.web.api import reports as reports_api
from services.report_export import PdfUnavailable, export_report
from services.web.pages import discussion as discussion_block, svg
from services.web.pages.common import actor, bp, login_required, run_action, services, shows_form_errors
from services.web.pages.lists import (
    LIST_VIEWS, department_names, export_response, list_context, list_page, list_query, programs_visible,
    users_by_id,
)
from services.web.pages.watchers import panel as watch_panel
from workflows.core import Invalid
from workflows.report import EXECUTOR

STATE_CHOICES = [("", "Все состояния")] + [(s, rp.WORKFLOW.state_labels[s]) for s in rp.WORKFLOW.states]
HUMAN_EVENTS = ("start_collection", "submit", "return", "resubmit", "accept", "publish")


def _days_late(report, today) -> int:
    return max(1, (today - report.due_date).days) if rp.is_overdue(report) else 0


@bp.route("/reports")
@login_required
def reports_list():
    return _reports_list(request.args)


def _reports_list(args, *, save_errors=None, save_name: str = ""):
    svc = services()
    me = actor()
    today = svc.now().astimezone(svc.tz).date()
    with svc.uow() as uow:
        query, errors, kept = list_query(uow.session, "reports", args)
        page = list_page(lambda f: lists.report_page(uow.session, me, f, now=svc.now()), query)
        items = [{"report": r, "label": rp.period_label(r), "late": _days_late(r, today)} for r in page.items]
        return render_template("webui/reports_list.html", page=page, items=items, q=query.q or "",
                               program=query.program or "", state=query.state or "", kind_=query.kind or "",
                               number=query.number or "", due_from=kept.get("due_from", ""),
                               due_to=kept.get("due_to", ""), overdue=bool(query.overdue), states=STATE_CHOICES,
                               errors=errors, programs=programs_visible(uow.session, me),
                               **list_context(uow.session, "reports", query, kept, save_errors=save_errors,
                                              save_name=save_name),
                               ), 422 if errors or save_errors else 200


LIST_VIEWS["reports"] = _reports_list

REPORT_COLUMNS = (
    list_export.Column("Отчёт", lambda r: f"{'Годовой' if r.kind == 'annual' else 'Ежеквартальный'} за "
                                          f"{rp.period_label(r)}", 36),
    list_export.Column("Рег. номер", lambda r: r.registration_number, 18),
    list_export.Column("Программа", lambda r: r.program.title, 50),
    list_export.Column("Состояние", lambda r: rp.WORKFLOW.state_labels.get(r.state, r.state), 22),
    list_export.Column("Срок", lambda r: r.due_date, 12),
    list_export.Column("Опоздание, дней", lambda r: _days_late(r, services().now().astimezone(services().tz).date())
                       or None, 12),
)


@bp.route("/reports/export.<fmt>")
@login_required
def reports_export(fmt: str):
    """Exactly the rows of the filtered list, every page of it (``requests_export``'s rule)."""
    svc = services()
    return export_response("reports", fmt, lambda session, f: lists.report_page(
        session, actor(), f, now=svc.now(), count_limit=0), name="otchety", title="Отчёты",
        columns=REPORT_COLUMNS) or reports_list()


def _side_by_side(revisions: list) -> dict | None:
    """Each revision's indicator facts and financing spent in columns, changed rows marked."""
    if len(revisions) < 2:
        return None
    codes, names = [], {}
    for rev in revisions:
        for i in rev.content.get("indicators", []):
            if i["code"] not in names:
                codes.append(i["code"])
                names[i["code"]] = i["name"]
    rows = []
    for code in codes:
        values = [next((i.get("fact") for i in rev.content.get("indicators", []) if i["code"] == code), None)
                  for rev in revisions]
        rows.append({"label": f"{code}. {names[code]}", "values": values, "changed": len(set(values)) > 1})
    sources = []
    for rev in revisions:
        for f in rev.content.get("financing", []):
            if f["source"] not in [s for s, _ in sources]:
                sources.append((f["source"], f["source_name"]))
    for code, name in sources:
        values = [next((f.get("spent") for f in rev.content.get("financing", []) if f["source"] == code), None)
                  for rev in revisions]
        rows.append({"label": f"Кассовые расходы: {name}", "values": values, "changed": len(set(values)) > 1})
    notes = [rev.note for rev in revisions]
    rows.append({"label": "Пояснительная записка", "values": notes, "changed": len(set(notes)) > 1, "text": True})
    return {"numbers": [rev.number for rev in revisions], "dates": [rev.submitted_at for rev in revisions],
            "rows": rows}


@bp.route("/reports/<int:report_id>")
@login_required
def report_page(report_id: int):
    return _page(report_id)


def _page(report_id: int, *, action_errors=None, submitted=None, discussion_errors=None, discussion_submitted=None,
          discussion_file_errors=None, status=200):
    svc = services()
    me = actor()
    today = svc.now().astimezone(svc.tz).date()
    with svc.uow() as uow:
        session = uow.session
        report = rp.get_visible(session, me, report_id)
        view = reports_api.report_view(session, me, report)
        loaded = rp._passport(session, report)
        p = loaded.passport
        who = rp.parties(me, p)
        content = view["content"]
        plan_fact = [{**i, "bar": svg.ratio_bar(i.get("achievement"), f"Достижение {i['code']}")}
                     for i in content.get("indicators", [])]
        revisions = rp.revisions(session, report.id)
        own_activities = [a for a in p.activities if a.executor == p.executor and report.year in a.years]
        history = rp.history(session, me, report_id)
        # Economic policy's remarks on a returned report, shown above the forms that answer them.
        remarks = (next((h for h in reversed(history) if h.event == "return"), None)
                   if report.state == "returned" else None)
        return render_template(
            "webui/report.html", report=report, view=view, content=content, plan_fact=plan_fact, p=p,
            label=rp.period_label(report), late=_days_late(report, today), allowed=view["allowed_events"],
            labels=rp.WORKFLOW.event_labels, state_labels=rp.WORKFLOW.state_labels,
            editable=EXECUTOR in who and report.state in rp.EDITABLE_STATES, own_activities=own_activities,
            inputs=report.inputs or {}, side=_side_by_side(revisions), history=history,
            names=department_names(session), diagram=svg.state_diagram(rp.WORKFLOW, report.state),
            users=users_by_id(session, [h.actor_id for h in history]), remarks=remarks,
            action_errors=action_errors or {}, submitted=submitted or {},
            talk=discussion_block.block(session, svc, me, "report", report.id, errors=discussion_errors,
                                     submitted=discussion_submitted, file_errors=discussion_file_errors),
            watch=watch_panel(session, me, "report", report.id),
        ), status


def _decimal_text(raw: str) -> str:
    compact = raw.strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    return compact.replace(",", ".") if re.fullmatch(r"-?\d+(,\d+)?", compact) else compact


@bp.route("/reports/<int:report_id>/inputs", methods=["POST"])
@login_required
def report_inputs(report_id: int):
    svc = services()
    body: dict = {"spent": {}, "activities": {}, "actuals": {}}
    for name, value in request.form.items():
        if not value.strip():
            continue
        if name.startswith("spent-"):
            body["spent"][name[6:]] = _decimal_text(value)
        elif name.startswith("act-"):
            if value in ("yes", "no"):
                body["activities"][name[4:]] = value == "yes"
        elif name.startswith("actual-"):
            body["actuals"][name[7:]] = _decimal_text(value)

    def act():
        with svc.uow() as uow:
            rp.set_inputs(uow, actor(), report_id, {k: v for k, v in body.items() if v})
            uow.commit()

    return run_action(act, ok="Сведения отчёта сохранены.",
                      back_to=url_for("webui.report_page", report_id=report_id) + "#inputs")


EVENT_MESSAGES = {
    "start_collection": "Сбор сведений начат: соисполнителям направлены запросы.",
    "submit": "Отчёт представлен в отдел экономической политики.",
    "resubmit": "Отчёт представлен повторно.",
    "return": "Отчёт возвращён на доработку с замечаниями.",
    "accept": "Отчёт принят.",
    "publish": "Отчёт опубликован на общедоступной странице программы.",
}


@bp.route("/reports/<int:report_id>/action", methods=["POST"])
@login_required
def report_action(report_id: int):
    svc = services()
    event = request.form.get("event", "")
    data = {"note": request.form.get("note", "")} if event in ("submit", "resubmit") else {}

    def act():
        with svc.uow() as uow:
            # Who first, like every other refusal: someone who may not see the report learns only that.
            rp.get_visible(uow.session, actor(), report_id)
            if event not in HUMAN_EVENTS:
                raise Invalid(f"Действие «{event}» выполняется системой, а не вручную.")
            rp.fire_transition(uow, svc, actor(), report_id, event, request.form.get("comment", ""), data)
            uow.commit()

    def at_the_fields(exc: Invalid):
        # Keyed by form and field ("return.comment"), shown at the field with its own label.
        errors = {f"{event}.{name}": problems for name, problems in exc.fields.items()}
        return _page(report_id, action_errors=errors, submitted=request.form, status=422)

    return run_action(act, ok=EVENT_MESSAGES.get(event, "Готово."),
                      back_to=url_for("webui.report_page", report_id=report_id), on_invalid=at_the_fields)


@bp.route("/reports/<int:report_id>.xlsx")
@login_required
def report_xlsx(report_id: int):
    return _download(report_id, "xlsx")


@bp.route("/reports/<int:report_id>.pdf")
@login_required
def report_pdf(report_id: int):
    return _download(report_id, "pdf")


def _download(report_id: int, fmt: str):
    """The same export as the API's; an unavailable PDF is a message on the report page."""
    with services().uow() as uow:
        try:
            exported = export_report(uow.session, actor(), report_id, fmt, tz=services().tz, now=services().now())
        except PdfUnavailable as exc:
            flash(f"PDF недоступен: {exc}", "error")
            return redirect(url_for("webui.report_page", report_id=report_id))
    return Response(exported.data, mimetype=exported.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'})


# --- discussion ----------------------------------------------------------------------------

@bp.route("/reports/<int:report_id>/comments", methods=["POST"])
@login_required
@shows_form_errors
def report_comment(report_id: int):
    return discussion_block.post_comment("report", report_id, lambda **kw: _page(report_id, **kw))


@bp.route("/reports/<int:report_id>/attachments", methods=["POST"])
@login_required
def report_upload(report_id: int):
    return discussion_block.post_file("report", report_id, lambda **kw: _page(report_id, **kw))


@bp.route("/reports/<int:report_id>/attachments/<int:attachment_id>")
@login_required
def report_download(report_id: int, attachment_id: int):
    return discussion_block.download("report", report_id, attachment_id)
