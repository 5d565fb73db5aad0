"""Reading helpers over the use-case functions (the same ones the API lists with)."""
from __future__ import annotations

from sqlalchemy import select

from services import amendments as am
from services import information_requests as ir
from services import reports as rp
from services.models.registry import Department, Program
from services.registry import load_version
from workflows.core import Actor
from services.models.registry import User

MAX_ROWS = 5000


def all_requests(session, actor: Actor, **filters) -> list:
    """Every visible request matching the filters, newest first (paged through ``list_requests``)."""
    items, page = [], 1
    while True:
        chunk, total = ir.list_requests(session, actor, ir.RequestFilter(page=page, page_size=200, **filters))
        items += chunk
        if not chunk or len(items) >= min(total, MAX_ROWS):
            return items
        page += 1


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
    for report in rp.list_reports(session, actor, rp.ReportFilter()):
        if report.state == "published":
            continue
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
    items, _ = am.list_amendments(session, actor, page=1, page_size=200)
    for a in items:
        if a.state in ("adopted", "withdrawn"):
            continue
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
