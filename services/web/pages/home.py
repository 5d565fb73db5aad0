"""The home inbox: what my department must act on now, by urgency, and what it waits on from others."""
from __future__ import annotations

from datetime import timedelta

from flask import render_template

from services import information_requests as ir, lists
from services.web.pages.common import actor, bp, login_required, services
from services.web.pages.lists import department_names, open_amendments_for, open_reports_for


def _urgency(req, today):
    """(group, days late): overdue, today, this week, later, or paused/no deadline."""
    if req.due_date is None or req.due_at is None:
        return "later", 0
    if ir.is_request_overdue(req):
        return "overdue", max(1, (today - req.due_date).days)
    if req.due_date == today:
        return "today", 0
    if req.due_date <= today + timedelta(days=6 - today.weekday()):
        return "week", 0
    return "later", 0


@bp.route("/")
@login_required
def home():
    svc = services()
    me = actor()
    today = svc.now().astimezone(svc.tz).date()
    groups = {"overdue": [], "today": [], "week": [], "later": []}
    review = []
    with svc.uow() as uow:
        session = uow.session
        for req in ir.inbox(session, me):
            deadline = ir.deadline_of(svc, req)
            row = {"req": req, "deadline": deadline}
            if req.department.code == me.department:
                group, late = _urgency(req, today)
                row["late"] = late
                groups[group].append(row)
            else:
                review.append(row)
        waiting = []
        sent = lists.waiting_on_others(session, me)
        for req in sent.items:
            group, late = _urgency(req, today)
            waiting.append({"req": req, "deadline": ir.deadline_of(svc, req), "late": late, "group": group})
        reports = open_reports_for(session, me)
        # An overdue report is as late as an overdue request: it counts in "Просрочено", listed there.
        overdue_reports = [{**row, "late": max(1, (today - row["report"].due_date).days)}
                           for row in reports if row["overdue"]]
        reports = [row for row in reports if not row["overdue"]]
        amendments = open_amendments_for(session, me)
        names = department_names(session)
        return render_template("webui/home.html", groups=groups, review=review, waiting=waiting,
                               reports=reports, overdue_reports=overdue_reports, amendments=amendments,
                               names=names, today=today,
                               waiting_total=sent.total if sent.exact else f"более {sent.total - 1}",
                               overdue_total=len(groups["overdue"]) + len(overdue_reports),
                               total=sum(len(v) for v in groups.values()) + len(review) + len(overdue_reports))
