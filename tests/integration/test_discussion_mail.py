"""A comment on a report's line and a file on an amendment reach the right people, once each, over the
real stack: HTTP -> PostgreSQL outbox -> Redis -> Celery worker -> SMTP.

Who by hand (services.registry.DEMO_USERS): economic policy (econ@) comments on the 2016 report, so
the executor department is told, it@, it.staff@ and the admin (a user of IT); IT's head (it@) attaches
a file to its amendment, so the rest of IT and both reviewers are told: it.staff@, admin@, econ@,
finance@.
"""
from __future__ import annotations

import io
import time
from datetime import date
from email import message_from_bytes, policy

from sqlalchemy import select

from services.models.workflow import OutboxEvent
from services.reports import run_schedule
from tests.conftest import ApiClient, seed
from tests.integration.conftest import wait_for
from tests.integration.test_worker_e2e import _all_events_done, _sent_count

PROGRAM = "kotovsk-information-society"


def _parsed(message):
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_a_comment_and_a_file_are_emailed_to_the_other_people_once(stack):
    services, worker, smtp = stack
    from services.web.app import create_app

    tokens = seed(services)
    client = create_app(services=services).test_client()
    it, econ = ApiClient(client, tokens["it"]), ApiClient(client, tokens["econ"])
    run_schedule(services, date(2017, 6, 1), backlog=True)
    report = next(r["id"] for r in it.get(f"/api/v1/reports?program={PROGRAM}&page_size=200").json["items"]
                  if r["period"] == "2016")
    amendment = it.post("/api/v1/amendments", json={
        "program": PROGRAM, "justification": "Уточнение целей.",
        "changes": {"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]}}).json["id"]

    r = econ.post(f"/api/v1/reports/{report}/comments",
                  json={"body": "Откуда 52 340 посещений?\nПриложите выписку.", "ref": "indicators[I2].fact"})
    assert r.status_code == 201, r.json
    r = it.post(f"/api/v1/amendments/{amendment}/attachments", content_type="multipart/form-data",
                data={"file": (io.BytesIO(b"%PDF-1.4 calculation"), "Расчёт целей.pdf", "application/pdf")})
    assert r.status_code == 201, r.json

    wait_for(lambda: _all_events_done(services), what=f"worker to handle all events\n{worker.output()[-3000:]}")
    wait_for(lambda: len(smtp.messages) >= 7, what="7 emails at the SMTP server")
    assert smtp.by_recipient() == {"it@kotovsk.example": 1, "it.staff@kotovsk.example": 2,
                                   "admin@kotovsk.example": 2, "econ@kotovsk.example": 1,
                                   "finance@kotovsk.example": 1}
    by_subject: dict[str, list] = {}
    for message in map(_parsed, smtp.messages):
        # Compared without spaces: the standard library's folding of a long encoded Subject drops the
        # space at a fold (between two encoded words, where RFC 2047 readers ignore it).
        by_subject.setdefault(str(message["Subject"]).replace(" ", ""), []).append(message)
    comment_subject = "Новыйкомментарий:отчётза2016год(СмирноваО.Н.)"
    assert set(by_subject) == {comment_subject, f"Новыйфайл«Расчётцелей.pdf»:проектизменений№{amendment}(ИвановИ.И.)"}
    assert len(by_subject[comment_subject]) == 3
    text = _text(by_subject[comment_subject][0])
    assert "Смирнова О. Н. (Отдел экономической политики" in text
    assert "к пункту «Показатель I2 «Количество посещений" in text and "»: факт»" in text
    assert "Откуда 52 340 посещений?\nПриложите выписку." in text
    assert f"/reports/{report}#discussion" in text

    # A redelivered event emails nobody twice.
    with services.uow() as uow:
        ids = list(uow.session.execute(select(OutboxEvent.id)).scalars())
    services.publish(ids)
    wait_for(lambda: "interdept.handle_event" in worker.output() and _all_events_done(services), what="redelivery")
    time.sleep(2.0)
    assert len(smtp.messages) == 7
    assert _sent_count(services) == 7
