"""The table of who reacts to what, written here by hand: a change to it must be a reviewed change."""
from services.events.handlers import EVENT_HANDLERS

EXPECTED = {
    "information_request.send": ["mail.information_request"],
    "information_request.answer": ["mail.information_request"],
    "information_request.request_clarification": ["mail.information_request"],
    "information_request.accept": ["mail.information_request", "reports.collection"],
    "information_request.withdraw": ["mail.information_request"],
    "information_request.extend_deadline": ["mail.information_request"],
    "information_request.delegate": ["mail.information_request"],
    "report.collection_complete": ["mail.report"],
    "report.submit": ["mail.report"],
    "report.resubmit": ["mail.report"],
    "report.return": ["mail.report"],
    "report.accept": ["mail.report"],
    "report.publish": ["mail.report"],
    "amendment.submit_for_review": ["mail.amendment"],
    "amendment.revise": ["mail.amendment"],
    "amendment.rebase": ["mail.amendment"],
    "amendment.approve": ["mail.amendment"],
    "amendment.return": ["mail.amendment"],
    "amendment.adopt": ["mail.amendment"],
    "amendment.withdraw": ["mail.amendment"],
    "reminders.due": ["mail.reminders"],
    "comment.added": ["mail.discussion"],
    "attachment.added": ["mail.discussion"],
}


def test_event_handlers_table_is_exactly_the_reviewed_one():
    assert {t: [h.name for h in hs] for t, hs in EVENT_HANDLERS.items()} == EXPECTED


def test_events_without_a_listener_are_not_in_the_table():
    for quiet in ("information_request.created", "information_request.deadline_missed", "report.created",
                  "amendment.created", "report.start_collection"):
        assert quiet not in EVENT_HANDLERS


def test_every_listened_event_type_names_a_real_transition_or_sweep():
    from workflows.amendment import AMENDMENT
    from workflows.information_request import INFORMATION_REQUEST
    from workflows.report import REPORT

    known = {f"{w.name}.{event}" for w in (INFORMATION_REQUEST, REPORT, AMENDMENT) for event in w.permissions}
    known |= {"reminders.due", "report.collection_complete", "comment.added", "attachment.added"}
    assert set(EVENT_HANDLERS) <= known, set(EVENT_HANDLERS) - known
