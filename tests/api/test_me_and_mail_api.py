"""Preferences, the iCalendar feed of deadlines, and the admin's mail log."""
from __future__ import annotations

from icalendar import Calendar

PROGRAM = "kotovsk-information-society"


def _send_request(it):
    response = it.post("/api/v1/requests", json={"program": PROGRAM, "subject": "Сведения о посещаемости",
                                                 "addressees": ["mfc"], "send": True})
    assert response.status_code == 201, response.json
    return response.json["requests"][0]


def test_reminder_mode_can_be_changed_and_bad_values_are_refused(as_user):
    mfc = as_user("mfc")
    assert mfc.get("/api/v1/me/preferences").json["reminder_mode"] == "digest"
    assert mfc.put("/api/v1/me/preferences", json={"reminder_mode": "single"}).json["reminder_mode"] == "single"
    bad = mfc.put("/api/v1/me/preferences", json={"reminder_mode": "never"})
    assert bad.status_code == 422 and "reminder_mode" in bad.json["error"]["fields"]
    assert mfc.get("/api/v1/me/preferences").json["reminder_mode"] == "single"


def test_calendar_feed_lists_open_deadlines_and_a_revoked_link_stops_working(as_user, app):
    it, mfc = as_user("it"), as_user("mfc")
    request = _send_request(it)
    issued = mfc.post("/api/v1/me/calendar-token")
    assert issued.status_code == 201
    anonymous = app.test_client()
    feed = anonymous.get(f"/api/v1/me/deadlines.ics?token={issued.json['token']}")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    events = [c for c in Calendar.from_ical(feed.data).walk("VEVENT")]
    assert len(events) == 1
    assert request["registration_number"]  # the feed names the request as people quote it
    assert str(events[0]["summary"]).startswith(f"Ответить: запрос {request['registration_number']} «")
    assert events[0]["dtstart"].dt.isoformat() == request["due_date"]
    assert mfc.client.delete("/api/v1/me/calendar-token",
                             headers={"Authorization": f"Bearer {mfc.token}"}).status_code == 204
    assert anonymous.get(f"/api/v1/me/deadlines.ics?token={issued.json['token']}").status_code == 404
    assert anonymous.get("/api/v1/me/deadlines.ics").status_code == 404


def test_mail_log_is_for_admins_only_and_shows_states(as_user):
    it = as_user("it")
    _send_request(it)
    assert as_user("mfc").get("/api/v1/mail").status_code == 403
    log = as_user("admin").get("/api/v1/mail")
    assert log.status_code == 200
    assert log.json["total"] == 2
    assert {m["state"] for m in log.json["items"]} == {"sent"}
    assert {m["recipient"] for m in log.json["items"]} == {"mfc@kotovsk.example", "mfc.staff@kotovsk.example"}
    assert as_user("admin").get("/api/v1/mail?state=failed").json["total"] == 0
    assert as_user("admin").get("/api/v1/mail?state=lost").status_code == 422
