"""Reading helpers over the use-case functions (the lists themselves are in ``services.lists``), and what
the three lists share: their filters read from the URL, the sortable headers' state, the saved filters
above them and the export of exactly what they hold."""
from __future__ import annotations

from io import BytesIO
from urllib.parse import parse_qsl, urlencode

from flask import flash, redirect, request, send_file, url_for
from sqlalchemy import select

from services import amendments as am
from services import list_export, lists, saved_filters
from services import reports as rp
from services.adapters.formatting import format_number
from services.models.registry import Department, Program
from services.registry import load_version
from workflows.core import Actor, Invalid
from services.models.registry import User
from services.web.pages.common import (
    PAGE_SIZE, Page, actor, bp, login_required, not_found, page_number, services,
)

LIST_ENDPOINTS = {"requests": "webui.requests_list", "reports": "webui.reports_list",
                  "amendments": "webui.amendments_list"}
EXPORT_MAX_ROWS = 10_000  # a file a spreadsheet opens at once; past it, a narrower filter


def list_page(fetch, query) -> Page:
    """Run a ``services.lists`` query for the page asked for in the URL; the pager's view of the result."""
    query.page, query.per_page = page_number(), PAGE_SIZE
    found = fetch(query)
    return Page(found.items, found.page, found.pages, found.total, found.per_page, found.exact)


def list_query(session, kind: str, args=None):
    """The list's filters from the URL (``lists.parse_list_args``): the query, the refusals by field,
    and the valid filters as they stay in the list's links (headers, pager, export, saving)."""
    args = request.args if args is None else args
    query, errors = lists.parse_list_args(session, actor(), kind, args)
    kept = {k: v for k, v in args.items() if k in lists.FILTERS[kind] and k not in errors and v.strip()}
    return query, errors, kept


def list_context(session, kind: str, query, kept: dict, *, save_errors=None, save_name: str = "") -> dict:
    """What each list's template shows around its table: the order, the saved filters, the export links."""
    return {"kind": kind, "list_endpoint": LIST_ENDPOINTS[kind], "kept": kept,
            "sort": lists.shown_sort(kind, query.sort), "query_string": urlencode(kept),
            "saved": saved_filters.saved_filters(session, actor(), kind), "save_errors": save_errors or {},
            "save_name": save_name}


def export_response(kind: str, fmt: str, fetch, *, name: str, title: str, columns):
    """Exactly the rows of the filtered list, every page of it, as ``fmt``; a refused filter is the
    list's own 422 (the caller passes ``fetch(session, query)``, the list's own query)."""
    if fmt not in list_export.FORMATS:
        not_found()
    svc = services()
    with svc.uow() as uow:
        query, errors, _ = list_query(uow.session, kind)
        if errors:
            return None
        query.page, query.per_page = 1, EXPORT_MAX_ROWS + 1
        rows = list(fetch(uow.session, query).items)
        if len(rows) > EXPORT_MAX_ROWS:
            flash(f"В выгрузке не больше {format_number(EXPORT_MAX_ROWS)} строк: уточните отбор.", "error")
            return redirect(url_for(LIST_ENDPOINTS[kind], **request.args))
        exported = list_export.export_list(name, title, columns(uow.session) if callable(columns) else columns,
                                           rows, fmt, tz=svc.tz, on=svc.now().astimezone(svc.tz).date())
    return send_file(BytesIO(exported.body), mimetype=exported.mimetype, as_attachment=True,
                     download_name=exported.filename)


# --- saved filters ---------------------------------------------------------------------

LIST_VIEWS: dict[str, object] = {}  # kind -> the list view's renderer(args, save_errors, save_name)


@bp.route("/<any(requests, reports, amendments):kind>/filters", methods=["POST"])
@login_required
def saved_filter_save(kind: str):
    """Save the list's current query under a name; a refused one is the list again with the reason (422)."""
    svc = services()
    name, query = request.form.get("name", ""), request.form.get("query", "")
    try:
        with svc.uow() as uow:
            saved = saved_filters.save_filter(uow, actor(), kind, name, query)
            uow.commit()
    except Invalid as exc:
        args = {k: v for k, v in _query_pairs(query) if k in lists.FILTERS[kind]}
        return LIST_VIEWS[kind](args, save_errors=exc.fields or {"name": [exc.message]}, save_name=name)
    flash(f"Отбор «{name.strip()}» сохранён.", "success")
    response = redirect(url_for(LIST_ENDPOINTS[kind]) + (f"?{saved.query}" if saved.query else ""))
    response.set_data(b"")  # werkzeug's body spells out the URL, filter codes and all; the browser needs none
    return response


def _query_pairs(query: str):
    return parse_qsl(query.lstrip("?")[:saved_filters.QUERY_MAX])


@bp.route("/<any(requests, reports, amendments):kind>/filters/<int:filter_id>/delete", methods=["POST"])
@login_required
def saved_filter_delete(kind: str, filter_id: int):
    """Another user's filter is not found (404), like one that never existed."""
    with services().uow() as uow:
        saved_filters.delete_filter(uow, actor(), kind, filter_id)
        uow.commit()
    flash("Сохранённый отбор удалён.", "success")
    return redirect(url_for(LIST_ENDPOINTS[kind]))


def department_names(session) -> dict[str, str]:
    return {d.code: d.name for d in session.execute(select(Department)).scalars()}


def programs_visible(session, actor: Actor) -> list:
    """Programs with their current passport; those naming the actor's department (or all, for admins)."""
    out = []
    for program in session.execute(select(Program).order_by(Program.slug)).scalars():
        loaded = load_version(session, program.slug)
        if rp.can_see(actor, loaded.passport):
            out.append(loaded)
    return out


def open_reports_for(session, actor: Actor) -> list[dict]:
    """Reports on which the actor has an action to take now."""
    out = []
    reports = lists.report_page(session, actor, lists.ReportQuery(exclude_states=("published",), sort="due",
                                                                  per_page=None)).items
    for report in reports:
        passport = rp._passport(session, report).passport
        events = [e for e in rp.WORKFLOW.allowed_events(report, rp.parties(actor, passport))
                  if e != "collection_complete"]
        if events:
            out.append({"report": report, "events": events, "overdue": rp.is_overdue(report),
                        "label": rp.period_label(report)})
    return out


def open_amendments_for(session, actor: Actor) -> list[dict]:
    """Amendments awaiting the actor's department: its review, or the executor's next step."""
    out = []
    items = lists.amendment_page(session, actor, lists.AmendmentQuery(exclude_states=("adopted", "withdrawn"),
                                                                      per_page=None)).items
    for a in items:
        passport = am.current_passport(session, a)
        events = am.WORKFLOW.allowed_events(a, am.parties(actor, passport))
        status = am.review_status(session, a, passport)
        if actor.department in status and status[actor.department]["decision"] != "pending":
            events = [e for e in events if e not in ("approve", "return")]
        key = {"submit_for_review", "approve", "adopt"} | ({"revise"} if a.state == "returned" else set())
        if key & set(events):
            out.append({"amendment": a, "events": [e for e in events if e in key]})
    return out


def users_by_id(session, ids) -> dict:
    """Names for a history timeline."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in session.execute(select(User).where(User.id.in_(ids))).scalars()}
