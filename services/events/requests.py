"""Event handlers: who is told what when a request moves. Each runs once per event."""
from __future__ import annotations


from services.adapters.mail import queue_email
from services.events.watchers import email_watchers
from services.information_requests import deadline_of
from services.models.registry import Department, User
from services.models.requests import InformationRequest
from services.registry import users_of
from services.adapters.formatting import format_date

# event -> (template, who is told). A missed deadline is told by the reminder ladder
# (services/reminders.py and services/events/reminders.py: "overdue" and "escalation" steps), not here.
REQUEST_MAIL = {
    "information_request.send": ("request_sent", "addressee"),
    "information_request.answer": ("request_answered", "requester"),
    "information_request.request_clarification": ("request_clarification", "addressee"),
    "information_request.accept": ("request_accepted", "addressee"),
    "information_request.withdraw": ("request_withdrawn", "addressee"),
    "information_request.extend_deadline": ("request_extended", "addressee"),
    "information_request.delegate": ("request_delegated", "assignee"),
}


def _recipients(session, req: InformationRequest, who: str) -> list[User]:
    if who == "assignee":
        return [req.assignee] if req.assignee else []
    if who == "requester":
        return [req.thread.created_by]
    addressees = [req.assignee] if req.assignee else users_of(session, req.department_id)
    if who == "both":
        return addressees + [req.thread.created_by]
    return addressees


def email_request_parties(uow, event, services) -> None:
    template, who = REQUEST_MAIL[event.type]
    req = uow.session.get(InformationRequest, event.payload["item_id"])
    if req is None:
        return
    deadline = deadline_of(services, req)
    requester_dept = uow.session.get(Department, req.thread.requester_department_id)
    context = {"req": req, "thread": req.thread, "event": event.payload, "deadline": deadline,
               "requester": requester_dept, "due": format_date(req.due_date)}
    seen = set()
    for user in _recipients(uow.session, req, who):
        if user is None or user.email in seen:
            continue
        seen.add(user.email)
        queue_email(
            uow, services,
            dedupe_key=f"{event.id}:{user.email}",
            recipient=user.email,
            template=template,
            item=f"information_request:{req.id}",
            context={**context, "user": user},
        )
    email_watchers(uow, services, event, kind="request", item_id=req.id, template=template, context=context,
                   already=seen, item=f"information_request:{req.id}")
