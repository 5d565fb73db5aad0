"""Reading helpers over the use-case functions (the lists themselves are in ``services.lists``)."""
from __future__ import annotations

from sqlalchemy import select

from services import amendments as am
from services import lists
from services import reports as rp
from services.models.registry import Department, Program
from services.registry import load_version
from workflows.core import Actor
from services.models.registry import User
from services.web.pages.common import PAGE_SIZE, Page, page_number


def list_page(fetch, query) -> Page:
    """Run a ``services.lists`` query for the page asked for in the URL; the pager's view of the result."""
    query.page, query.per_page = page_number(), PAGE_SIZE
    found = fetch(query)
    return Page(found.items, found.page, found.pages, found.total, found.per_page, found.exact)


def unknown_choices(args, allowed: dict[str, object]) -> dict[str, list[str]]:
    """A list filter's value that no form offers, named back at its field (a 422), never ignored."""
    return {name: ["Такого значения нет в списке."] for name, values in allowed.items()
            if args.get(name) and args.get(name) not in values}


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
