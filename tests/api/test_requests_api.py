"""Information requests through the HTTP API, as each demo user.

Who may do what is written out by hand below (from issue 3), per user and per
state; every allowed and every refused transition is fired over HTTP, and every
refusal is checked to leave the stored state and history as they were.
"""
from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email import message_from_bytes

import pytest
from sqlalchemy import func, select, update

from services import deadlines
from services.models.registry import IndicatorActual, User
from services.models.workflow import HandledEvent, OutboxEvent

SLUG = "kotovsk-information-society"
STATES = ("draft", "sent", "answered", "clarification_requested", "accepted", "withdrawn")
EVENTS = ("send", "answer", "request_clarification", "accept", "withdraw", "delegate", "extend_deadline")

# A request from `it` to `mfc`. Who each demo user is to it:
#   it, it_staff, admin (a user of `it`): the requesting department;
#   mfc: head of the addressee; mfc_staff: the addressee;
#   econ, finance: nobody (the request is not theirs to see: 404).
ROLE_OF = {
    "it": "requester", "it_staff": "requester", "admin": "requester",
    "mfc": "addressee_head", "mfc_staff": "addressee",
    "econ": "stranger", "finance": "stranger",
}
WHO = {
    "send": {"requester"},
    "answer": {"addressee", "addressee_head"},
    "request_clarification": {"requester"},
    "accept": {"requester"},
    "withdraw": {"requester"},
    "delegate": {"addressee_head"},
    "extend_deadline": {"requester"},
}
# (state, event) -> target state
ALLOWED = {
    ("draft", "send"): "sent",
    ("draft", "withdraw"): "withdrawn",
    ("sent", "answer"): "answered",
    ("sent", "withdraw"): "withdrawn",
    ("sent", "delegate"): "sent",
    ("sent", "extend_deadline"): "sent",
    ("answered", "request_clarification"): "clarification_requested",
    ("answered", "accept"): "accepted",
    ("answered", "withdraw"): "withdrawn",
    ("clarification_requested", "answer"): "answered",
    ("clarification_requested", "withdraw"): "withdrawn",
    ("clarification_requested", "delegate"): "clarification_requested",
    ("clarification_requested", "extend_deadline"): "clarification_requested",
}


# --- helpers ---------------------------------------------------------------------

def user_id(services, short: str) -> int:
    email = short.replace("_", ".") + "@kotovsk.example"
    with services.uow() as uow:
        return uow.session.execute(select(User.id).where(User.email == email)).scalar_one()


def create(as_user, who="it", addressees=("mfc",), send=True, **extra) -> dict:
    body = {"program": SLUG, "subject": "Сведения о работе МФЦ", "body": "Прошу представить данные.",
            "addressees": list(addressees), "send": send, **extra}
    response = as_user(who).post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fire(as_user, who, request_id, event, **body):
    return as_user(who).post(f"/api/v1/requests/{request_id}/transitions", json={"event": event, **body})


def body_for(services, event: str) -> dict:
    return {
        "answer": {"data": {"text": "Данные прилагаем."}},
        "request_clarification": {"comment": "Уточните данные за 2016 год."},
        "delegate": {"assignee_id": user_id(services, "mfc_staff")},
        "extend_deadline": {"working_days": 3, "comment": "Данные в архиве."},
    }.get(event, {})


PATHS = {
    "draft": [],
    "sent": [("it", "send")],
    "answered": [("it", "send"), ("mfc_staff", "answer")],
    "clarification_requested": [("it", "send"), ("mfc_staff", "answer"), ("it", "request_clarification")],
    "accepted": [("it", "send"), ("mfc_staff", "answer"), ("it", "accept")],
    "withdrawn": [("it", "withdraw")],
}


def request_in(as_user, services, state: str, addressees=("mfc",)) -> int:
    request_id = create(as_user, send=False, addressees=addressees)["requests"][0]["id"]
    for who, event in PATHS[state]:
        response = fire(as_user, who, request_id, event, **body_for(services, event))
        assert response.status_code == 200, (who, event, response.get_json())
    assert get(as_user, "it", request_id)["state"] == state
    return request_id


