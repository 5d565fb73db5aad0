"""Sessions end on the server (logout, password change, deactivation) and a repeated POST does its
work once (``Idempotency-Key`` in the API, the one-time submission token in the web forms)."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from services import people
from services.models.base import utcnow
from services.models.mail import OutgoingEmail
from services.models.registry import User
from services.models.requests import Answer, InformationRequest, RequestThread
from services.models.sessions import IdempotencyKey, WebSession
from services.models.workflow import OutboxEvent, TransitionRecord
from services.registry import DEMO_PASSWORD
from tests.conftest import seed

SLUG = "kotovsk-information-society"
COOKIE = "interdept_session"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SUBMISSION = re.compile(r'name="submission_token" value="([^"]+)"')


@pytest.fixture
def web_app(app):
    app.config["WTF_CSRF_ENABLED"] = False  # the CSRF check has its own tests; here the session is the point
    return app


def sign_in(app, email: str):
    client = app.test_client()
    r = client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "next": "/"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def saved_cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def user_id(services, email: str) -> int:
    with services.uow() as uow:
        return uow.session.execute(select(User.id).where(User.email == email)).scalar_one()


def create_request(as_user, subject="Посещаемость сайта") -> int:
    r = as_user("it").post("/api/v1/requests", json={
        "program": SLUG, "subject": subject, "addressees": ["mfc"], "send": True,
        "form": [{"key": "visits", "label": "Посещений", "type": "integer", "required": True}]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["requests"][0]["id"]


def counts(services) -> dict:
    with services.uow() as uow:
        s = uow.session
        return {name: s.execute(select(func.count()).select_from(model)).scalar_one()
                for name, model in (("threads", RequestThread), ("copies", InformationRequest),
                                    ("answers", Answer), ("history", TransitionRecord), ("outbox", OutboxEvent),
                                    ("emails", OutgoingEmail))}


# --- sessions -----------------------------------------------------------------------------------

def test_cookie_saved_before_logout_is_refused_after_it(web_app, services, tokens, as_user):
    request_id = create_request(as_user)
    browser = sign_in(web_app, "mfc@kotovsk.example")
    assert browser.get(f"/requests/{request_id}").status_code == 200
    copy = saved_cookie(browser)
    assert browser.post("/logout").status_code == 302
    with services.uow() as uow:
        assert uow.session.execute(select(WebSession.revoked_at)).scalar_one() is not None

    thief = with_cookie(web_app, copy)
    page = thief.get(f"/requests/{request_id}")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    answered = thief.post(f"/requests/{request_id}/answer", data={"f_visits": "5"})
    assert answered.status_code == 302 and answered.headers["Location"].startswith("/login")
    state = as_user("it").get(f"/api/v1/requests/{request_id}").get_json()
    assert state["state"] == "sent" and state["answer"] is None


def test_logout_in_one_browser_leaves_the_other_signed_in(web_app, services, tokens):
    laptop, phone = sign_in(web_app, "it@kotovsk.example"), sign_in(web_app, "it@kotovsk.example")
    laptop.post("/logout")
    assert laptop.get("/requests").status_code == 302
    assert phone.get("/requests").status_code == 200


def test_password_reset_ends_every_session_even_a_saved_cookie(web_app, services, tokens):
    laptop, phone = sign_in(web_app, "it@kotovsk.example"), sign_in(web_app, "it@kotovsk.example")
    copy = saved_cookie(laptop)
    r = web_app.test_client().post(f"/api/v1/admin/users/{user_id(services, 'it@kotovsk.example')}/password",
                                   json={}, headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert r.status_code == 200
    for client in (laptop, phone, with_cookie(web_app, copy)):
        assert client.get("/requests").status_code == 302
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(WebSession)
                                   .where(WebSession.revoked_at.is_(None))).scalar_one() == 0


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(services, tokens):
    uid = user_id(services, "it@kotovsk.example")
    with services.uow() as uow:
        here, elsewhere = people.start_session(uow, uid), people.start_session(uow, uid)
        uow.commit()
    with services.uow() as uow:
        current, _ = people.session_user(uow, here)
        people.set_password(uow, uow.session.get(User, uid), "a-new-password-42", keep_session_id=current.id)
        uow.commit()
    with services.uow() as uow:
        assert people.session_user(uow, here) is not None
        assert people.session_user(uow, elsewhere) is None


def test_deactivation_ends_sessions_for_good_even_after_reactivation(web_app, services, tokens):
    browser = sign_in(web_app, "mfc.staff@kotovsk.example")
    copy = saved_cookie(browser)
    assert browser.get("/requests").status_code == 200
    uid = user_id(services, "mfc.staff@kotovsk.example")
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    api = web_app.test_client()
    assert api.post(f"/api/v1/admin/users/{uid}/deactivate", headers=admin).status_code == 200
    assert with_cookie(web_app, copy).get("/requests").status_code == 302
    assert api.post(f"/api/v1/admin/users/{uid}/reactivate", headers=admin).status_code == 200
    # Reactivated, the person signs in again; the session from before stays ended.
    assert with_cookie(web_app, copy).get("/requests").status_code == 302
    assert sign_in(web_app, "mfc.staff@kotovsk.example").get("/requests").status_code == 200


def test_session_row_holds_only_a_hash_and_expires_when_idle(web_app, services, tokens):
    browser = sign_in(web_app, "it@kotovsk.example")
    with services.uow() as uow:
        row = uow.session.execute(select(WebSession)).scalar_one()
        assert len(row.token_hash) == 64 and row.expires_at - row.created_at == people.SESSION_ABSOLUTE
        uow.session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(hours=8, minutes=1)))
        uow.commit()
    assert browser.get("/requests").status_code == 302


# --- Idempotency-Key on both databases ----------------------------------------------------------

@pytest.fixture
def api(any_services):
    from services.web.app import create_app

    tokens = seed(any_services)
    app = create_app(services=any_services, test_config={"TESTING": True})
    client = app.test_client()

    def post(name, url, body, key=None, **kw):
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return client.post(url, json=body, headers=headers, **kw)

    return any_services, post


NEW = {"program": SLUG, "subject": "Посещаемость сайта", "addressees": ["mfc"], "send": True,
       "form": [{"key": "visits", "label": "Посещений", "type": "integer", "required": True}]}


def test_same_key_and_body_replays_the_first_response_and_changes_nothing(api):
    services, post = api
    first = post("it", "/api/v1/requests", NEW, key="create-1")
    assert first.status_code == 201
    after_first = counts(services)
    again = post("it", "/api/v1/requests", NEW, key="create-1")
    assert again.status_code == 201 and again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(services) == after_first
    assert after_first["threads"] == 1 and after_first["copies"] == 1

    copy = first.get_json()["requests"][0]["id"]
    answer = {"event": "answer", "data": {"visits": 52340}}
    one = post("mfc", f"/api/v1/requests/{copy}/transitions", answer, key="answer-1")
    assert one.status_code == 200 and one.get_json()["state"] == "answered"
    after_answer = counts(services)
    two = post("mfc", f"/api/v1/requests/{copy}/transitions", answer, key="answer-1")
    assert (two.status_code, two.get_data()) == (one.status_code, one.get_data())
    assert counts(services) == after_answer
    assert after_answer["answers"] == 1 and after_answer["history"] == after_first["history"] + 1
    assert after_answer["outbox"] == after_first["outbox"] + 1
    with services.uow() as uow:  # both keys were marked in their transitions' own commits
        rows = uow.session.execute(select(IdempotencyKey).order_by(IdempotencyKey.id)).scalars().all()
        assert [(r.key, r.status) for r in rows] == [("create-1", 201), ("answer-1", 200)]
        assert all(r.committed_at is not None for r in rows)


def test_same_key_other_body_is_a_422_naming_the_header(api):
    services, post = api
    assert post("it", "/api/v1/requests", NEW, key="k-2").status_code == 201
    before = counts(services)
    r = post("it", "/api/v1/requests", dict(NEW, subject="Другая тема"), key="k-2")
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert "Idempotency-Key" in error["message"] and "Idempotency-Key" in error["fields"]
    assert counts(services) == before


def test_keys_belong_to_their_caller(api):
    services, post = api
    assert post("it", "/api/v1/requests", NEW, key="shared").status_code == 201
    other = post("it_staff", "/api/v1/requests", NEW, key="shared")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert counts(services)["threads"] == 2


@pytest.mark.parametrize("key", ["", "x" * 201, "ключ", "a b", "tab\there"])
def test_a_malformed_key_is_a_422(api, key):
    services, post = api
    r = post("it", "/api/v1/requests", NEW, key=key)
    assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["error"]["fields"]
    assert counts(services)["threads"] == 0


def test_a_key_in_flight_is_a_409_and_an_abandoned_claim_is_taken_over(api):
    services, post = api
    assert post("it", "/api/v1/requests", NEW, key="probe").status_code == 201
    uid = user_id(services, "it@kotovsk.example")
    with services.uow() as uow:
        same_body = uow.session.execute(select(IdempotencyKey.fingerprint)).scalar_one()
        uow.session.add(IdempotencyKey(scope=f"api:{uid}", key="busy", fingerprint=same_body, created_at=utcnow()))
        uow.session.add(IdempotencyKey(scope=f"api:{uid}", key="dead", fingerprint=same_body,
                                       created_at=utcnow() - timedelta(minutes=3)))
        uow.session.add(IdempotencyKey(scope=f"api:{uid}", key="lost", fingerprint=same_body,
                                       created_at=utcnow() - timedelta(minutes=3), committed_at=utcnow()))
        uow.commit()
    busy = post("it", "/api/v1/requests", NEW, key="busy")
    assert busy.status_code == 409 and "выполняется" in busy.get_json()["error"]["message"]
    # Committed in the first attempt's transaction but its answer never stored: never done twice.
    lost = post("it", "/api/v1/requests", NEW, key="lost")
    assert lost.status_code == 409 and "выполнен" in lost.get_json()["error"]["message"]
    assert counts(services)["threads"] == 1
    # A claim whose process died before committing anything: the retry does the work, once.
    retry = post("it", "/api/v1/requests", NEW, key="dead")
    assert retry.status_code == 201 and counts(services)["threads"] == 2


def test_a_refused_request_is_replayed_as_refused_and_a_validation_error_too(api):
    services, post = api
    bad = dict(NEW, addressees=[])
    first = post("it", "/api/v1/requests", bad, key="bad-1")
    assert first.status_code == 422
    again = post("it", "/api/v1/requests", bad, key="bad-1")
    assert (again.status_code, again.get_data()) == (422, first.get_data())
    assert counts(services)["threads"] == 0


def test_keys_older_than_a_day_are_purged_on_write(api):
    services, post = api
    assert post("it", "/api/v1/requests", NEW, key="old").status_code == 201
    with services.uow() as uow:
        uow.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, minutes=1)))
        uow.commit()
    assert post("it", "/api/v1/requests", NEW, key="new").status_code == 201
    with services.uow() as uow:
        assert uow.session.execute(select(IdempotencyKey.key)).scalars().all() == ["new"]


def test_concurrent_duplicates_do_the_work_once(pg_services):
    from services.web.app import create_app

    tokens = seed(pg_services)
    app = create_app(services=pg_services, test_config={"TESTING": True})
    results, barrier = [], threading.Barrier(4)

    def fire():
        client = app.test_client()
        barrier.wait()
        r = client.post("/api/v1/requests", json=NEW, headers={"Authorization": f"Bearer {tokens['it']}",
                                                               "Idempotency-Key": "race"})
        results.append(r.status_code)

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) <= {201, 409} and 201 in results
    assert counts(pg_services)["threads"] == 1


# --- the web form's one-time token --------------------------------------------------------------

def test_a_web_form_submitted_twice_creates_one_request(web_app, services, tokens):
    browser = sign_in(web_app, "it@kotovsk.example")
    page = browser.get(f"/requests/new?program={SLUG}").get_data(as_text=True)
    token = SUBMISSION.search(page).group(1)
    form = {"program": SLUG, "subject": "Посещаемость сайта", "addressees": "mfc", "working_days": "5",
            "f-0-label": "Посещений", "f-0-type": "integer", "f-0-required": "on", "send": "1",
            "submission_token": token}
    first = browser.post("/requests/new", data=form)
    assert first.status_code == 302 and re.fullmatch(r"/requests/\d+", first.headers["Location"])
    second = browser.post("/requests/new", data=form)
    assert second.status_code in (302, 303) and second.headers["Location"] == first.headers["Location"]
    assert counts(services)["threads"] == 1
    shown = browser.get(second.headers["Location"]).get_data(as_text=True)
    assert "уже была отправлена" in shown
    # A new page carries a new token: a second request is possible on purpose.
    token2 = SUBMISSION.search(browser.get(f"/requests/new?program={SLUG}").get_data(as_text=True)).group(1)
    assert token2 != token
    assert browser.post("/requests/new", data=dict(form, submission_token=token2)).status_code == 302
    assert counts(services)["threads"] == 2


def test_a_transition_form_submitted_twice_fires_once(web_app, services, tokens, as_user):
    request_id = create_request(as_user)
    browser = sign_in(web_app, "mfc@kotovsk.example")
    page = browser.get(f"/requests/{request_id}").get_data(as_text=True)
    token = SUBMISSION.search(page).group(1)
    before = counts(services)
    form = {"f_visits": "52340", "comment": "", "submission_token": token}
    first = browser.post(f"/requests/{request_id}/answer", data=form)
    second = browser.post(f"/requests/{request_id}/answer", data=form)
    assert first.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    after = counts(services)
    assert after["answers"] == 1 and after["history"] == before["history"] + 1
    assert after["outbox"] == before["outbox"] + 1


def test_a_form_shown_again_with_errors_frees_its_token(web_app, services, tokens):
    browser = sign_in(web_app, "it@kotovsk.example")
    token = SUBMISSION.search(browser.get(f"/requests/new?program={SLUG}").get_data(as_text=True)).group(1)
    form = {"program": SLUG, "subject": "", "addressees": "mfc", "working_days": "5", "send": "1",
            "f-0-label": "Посещений", "f-0-type": "integer", "submission_token": token}
    assert browser.post("/requests/new", data=form).status_code == 422
    assert browser.post("/requests/new", data=dict(form, subject="Тема")).status_code == 302
    assert counts(services)["threads"] == 1
