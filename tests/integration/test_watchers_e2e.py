"""A watcher's email over the real stack: HTTP → PostgreSQL outbox → Redis → Celery worker → SMTP.

The watcher follows through the API, the addressee answers, and the worker emails the watcher once;
the event delivered again (the bell rung again, then its handler's mark lost and rung once more)
sends nothing twice: the dedupe key is the event's id and the address, as for the parties.
"""
from __future__ import annotations

import time
from email.header import decode_header, make_header

from sqlalchemy import func, select, update

from services.models.mail import OutgoingEmail
from services.models.workflow import HandledEvent, OutboxEvent
from tests.conftest import ApiClient, seed
from tests.integration.conftest import wait_for

PROGRAM = "kotovsk-information-society"
WATCHER = "it.staff@kotovsk.example"  # the requester's colleague: no party to the answer's email


def _events_done(services) -> bool:
    with services.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(OutboxEvent)
                                   .where(OutboxEvent.completed_at.is_(None))).scalar_one() == 0


def _to(smtp, address: str) -> list:
    with smtp._lock:
        return [m for m in smtp.messages if m["To"] == address]


def _text(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def test_a_watcher_gets_one_email_for_the_next_transition_and_none_again_on_redelivery(stack):
    services, worker, smtp = stack
    from services.web.app import create_app

    tokens = seed(services)
    client = create_app(services=services).test_client()
    it, it_staff, mfc = (ApiClient(client, tokens[who]) for who in ("it", "it_staff", "mfc"))
    created = it.post("/api/v1/requests", json={
        "program": PROGRAM, "subject": "Посещаемость МФЦ", "addressees": ["mfc"], "send": True})
    assert created.status_code == 201, created.json
    rid = created.json["requests"][0]["id"]
    wait_for(lambda: _events_done(services) and len(smtp.messages) == 2, what="the sending's two emails")

    followed = it_staff.put(f"/api/v1/requests/{rid}/watchers/me")
    assert followed.status_code == 200 and followed.json == {"following": True, "watchers": 1}, followed.json
    watchers = it_staff.get(f"/api/v1/requests/{rid}/watchers").json
    assert [(w["name"], w["department"]) for w in watchers["items"]] == [("Петрова А. С.", "it")]

    answered = mfc.post(f"/api/v1/requests/{rid}/transitions", json={"event": "answer", "data": {"text": "1 200"}})
    assert answered.status_code == 200, answered.json
    wait_for(lambda: _events_done(services) and len(_to(smtp, WATCHER)) >= 1,
             what=f"the watcher's email\n{worker.output()[-3000:]}")
    time.sleep(1.0)
    mine = _to(smtp, WATCHER)
    assert len(mine) == 1
    assert len(_to(smtp, "it@kotovsk.example")) == 1  # the requester, a party, as before
    assert "Посещаемость МФЦ" in str(make_header(decode_header(mine[0]["Subject"])))
    assert "потому что следите за запросом" in _text(mine[0])
    assert f"/requests/{rid}#watchers" in _text(mine[0])
    total = len(smtp.messages)

    with services.uow() as uow:
        answer = uow.session.execute(select(OutboxEvent).where(
            OutboxEvent.type == "information_request.answer")).scalar_one()
        event_id = answer.id
    # Delivered again as is: the handler's mark makes it a no-op.
    services.publish([event_id])
    time.sleep(2.0)
    # Delivered again with the mark lost (a worker killed after sending, before its commit): the handler
    # runs again, and the dedupe key queues nothing.
    with services.uow() as uow:
        uow.session.query(HandledEvent).filter(HandledEvent.event_id == event_id).delete()
        uow.session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id)
                            .values(completed_at=None, next_attempt_at=None))
        uow.commit()
    services.publish([event_id])
    wait_for(lambda: _events_done(services), what=f"the redelivered event handled\n{worker.output()[-3000:]}")
    time.sleep(2.0)
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(HandledEvent)
                                   .where(HandledEvent.event_id == event_id)).scalar_one() == 1  # it ran again
        rows = uow.session.execute(select(OutgoingEmail.state).where(OutgoingEmail.recipient == WATCHER)).all()
    assert rows == [("sent",)]
    assert len(_to(smtp, WATCHER)) == 1
    assert len(smtp.messages) == total
