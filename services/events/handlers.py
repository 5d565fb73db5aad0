"""Who reacts to which event: the one table (cosmicpython's EVENT_HANDLERS).

An event type missing here has no listener: the unit of work stores it complete
and rings no bell. A handler's name is what its ``handled_events`` marks record,
so a name never changes once events were handled under it.
"""
from __future__ import annotations

from services.events import amendments, discussion, reminders, reports, requests
from services.events.outbox import Handler

EMAIL_REQUEST_PARTIES = Handler("mail.information_request", requests.email_request_parties)
COMPLETE_REPORT_COLLECTION = Handler("reports.collection", reports.complete_collection)
EMAIL_REPORT_PARTIES = Handler("mail.report", reports.email_report_parties)
EMAIL_AMENDMENT_PARTIES = Handler("mail.amendment", amendments.email_amendment_parties)
SEND_REMINDERS = Handler("mail.reminders", reminders.send_reminders)
EMAIL_DISCUSSION = Handler("mail.discussion", discussion.email_discussion)

EVENT_HANDLERS: dict[str, tuple[Handler, ...]] = {
    "information_request.send": (EMAIL_REQUEST_PARTIES,),
    "information_request.answer": (EMAIL_REQUEST_PARTIES,),
    "information_request.request_clarification": (EMAIL_REQUEST_PARTIES,),
    "information_request.accept": (EMAIL_REQUEST_PARTIES, COMPLETE_REPORT_COLLECTION),
    "information_request.withdraw": (EMAIL_REQUEST_PARTIES,),
    "information_request.extend_deadline": (EMAIL_REQUEST_PARTIES,),
    "information_request.delegate": (EMAIL_REQUEST_PARTIES,),
    "report.collection_complete": (EMAIL_REPORT_PARTIES,),
    "report.submit": (EMAIL_REPORT_PARTIES,),
    "report.resubmit": (EMAIL_REPORT_PARTIES,),
    "report.return": (EMAIL_REPORT_PARTIES,),
    "report.accept": (EMAIL_REPORT_PARTIES,),
    "report.publish": (EMAIL_REPORT_PARTIES,),
    "amendment.submit_for_review": (EMAIL_AMENDMENT_PARTIES,),
    "amendment.revise": (EMAIL_AMENDMENT_PARTIES,),
    "amendment.rebase": (EMAIL_AMENDMENT_PARTIES,),
    "amendment.approve": (EMAIL_AMENDMENT_PARTIES,),
    "amendment.return": (EMAIL_AMENDMENT_PARTIES,),
    "amendment.adopt": (EMAIL_AMENDMENT_PARTIES,),
    "amendment.withdraw": (EMAIL_AMENDMENT_PARTIES,),
    "reminders.due": (SEND_REMINDERS,),
    "comment.added": (EMAIL_DISCUSSION,),
    "attachment.added": (EMAIL_DISCUSSION,),
}