def get(as_user, who, request_id) -> dict:
    response = as_user(who).get(f"/api/v1/requests/{request_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def history(as_user, who, request_id) -> list[dict]:
    response = as_user(who).get(f"/api/v1/requests/{request_id}/history")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def snapshot(as_user, request_id):
    view = get(as_user, "it", request_id)
    return (view["state"], view["version"], view["due_date"], view["assignee_id"], view["answer"],
            len(history(as_user, "it", request_id)))


def outbox_count(services, type_=None) -> int:
    with services.uow() as uow:
        query = select(func.count()).select_from(OutboxEvent)
        if type_:
            query = query.where(OutboxEvent.type == type_)
        return uow.session.execute(query).scalar_one()


def expected_allowed(state, role) -> list[str]:
    return sorted(e for (s, e) in ALLOWED if s == state and role in WHO[e])


# --- creating and fan-out ------------------------------------------------------------

def test_create_and_send_to_one_department(as_user):
    created = create(as_user)
    (copy,) = created["requests"]
    assert copy["department"] == "mfc"
    assert copy["requester_department"] == "it"
    assert copy["state"] == "sent"
    assert copy["working_days"] == 5
    assert copy["due_date"] and copy["due_at"] and copy["sent_at"]
    assert copy["deadline_explanation"]
    assert copy["thread"] == created["thread"]
    assert sorted(copy["allowed_events"]) == expected_allowed("sent", "requester")
    assert [h["event"] for h in history(as_user, "it", copy["id"])] == ["send"]


def test_create_stays_in_draft_by_default(as_user):
    (copy,) = create(as_user, send=False)["requests"]
    assert copy["state"] == "draft"
    assert copy["due_date"] is None and copy["due_at"] is None
    assert history(as_user, "it", copy["id"]) == []


def test_fan_out_to_two_departments(as_user):
    created = create(as_user, addressees=("mfc", "finance"))
    copies = created["requests"]
    assert [c["department"] for c in copies] == ["mfc", "finance"]
    assert len({c["id"] for c in copies}) == 2
    assert {c["thread"] for c in copies} == {created["thread"]}
    assert all(c["state"] == "sent" for c in copies)

    mfc_copy, fin_copy = (c["id"] for c in copies)
    assert fire(as_user, "mfc", mfc_copy, "answer", data={"text": "Ответ МФЦ"}).status_code == 200

    # The requester sees the copies together with per-department status.
    listed = as_user("it").get(f"/api/v1/requests?thread={created['thread']}").get_json()
    assert listed["total"] == 2
    assert {i["department"]: i["state"] for i in listed["items"]} == {"mfc": "answered", "finance": "sent"}
    # Each addressee sees only its own copy.
    for who, dept in (("mfc", "mfc"), ("finance", "finance")):
        mine = as_user(who).get(f"/api/v1/requests?thread={created['thread']}").get_json()
        assert [i["department"] for i in mine["items"]] == [dept]
    # One department's answer is not the other's.
    assert fire(as_user, "finance", mfc_copy, "answer", data={"text": "x"}).status_code == 404
    assert fire(as_user, "mfc", fin_copy, "answer", data={"text": "x"}).status_code == 404


def test_only_creator_roles_may_create(as_user):
    for who in ("mfc", "mfc_staff"):
        response = as_user(who).post("/api/v1/requests", json={
            "program": SLUG, "subject": "s", "addressees": ["it"]})
        assert response.status_code == 403, who
    for who, to in (("econ", "it"), ("finance", "mfc")):
        assert create(as_user, who=who, addressees=(to,))["requests"][0]["state"] == "sent"


def test_create_refuses_bad_addressees(as_user):
    for addressees, status in ((["nowhere"], 422), (["it"], 422), ([], 422)):
        response = as_user("it").post("/api/v1/requests", json={
            "program": SLUG, "subject": "s", "addressees": addressees})
        assert response.status_code == status, addressees
        assert "addressees" in response.get_json()["error"]["fields"]


# --- every transition, per user and per state ------------------------------------------

MATRIX = [pytest.param(state, user, id=f"{state}-{user}") for state in STATES for user in ROLE_OF]


@pytest.mark.parametrize("state,user", MATRIX)
def test_transition_matrix(as_user, services, state, user):
    role = ROLE_OF[user]
    never_sent = not any(event == "send" for _, event in PATHS[state])
    if never_sent and role.startswith("addressee"):
        role = "stranger"  # a copy never sent is the requester's only (it is 404 to the addressee)
    request_id = request_in(as_user, services, state)
    for event in EVENTS:
        before = snapshot(as_user, request_id)
        response = fire(as_user, user, request_id, event, **body_for(services, event))
        error = (response.get_json() or {}).get("error", {})
        target = ALLOWED.get((state, event))
        if role == "stranger":
            assert response.status_code == 404, (event, response.get_json())
        elif role not in WHO[event]:
            assert response.status_code == 403, (event, response.get_json())
            assert error["code"] == "forbidden"
        elif target is None:
            assert response.status_code == 409, (event, response.get_json())
            assert sorted(error["allowed_events"]) == expected_allowed(state, role)
        else:
            assert response.status_code == 200, (event, response.get_json())
            assert response.get_json()["state"] == target
            last = history(as_user, "it", request_id)[-1]
            assert (last["event"], last["from"], last["to"]) == (event, state, target)
            assert len(history(as_user, "it", request_id)) == before[-1] + 1
            # Back to a fresh copy in the state under test for the next event.
            request_id = request_in(as_user, services, state)
            continue
        assert snapshot(as_user, request_id) == before, event


def test_allowed_events_shown_per_caller(as_user, services):
    request_id = request_in(as_user, services, "sent")
    for user in ("it", "mfc", "mfc_staff"):
        assert sorted(get(as_user, user, request_id)["allowed_events"]) == expected_allowed("sent", ROLE_OF[user])


def test_unknown_event_is_422(as_user):
    request_id = create(as_user)["requests"][0]["id"]
    response = fire(as_user, "it", request_id, "approve")
    assert response.status_code == 422
    assert "event" in response.get_json()["error"]["fields"]


def test_clarification_without_comment_is_422_and_changes_nothing(as_user, services):
    request_id = request_in(as_user, services, "answered")
    before = snapshot(as_user, request_id)
    response = fire(as_user, "it", request_id, "request_clarification", comment="  ")
    assert response.status_code == 422
    assert "comment" in response.get_json()["error"]["fields"]
    assert snapshot(as_user, request_id) == before


@pytest.mark.parametrize("body,field", [
    ({"working_days": 0, "comment": "причина"}, "working_days"),
    ({"working_days": 61, "comment": "причина"}, "working_days"),
    ({"comment": "причина"}, "working_days"),
    ({"working_days": 3}, "comment"),
])
def test_bad_extension_is_422_and_changes_nothing(as_user, services, body, field):
    request_id = request_in(as_user, services, "sent")
    before = snapshot(as_user, request_id)
    response = fire(as_user, "it", request_id, "extend_deadline", **body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert snapshot(as_user, request_id) == before


def test_data_refused_on_events_that_take_none(as_user):
    request_id = create(as_user)["requests"][0]["id"]
    response = fire(as_user, "it", request_id, "withdraw", data={"x": 1})
    assert response.status_code == 422
    assert get(as_user, "it", request_id)["state"] == "sent"


# --- structured answers and indicator actuals -------------------------------------------

FORM = [
    {"key": "users_2016", "label": "Число пользователей в 2016 году", "type": "decimal", "required": True,
     "indicator": "I3", "period": "2016"},
    {"key": "windows", "label": "Число окон", "type": "integer", "required": True},
    {"key": "note", "label": "Пояснение", "type": "text", "required": False},
    {"key": "as_of", "label": "По состоянию на", "type": "date", "required": False},
]


def structured(as_user) -> int:
    return create(as_user, form=FORM)["requests"][0]["id"]


@pytest.mark.parametrize("data,field", [
    ({"windows": 12}, "data.users_2016"),
    ({"users_2016": "12.5"}, "data.windows"),
    ({"users_2016": "много", "windows": 12}, "data.users_2016"),
    ({"users_2016": "12.5", "windows": "двенадцать"}, "data.windows"),
    ({"users_2016": "12.5", "windows": 12.5}, "data.windows"),
    ({"users_2016": "12.5", "windows": 12, "as_of": "31.12.2016"}, "data.as_of"),
    ({"users_2016": "12.5", "windows": 12, "bogus": 1}, "data.bogus"),
    ({"users_2016": None, "windows": 12}, "data.users_2016"),
    # What NUMERIC(20, 4) would not hold is refused, not rounded or failed at acceptance.
    ({"users_2016": "1E+30", "windows": 12}, "data.users_2016"),
    ({"users_2016": "1e999999", "windows": 12}, "data.users_2016"),
    ({"users_2016": "0.00001", "windows": 12}, "data.users_2016"),
    ({"users_2016": "NaN", "windows": 12}, "data.users_2016"),
    ({"users_2016": "12.5", "windows": 10 ** 17}, "data.windows"),
])
def test_bad_answer_is_422_naming_the_field(as_user, data, field):
    request_id = structured(as_user)
    before = snapshot(as_user, request_id)
    response = fire(as_user, "mfc_staff", request_id, "answer", data=data)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert field in error["fields"], error
    assert field in error["message"]
    assert snapshot(as_user, request_id) == before
    assert get(as_user, "mfc_staff", request_id)["answer"] is None


def test_answer_without_form_needs_text(as_user):
    request_id = create(as_user)["requests"][0]["id"]
    for data, field in (({}, "data.text"), ({"text": " "}, "data.text"), ({"value": 1}, "data.value")):
        response = fire(as_user, "mfc", request_id, "answer", data=data)
        assert response.status_code == 422, data
        assert field in response.get_json()["error"]["fields"]
    assert get(as_user, "it", request_id)["state"] == "sent"


def test_bad_form_is_refused_at_creation(as_user):
    response = as_user("it").post("/api/v1/requests", json={
        "program": SLUG, "subject": "s", "addressees": ["mfc"],
        "form": [{"key": "v", "label": "v", "type": "decimal", "indicator": "I99", "period": "2016"}]})
    assert response.status_code == 422
    assert "form[0].indicator" in response.get_json()["error"]["fields"]


def test_accepted_answer_becomes_indicator_actual(as_user, services):
    request_id = structured(as_user)
    response = fire(as_user, "mfc_staff", request_id, "answer",
                    data={"users_2016": "12.50", "windows": 12, "note": "без замечаний", "as_of": "2016-12-31"})
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()["answer"]
    assert answer["data"] == {"users_2016": "12.50", "windows": 12, "note": "без замечаний",
                              "as_of": "2016-12-31"}

    def actuals():
        program = as_user("econ").get(f"/api/v1/programs/{SLUG}").get_json()
        return {i["code"]: i["actuals"] for i in program["indicators"]}

    assert actuals()["I3"] == {}  # not before acceptance
    assert fire(as_user, "it", request_id, "accept").status_code == 200
    got = actuals()
    assert got["I3"] == {"2016": "12.5"}
    assert all(v == {} for code, v in got.items() if code != "I3")
    it_id = user_id(services, "it")
    with services.uow() as uow:
        row = uow.session.execute(select(IndicatorActual).where(IndicatorActual.indicator == "I3")).scalar_one()
        assert row.value == Decimal("12.5")
        assert row.period == "2016"
        assert row.source_request_id == request_id
        assert row.source_answer_id == answer["id"]
        assert row.recorded_by_id == it_id


def test_largest_storable_value_round_trips(as_user):
    request_id = structured(as_user)
    value = "9999999999999999.9999"
    assert fire(as_user, "mfc", request_id, "answer", data={"users_2016": value, "windows": 1}).status_code == 200
    assert fire(as_user, "it", request_id, "accept").status_code == 200
    program = as_user("it").get(f"/api/v1/programs/{SLUG}").get_json()
    (i3,) = [i for i in program["indicators"] if i["code"] == "I3"]
    assert i3["actuals"] == {"2016": value}


def test_clarified_answer_is_the_one_accepted(as_user):
    request_id = structured(as_user)
    assert fire(as_user, "mfc", request_id, "answer", data={"users_2016": "10", "windows": 1}).status_code == 200
    assert fire(as_user, "it", request_id, "request_clarification", comment="Проверьте").status_code == 200
    assert fire(as_user, "mfc", request_id, "answer", data={"users_2016": "11.25", "windows": 1}).status_code == 200
    assert fire(as_user, "it", request_id, "accept").status_code == 200
    program = as_user("it").get(f"/api/v1/programs/{SLUG}").get_json()
    (i3,) = [i for i in program["indicators"] if i["code"] == "I3"]
    assert i3["actuals"] == {"2016": "11.25"}


# --- visibility ----------------------------------------------------------------------

def test_co_executor_cannot_see_another_departments_request(as_user):
    request_id = create(as_user, addressees=("finance",))["requests"][0]["id"]
    mfc = as_user("mfc")
    for url in (f"/api/v1/requests/{request_id}", f"/api/v1/requests/{request_id}/history"):
        response = mfc.get(url)
        assert response.status_code == 404, url
        body = response.get_json()
        assert body["error"]["code"] == "not_found"
        assert "Сведения" not in str(body)  # nothing of the title leaks
    for event in EVENTS:
        assert fire(as_user, "mfc", request_id, event).status_code == 404, event
    assert request_id not in [i["id"] for i in mfc.get("/api/v1/requests").get_json()["items"]]
    assert request_id not in [i["id"] for i in mfc.get("/api/v1/inbox").get_json()["items"]]
    # ...while the addressee and the requester do see it.
    assert get(as_user, "finance", request_id)["department"] == "finance"
    assert get(as_user, "it", request_id)["department"] == "finance"


def test_unknown_request_is_404(as_user):
    assert as_user("it").get("/api/v1/requests/999999").status_code == 404
    assert fire(as_user, "it", 999999, "send").status_code == 404


# --- deadlines: overdue, sweep, extension ------------------------------------------------

def missed_events(services, request_id=None) -> list[dict]:
    with services.uow() as uow:
        rows = uow.session.execute(
            select(OutboxEvent.payload).where(OutboxEvent.type == "information_request.deadline_missed")
        ).scalars().all()
    return [p for p in rows if request_id is None or p["item_id"] == request_id]


def missed_by_sweep(services, now) -> int:
    """Run the sweep; how many deadline_missed events it recorded (it may do other work too)."""
    before = len(missed_events(services))
    deadlines.sweep(services, now=now)
    return len(missed_events(services)) - before


def test_fan_out_one_answered_one_overdue(as_user, services, monkeypatch):
    copies = create(as_user, addressees=("mfc", "finance"))["requests"]
    mfc_copy, fin_copy = (c["id"] for c in copies)
    assert fire(as_user, "mfc", mfc_copy, "answer", data={"text": "Ответ"}).status_code == 200

    future = datetime.fromisoformat(copies[1]["due_at"]) + timedelta(days=1)
    assert missed_by_sweep(services, now=future) == 1
    assert [e["item_id"] for e in missed_events(services)] == [fin_copy]
    # A second sweep records nothing more for the same deadline revision.
    assert missed_by_sweep(services, now=future) == 0
    assert missed_by_sweep(services, now=future + timedelta(days=30)) == 0
    assert len(missed_events(services)) == 1

    # Seen from the API at that time: the finance copy is overdue, the answered one is not.
    import services.information_requests as ir

    monkeypatch.setattr(ir, "utcnow", lambda: future, raising=False)
    monkeypatch.setattr(services, "clock", lambda: future, raising=False)
    assert get(as_user, "it", fin_copy)["overdue"] is True
    assert get(as_user, "it", mfc_copy)["overdue"] is False
    overdue = as_user("it").get("/api/v1/requests?overdue=true").get_json()
    assert [i["id"] for i in overdue["items"]] == [fin_copy]
    not_overdue = as_user("it").get("/api/v1/requests?overdue=false").get_json()
    assert [i["id"] for i in not_overdue["items"]] == [mfc_copy]


def test_nothing_is_overdue_before_the_due_time(as_user, services):
    (copy,) = create(as_user)["requests"]
    due_at = datetime.fromisoformat(copy["due_at"])
    assert missed_by_sweep(services, now=due_at) == 0
    assert missed_by_sweep(services, now=due_at - timedelta(days=2)) == 0
    assert missed_events(services) == []


def test_answered_copy_is_paused_and_never_overdue(as_user, services):
    (copy,) = create(as_user)["requests"]
    assert fire(as_user, "mfc", copy["id"], "answer", data={"text": "Ответ"}).status_code == 200
    view = get(as_user, "it", copy["id"])
    assert view["paused"] is True
    assert missed_by_sweep(services, now=datetime.fromisoformat(copy["due_at"]) + timedelta(days=60)) == 0


def test_clarification_restarts_the_clock(as_user, services):
    (copy,) = create(as_user)["requests"]
    assert fire(as_user, "mfc", copy["id"], "answer", data={"text": "Ответ"}).status_code == 200
    assert fire(as_user, "it", copy["id"], "request_clarification", comment="Уточните").status_code == 200
    view = get(as_user, "it", copy["id"])
    assert view["paused"] is False
    assert view["due_at"] is not None
    # Answered and clarified on the day of sending: the full term is left, counted from today.
    today = datetime.fromisoformat(view["sent_at"]).astimezone(services.tz).date()
    assert view["due_date"] == services.calendar.add_working_days(today, 5).isoformat()
    assert "Возобновление" in view["deadline_explanation"]


def at(services, monkeypatch, y, m, d, hh=10):
    """Act at 10:00 Moscow time on a chosen day."""
    from zoneinfo import ZoneInfo

    instant = datetime(y, m, d, hh, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(timezone.utc)
    monkeypatch.setattr(services, "clock", lambda: instant, raising=False)
    return instant


def test_clarification_pause_gives_back_the_days_left_at_answer(as_user, services, monkeypatch):
    # Sent Friday 31.10.2025; 5 working days: 01.11 (a working Saturday), 05.11, 06.11, 07.11, 10.11.
    at(services, monkeypatch, 2025, 10, 31)
    (copy,) = create(as_user)["requests"]
    assert copy["due_date"] == "2025-11-10"
    # Answered on 05.11: that day is used, 06.11, 07.11 and 10.11 are left.
    at(services, monkeypatch, 2025, 11, 5)
    view = fire(as_user, "mfc", copy["id"], "answer", data={"text": "Ответ"}).get_json()
    assert view["paused"] is True
    assert view["overdue"] is False
    # The clock is stopped: the old due date passing while answered is not a miss.
    assert missed_by_sweep(services, now=at(services, monkeypatch, 2025, 11, 19)) == 0
    # Clarification asked on Thursday 20.11: the 3 days run again, 21.11, 24.11, 25.11.
    at(services, monkeypatch, 2025, 11, 20)
    view = fire(as_user, "it", copy["id"], "request_clarification", comment="Уточните").get_json()
    assert view["paused"] is False
    assert view["due_date"] == "2025-11-25"
    assert "3 рабочих дня" in view["deadline_explanation"]
    assert missed_by_sweep(services, now=at(services, monkeypatch, 2025, 11, 25, 23)) == 0
    now = at(services, monkeypatch, 2025, 11, 26)
    assert get(as_user, "it", copy["id"])["overdue"] is True
    assert missed_by_sweep(services, now=now) == 1
    assert [e["due_date"] for e in missed_events(services, copy["id"])] == ["2025-11-25"]
    # Answering again pauses the clock: no longer overdue.
    assert fire(as_user, "mfc", copy["id"], "answer", data={"text": "Уточнено"}).status_code == 200
    assert get(as_user, "it", copy["id"])["overdue"] is False


def test_extension_moves_the_due_date_by_working_days(as_user, services):
    (copy,) = create(as_user)["requests"]
    due = datetime.fromisoformat(copy["due_at"]).astimezone(services.tz).date()
    assert copy["due_date"] == due.isoformat()
    response = fire(as_user, "it", copy["id"], "extend_deadline", working_days=7, comment="Данные в архиве")
    assert response.status_code == 200, response.get_json()
    view = response.get_json()
    assert view["due_date"] == services.calendar.add_working_days(due, 7).isoformat()
    assert "Продление на 7 рабочих дней" in view["deadline_explanation"]
    assert "Данные в архиве" in view["deadline_explanation"]


def test_extension_after_a_missed_deadline_is_recorded_again_when_missed(as_user, services):
    (copy,) = create(as_user)["requests"]
    first_due = datetime.fromisoformat(copy["due_at"])
    assert missed_by_sweep(services, now=first_due + timedelta(hours=1)) == 1
    extended = fire(as_user, "it", copy["id"], "extend_deadline", working_days=2, comment="Причина").get_json()
    new_due = datetime.fromisoformat(extended["due_at"])
    assert new_due > first_due
    assert missed_by_sweep(services, now=first_due + timedelta(hours=2)) == 0
    assert missed_by_sweep(services, now=new_due + timedelta(hours=1)) == 1
    assert missed_by_sweep(services, now=new_due + timedelta(hours=2)) == 0
    assert len(missed_events(services, copy["id"])) == 2


# --- delegation ------------------------------------------------------------------------

def test_head_delegates_to_a_colleague(as_user, services):
    request_id = create(as_user)["requests"][0]["id"]
    staff = user_id(services, "mfc_staff")
    response = fire(as_user, "mfc", request_id, "delegate", assignee_id=staff)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["assignee_id"] == staff
    assert response.get_json()["state"] == "sent"
    assert history(as_user, "mfc", request_id)[-1]["payload"]["assignee_id"] == staff


def test_staff_who_is_not_head_cannot_delegate(as_user, services):
    request_id = create(as_user)["requests"][0]["id"]
    before = snapshot(as_user, request_id)
    response = fire(as_user, "mfc_staff", request_id, "delegate", assignee_id=user_id(services, "mfc"))
    assert response.status_code == 403
    assert snapshot(as_user, request_id) == before


@pytest.mark.parametrize("other", ["it_staff", "finance"])
def test_cannot_delegate_outside_the_department(as_user, services, other):
    request_id = create(as_user)["requests"][0]["id"]
    before = snapshot(as_user, request_id)
    response = fire(as_user, "mfc", request_id, "delegate", assignee_id=user_id(services, other))
    assert response.status_code == 422, response.get_json()
    assert "assignee_id" in response.get_json()["error"]["fields"]
    assert snapshot(as_user, request_id) == before


def test_delegate_to_nobody_is_422(as_user):
    request_id = create(as_user)["requests"][0]["id"]
    for body in ({}, {"assignee_id": 999999}):
        response = fire(as_user, "mfc", request_id, "delegate", **body)
        assert response.status_code == 422, body
        assert "assignee_id" in response.get_json()["error"]["fields"]


# --- inbox, filters, pagination -----------------------------------------------------------

def test_inbox_most_urgent_first(as_user):
    ids = {days: create(as_user, working_days=days)["requests"][0]["id"] for days in (10, 2, 5)}
    draft = create(as_user, send=False)["requests"][0]["id"]
    mfc_inbox = [i["id"] for i in as_user("mfc").get("/api/v1/inbox").get_json()["items"]]
    assert mfc_inbox == [ids[2], ids[5], ids[10]]
    assert draft not in mfc_inbox
    assert fire(as_user, "mfc", ids[5], "answer", data={"text": "Ответ"}).status_code == 200
    assert [i["id"] for i in as_user("mfc").get("/api/v1/inbox").get_json()["items"]] == [ids[2], ids[10]]
    it_inbox = [i["id"] for i in as_user("it").get("/api/v1/inbox").get_json()["items"]]
    assert set(it_inbox) == {ids[5], draft}  # the answer to review and the draft to send
    assert as_user("finance").get("/api/v1/inbox").get_json()["items"] == []


def test_list_filters(as_user):
    one = create(as_user, addressees=("mfc", "finance"))
    two = create(as_user, addressees=("mfc",), send=False)
    it = as_user("it")

    def ids(query):
        response = it.get(f"/api/v1/requests{query}")
        assert response.status_code == 200, response.get_json()
        return sorted(i["id"] for i in response.get_json()["items"])

    all_ids = sorted([c["id"] for c in one["requests"]] + [c["id"] for c in two["requests"]])
    assert ids("") == all_ids
    assert ids(f"?thread={one['thread']}") == sorted(c["id"] for c in one["requests"])
    assert ids("?state=draft") == [two["requests"][0]["id"]]
    assert ids("?state=sent") == sorted(c["id"] for c in one["requests"])
    assert ids("?department=finance") == [one["requests"][1]["id"]]
    assert ids("?department=mfc&state=sent") == [one["requests"][0]["id"]]
    assert ids("?overdue=true") == []
    assert ids("?overdue=false") == all_ids
    assert it.get("/api/v1/requests?state=lost").status_code == 422


def test_pagination(as_user):
    made = [create(as_user)["requests"][0]["id"] for _ in range(5)]
    it = as_user("it")
    pages = [it.get(f"/api/v1/requests?page={p}&page_size=2").get_json() for p in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    seen = [i["id"] for p in pages for i in p["items"]]
    assert sorted(seen) == sorted(made) and len(set(seen)) == 5
    assert (pages[0]["page"], pages[0]["page_size"]) == (1, 2)
    for bad in ("page=0", "page_size=0", "page_size=1000", "page=x"):
        assert it.get(f"/api/v1/requests?{bad}").status_code == 422, bad


# --- emails ---------------------------------------------------------------------------

def eml_files(services):
    return sorted(services.settings.mail_dir.glob("*.eml"))


def recipients(services) -> list[str]:
    return sorted(message_from_bytes(p.read_bytes())["To"] for p in eml_files(services))


def test_send_emails_each_addressee_user_once(as_user, services):
    create(as_user)
    assert recipients(services) == ["mfc.staff@kotovsk.example", "mfc@kotovsk.example"]
    before = {p.name: p.read_bytes() for p in eml_files(services)}

    from services.events.outbox import handle_event, handlers_for, run_handler

    with services.uow() as uow:
        event = uow.session.execute(
            select(OutboxEvent).where(OutboxEvent.type == "information_request.send")).scalar_one()
        uow.session.expunge(event)
    # Redelivered: as a whole, and as a single handler run, and with the completion mark lost.
    assert handle_event(services, event.id) is True
    for handler in handlers_for(services, event.type):
        assert run_handler(services, event, handler) is False
    with services.uow() as uow:
        uow.session.execute(update(OutboxEvent).where(OutboxEvent.id == event.id).values(completed_at=None))
        uow.commit()
    assert handle_event(services, event.id) is True
    assert {p.name: p.read_bytes() for p in eml_files(services)} == before
    with services.uow() as uow:
        marks = uow.session.execute(select(func.count()).select_from(HandledEvent)
                                    .where(HandledEvent.event_id == event.id)).scalar_one()
    assert marks == len(handlers_for(services, event.type))


def test_fan_out_emails_each_department(as_user, services):
    create(as_user, addressees=("mfc", "finance"))
    assert recipients(services) == ["finance@kotovsk.example", "mfc.staff@kotovsk.example",
                                    "mfc@kotovsk.example"]


def test_answer_emails_the_requester(as_user, services):
    request_id = create(as_user, who="it_staff")["requests"][0]["id"]
    sent = set(p.name for p in eml_files(services))
    assert fire(as_user, "mfc", request_id, "answer", data={"text": "Ответ"}).status_code == 200
    new = [p for p in eml_files(services) if p.name not in sent]
    assert [message_from_bytes(p.read_bytes())["To"] for p in new] == ["it.staff@kotovsk.example"]


# --- attachments -----------------------------------------------------------------------

def upload(client, request_id, content: bytes, name: str, content_type="application/pdf"):
    return client.post(f"/api/v1/requests/{request_id}/attachments",
                       data={"file": (io.BytesIO(content), name, content_type)},
                       content_type="multipart/form-data")


def test_attachment_upload_and_download(as_user, services):
    request_id = create(as_user)["requests"][0]["id"]
    content = b"%PDF-1.4 report " + bytes(range(256)) * 4
    response = upload(as_user("mfc"), request_id, content, "Отчёт 2016.pdf")
    assert response.status_code == 201, response.get_json()
    att = response.get_json()
    assert att["sha256"] == hashlib.sha256(content).hexdigest()
    assert att["size"] == len(content)
    assert att["content_type"] == "application/pdf"
    assert att["filename"] == "Отчёт 2016.pdf"
    # Stored outside the database, named by checksum.
    assert (services.settings.uploads_dir / att["sha256"][:2] / att["sha256"]).read_bytes() == content
    assert [a["id"] for a in get(as_user, "it", request_id)["attachments"]] == [att["id"]]

    for who in ("it", "mfc_staff"):
        got = as_user(who).get(f"/api/v1/requests/{request_id}/attachments/{att['id']}")
        assert got.status_code == 200
        assert got.data == content
        assert hashlib.sha256(got.data).hexdigest() == att["sha256"]
        assert got.headers["Content-Type"].startswith("application/pdf")
        assert "attachment" in got.headers["Content-Disposition"]
    assert as_user("econ").get(f"/api/v1/requests/{request_id}/attachments/{att['id']}").status_code == 404
    assert upload(as_user("econ"), request_id, b"%PDF-1.4 x", "a.pdf").status_code == 404


def test_attachment_file_field_in_an_answer(as_user):
    form = [{"key": "scan", "label": "Скан", "type": "file", "required": True}]
    request_id = create(as_user, form=form)["requests"][0]["id"]
    other = create(as_user)["requests"][0]["id"]
    foreign = upload(as_user("mfc"), other, b"%PDF-1.4 other", "o.pdf").get_json()["id"]
    response = fire(as_user, "mfc", request_id, "answer", data={"scan": foreign})
    assert response.status_code == 422
    assert "data.scan" in response.get_json()["error"]["fields"]
    mine = upload(as_user("mfc"), request_id, b"%PDF-1.4 scan", "s.pdf").get_json()["id"]
    response = fire(as_user, "mfc", request_id, "answer", data={"scan": mine})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["answer"]["data"] == {"scan": mine}


@pytest.mark.parametrize("name,content,content_type", [
    ("setup.exe", b"MZ\x90\x00 not really", "application/octet-stream"),
    ("SETUP.EXE", b"hello", "application/octet-stream"),
    ("report.pdf", b"MZ\x90\x00", "application/pdf"),
    ("page.html", b"<script></script>", "text/html"),
])
def test_dangerous_files_are_refused(as_user, services, name, content, content_type):
    request_id = create(as_user)["requests"][0]["id"]
    response = upload(as_user("mfc"), request_id, content, name, content_type)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert "file" in error["fields"]
    assert get(as_user, "it", request_id)["attachments"] == []


def test_upload_without_a_file_is_422(as_user):
    request_id = create(as_user)["requests"][0]["id"]
    response = as_user("mfc").post(f"/api/v1/requests/{request_id}/attachments", data={},
                                   content_type="multipart/form-data")
    assert response.status_code == 422
    assert "file" in response.get_json()["error"]["fields"]


@pytest.fixture
def small_upload_client(services, tokens, tmp_path):
    """The same database behind an app whose upload limit is 1 KiB."""
    from services.web.app import create_app
    from tests.conftest import ApiClient, make_services, make_settings

    small = make_services(make_settings(tmp_path / "small", services.settings.database_url,
                                        INTERDEPT_MAX_UPLOAD_BYTES="1024"))
    app = create_app(services=small, test_config={"TESTING": True})
    client = app.test_client()
    yield small, (lambda who: ApiClient(client, tokens[who]))
    small.dispose()


def test_upload_over_the_limit_is_refused(as_user, small_upload_client):
    small, as_small = small_upload_client
    request_id = create(as_user)["requests"][0]["id"]
    assert upload(as_small("mfc"), request_id, b"%PDF-" + b"a" * 1019, "ok.pdf").status_code == 201
    response = upload(as_small("mfc"), request_id, b"%PDF-" + b"a" * 1020, "big.pdf")
    assert response.status_code == 422, response.get_json()
    assert "file" in response.get_json()["error"]["fields"]
    # Far over the limit: refused by the body-size guard, still as a JSON error.
    response = upload(as_small("mfc"), request_id, b"a" * (2 * 1024 * 1024), "huge.pdf")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"]
    assert len(get(as_user, "it", request_id)["attachments"]) == 1
    assert not list(small.settings.uploads_dir.rglob("*.part"))


def test_a_request_to_a_department_outside_the_program_is_refused(services, as_user):
    from services.registry import ensure_department

    with services.uow() as uow:
        ensure_department(uow, "culture", "Отдел культуры")
        uow.commit()
    response = as_user("it").post("/api/v1/requests", json={
        "program": "kotovsk-information-society", "subject": "Не по программе", "addressees": ["culture"]})
    assert response.status_code == 422
    assert "culture" in response.json["error"]["fields"]["addressees"][0]
    assert as_user("it").get("/api/v1/requests").json["total"] == 0
