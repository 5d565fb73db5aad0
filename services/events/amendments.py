"""Event handlers of amendments: who is told what. Each runs once per event (see services.events.outbox)."""
from __future__ import annotations


from services.adapters.mail import queue_email
from services.events.watchers import email_watchers
from services.models.amendments import Amendment
from services.amendments import current_passport
from services.registry import users_of
from services.adapters.formatting import format_date

# event -> (template, who is told)
AMENDMENT_MAIL = {
    "amendment.submit_for_review": ("amendment_submitted", "reviewers"),
    "amendment.revise": ("amendment_submitted", "reviewers"),  # only when it (re)enters review
    "amendment.rebase": ("amendment_submitted", "reviewers"),  # only when conflicts made a new revision
    "amendment.approve": ("amendment_decision", "executor"),
    "amendment.return": ("amendment_decision", "executor"),
    "amendment.adopt": ("amendment_adopted", "all"),
    "amendment.withdraw": ("amendment_withdrawn", "reviewers"),
}


def _wanted(event) -> bool:
    p = event.payload
    if event.type == "amendment.revise":
        return p.get("to") == "under_review"
    if event.type == "amendment.rebase":
        return bool(p.get("revision_bumped")) and p.get("to") == "under_review"
    if event.type == "amendment.withdraw":
        return p.get("from") != "draft"
    return True


def email_amendment_parties(uow, event, services) -> None:
    if not _wanted(event):
        return
    template, who = AMENDMENT_MAIL[event.type]
    amendment = uow.session.get(Amendment, event.payload["item_id"])
    if amendment is None:
        return
    passport = current_passport(uow.session, amendment)
    if who == "reviewers":
        codes = list(passport.reviewers)
    elif who == "executor":
        codes = [passport.executor]
    elif who == "pending":
        codes = list(event.payload.get("pending") or ())
    else:
        codes = [d.code for d in passport.departments]
    names = {d.code: d.name for d in passport.departments}
    context = {
        "amendment": amendment, "event": event.payload, "program_title": passport.title,
        "department_name": names.get(event.payload.get("department") or "", event.payload.get("department")),
        "due": format_date(amendment.due_date),
        "resolution_date": format_date(event.payload.get("resolution_date")),
    }
    seen = set()
    for user in (u for code in codes for u in users_of(uow.session, code=code)):
        if user.email in seen:
            continue
        seen.add(user.email)
        queue_email(uow, services, dedupe_key=f"{event.id}:{user.email}", recipient=user.email,
                    template=template, context={**context, "user": user})
    email_watchers(uow, services, event, kind="amendment", item_id=amendment.id, template=template,
                   context=context, already=seen)
