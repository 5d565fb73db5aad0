"""Event handlers of progress reports: the automatic end of collection, and who is emailed what."""
from __future__ import annotations


from services.adapters.mail import queue_email
from services.events.watchers import email_watchers
from services.models.reports import Report
from services import reports as rp
from services.registry import users_of
from services.adapters.formatting import format_date


def complete_collection(uow, event, services) -> None:
    """A co-executor's answer accepted: if it was the report's last, the report becomes ready."""
    rp.on_request_accepted(uow, services, event.payload["item_id"])


# event -> (template, who is told: "executor" and/or "reviewers")
REPORT_MAIL = {
    "report.collection_complete": ("report_ready", ("executor",)),
    "report.submit": ("report_submitted", ("reviewers",)),
    "report.resubmit": ("report_submitted", ("reviewers",)),
    "report.return": ("report_returned", ("executor",)),
    "report.accept": ("report_accepted", ("executor",)),
    "report.publish": ("report_published", ("executor", "reviewers")),
}


def email_report_parties(uow, event, services) -> None:
    template, whom = REPORT_MAIL[event.type]
    report = uow.session.get(Report, event.payload["item_id"])
    if report is None:
        return
    passport = rp.version_in_force(uow.session, report.program, rp.period_bounds(report)[1]).passport
    codes = []
    if "executor" in whom:
        codes.append(passport.executor)
    if "reviewers" in whom:
        codes.append(rp.ECONOMIC_POLICY_DEPARTMENT)
    context = {"report": report, "event": event.payload, "program": report.program,
               "period": rp.period_label(report), "due": format_date(report.due_date),
               "comment": event.payload.get("comment") or ""}
    seen = set()
    for code in codes:
        for user in users_of(uow.session, code=code):
            if user.email in seen:
                continue
            seen.add(user.email)
            queue_email(uow, services, dedupe_key=f"{event.id}:{user.email}", recipient=user.email,
                        template=template, context={**context, "user": user})
    email_watchers(uow, services, event, kind="report", item_id=report.id, template=template, context=context,
                   already=seen)
