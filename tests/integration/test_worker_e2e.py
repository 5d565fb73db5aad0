"""End to end over the real stack: HTTP → PostgreSQL outbox → Redis → Celery worker → SMTP."""
from __future__ import annotations

from sqlalchemy import func, select

from services.models.mail import OutgoingEmail
from services.models.workflow import HandledEvent, OutboxEvent
from tests.conftest import ApiClient, seed
from tests.integration.conftest import wait_for

PROGRAM = "kotovsk-information-society"


def _all_events_done(services) -> bool:
    with services.uow() as uow:
        pending = uow.session.execute(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.completed_at.is_(None))
        ).scalar_one()
        total = uow.session.execute(select(func.count()).select_from(OutboxEvent)).scalar_one()
        return total > 0 and pending == 0


def _sent_count(services) -> int:
    with services.uow() as uow:
        return uow.session.execute(
            select(func.count()).select_from(OutgoingEmail).where(OutgoingEmail.state == "sent")
        ).scalar_one()


def test_request_lifecycle_delivers_every_email_once_through_worker_and_smtp(stack):
    services, worker, smtp = stack
    from services.web.app import create_app

    tokens = seed(services)
    client = create_app(services=services).test_client()
    it, mfc = ApiClient(client, tokens["it"]), ApiClient(client, tokens["mfc"])

    created = it.post("/api/v1/requests", json={
        "program": PROGRAM, "subject": "Посещаемость сайта", "addressees": ["mfc"], "send": True,
        "form": [{"key": "visits", "label": "Посещений за 2016 год", "type": "integer", "required": True,
                  "indicator": "I2", "period": "2016"}],
    })
    assert created.status_code == 201, created.json
    rid = created.json["requests"][0]["id"]
    steps = [
        (mfc, {"event": "answer", "data": {"visits": 51000}}),
        (it, {"event": "request_clarification", "comment": "Уточните, учтены ли мобильные посещения"}),
        (mfc, {"event": "answer", "data": {"visits": 52340}}),
        (it, {"event": "accept"}),
    ]
    for who, body in steps:
        response = who.post(f"/api/v1/requests/{rid}/transitions", json=body)
        assert response.status_code == 200, response.json

    wait_for(lambda: _all_events_done(services), what=f"worker to handle all events\n{worker.output()[-3000:]}")
    # send → 2 MFC users; answer → requester (twice); clarification → 2 MFC users; accept → 2 MFC users.
    wait_for(lambda: len(smtp.messages) >= 8, what="8 emails at the SMTP server")
    assert smtp.by_recipient() == {
        "mfc@kotovsk.example": 3, "mfc.staff@kotovsk.example": 3, "it@kotovsk.example": 2,
    }
    assert len(set(smtp.message_ids())) == 8
    assert any("Посещаемость сайта" in s for s in smtp.subjects())

    program = it.get(f"/api/v1/programs/{PROGRAM}").json
    assert program["indicators"][1]["actuals"] == {"2016": "52340"}

    # A redelivered event does nothing twice: ring the bell again for every event.
    with services.uow() as uow:
        ids = list(uow.session.execute(select(OutboxEvent.id)).scalars())
        marks_before = uow.session.execute(select(func.count()).select_from(HandledEvent)).scalar_one()
    services.publish(ids)
    wait_for(lambda: "interdept.handle_event" in worker.output() and _all_events_done(services), what="redelivery")
    import time

    time.sleep(2.0)
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(HandledEvent)).scalar_one() == marks_before
    assert len(smtp.messages) == 8
    assert _sent_count(services) == 8


def test_event_committed_while_broker_is_down_is_delivered_after_it_returns(stack, tmp_path):
    services, worker, smtp = stack
    from services.web.app import create_app
    from services.adapters.broker import CeleryPublisher
    from services.events.outbox import relay

    tokens = seed(services)
    # The web process's broker is unreachable: nothing listens on port 1.
    down = CeleryPublisher(services.settings.__class__(**{**services.settings.__dict__,
                                                          "broker_url": "redis://127.0.0.1:1/0"}))
    real = services.publisher
    services.publisher = down
    try:
        client = create_app(services=services).test_client()
        it = ApiClient(client, tokens["it"])
        created = it.post("/api/v1/requests", json={
            "program": PROGRAM, "subject": "Данные при недоступном брокере", "addressees": ["mfc"], "send": True})
        assert created.status_code == 201, created.json
    finally:
        services.publisher = real

    with services.uow() as uow:
        pending = uow.session.execute(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.completed_at.is_(None))
        ).scalar_one()
    assert pending == 1  # "send", committed with the request, not yet handled
    assert smtp.messages == []

    # The broker is back: the relay (beat) republishes what nobody finished.
    import time

    time.sleep(services.settings.outbox_republish_after + 0.5)
    assert relay(services) == 1
    wait_for(lambda: _all_events_done(services), what=f"relayed events handled\n{worker.output()[-3000:]}")
    wait_for(lambda: len(smtp.messages) == 2, what="the two MFC emails")
    assert sorted(smtp.by_recipient()) == ["mfc.staff@kotovsk.example", "mfc@kotovsk.example"]
