"""Mail never fails silently (issue 13, 8): an email that cannot be built is failed at once with the
reason, shown to the requester on the request page and to the admin in the mail log; a killed
worker's claim is re-sent within a minute, and a live worker's never twice. Real PostgreSQL and a
real SMTP server (aiosmtpd)."""
from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from email import message_from_bytes

import pytest
from sqlalchemy import select, update

from services.adapters.mail import deliver_many, mail_relay
from services.models.mail import OutgoingEmail
from services.models.registry import User
from services.models.requests import InformationRequest, RequestThread
from tests.conftest import ApiClient, _truncate_all, make_services, make_settings, seed
from tests.integration.conftest import _free_port

SLUG = "kotovsk-information-society"


@pytest.fixture
def smtp_services(tmp_path, pg_url, smtp):
    _truncate_all(pg_url)
    services = make_services(make_settings(tmp_path, pg_url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port)))
    yield services
    services.dispose()


@pytest.fixture
def web(smtp_services):
    from services.web.app import create_app

    tokens = seed(smtp_services)
    app = create_app(services=smtp_services, test_config={"TESTING": True})
    client = app.test_client()
    return app, (lambda who: ApiClient(client, tokens[who]))


def _signed_in(app, email: str):
    client = app.test_client()

    def token(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    r = client.post("/login", data={"email": email, "password": "demo-password-1",
                                    "csrf_token": token(client.get("/login").get_data(as_text=True))})
    assert r.status_code == 302
    return client


def _emails(services) -> list[OutgoingEmail]:
    with services.uow() as uow:
        rows = uow.session.execute(select(OutgoingEmail).order_by(OutgoingEmail.id)).scalars().all()
        uow.session.expunge_all()
        return rows


def test_an_email_to_a_malformed_address_is_failed_at_once_and_the_requester_and_admin_see_why(
        smtp_services, web, smtp):
    app, as_user = web
    with smtp_services.uow() as uow:  # stored before addresses were checked, say
        uow.session.execute(update(User).where(User.email == "mfc.staff@kotovsk.example")
                            .values(email="mfc staff@@kotovsk.example"))
        uow.commit()
    created = as_user("it").post("/api/v1/requests", json={"program": SLUG, "subject": "Сведения о посещаемости",
                                                           "addressees": ["mfc"], "send": True})
    assert created.status_code == 201, created.json
    rid = created.json["requests"][0]["id"]

    rows = {e.recipient: e for e in _emails(smtp_services)}
    assert rows["mfc@kotovsk.example"].state == "sent"
    bad = rows["mfc staff@@kotovsk.example"]
    assert (bad.state, bad.attempts, bad.item) == ("failed", 0, f"information_request:{rid}")
    assert "недопустимый адрес получателя" in bad.last_error
    assert smtp.by_recipient() == {"mfc@kotovsk.example": 1}
    # Not retried, not even after the 24 hours of retries.
    assert mail_relay(smtp_services, datetime.now(timezone.utc) + timedelta(hours=25)) == 0
    assert len(smtp.messages) == 1

    log = as_user("admin").get("/api/v1/mail?state=failed").json
    assert [(m["recipient"], m["item"]) for m in log["items"]] == [("mfc staff@@kotovsk.example",
                                                                   f"information_request:{rid}")]
    assert "недопустимый адрес получателя" in log["items"][0]["last_error"]

    page = _signed_in(app, "it@kotovsk.example").get(f"/requests/{rid}").get_data(as_text=True)
    notice = re.search(r'<p class="flash flash-error mail-failed"[^>]*>(.*?)</p>', page, re.S)
    assert notice, "the requester is not told"
    assert "для mfc staff@@kotovsk.example не отправлено: недопустимый адрес получателя" in notice.group(1)
    addressee_page = _signed_in(app, "mfc@kotovsk.example").get(f"/requests/{rid}").get_data(as_text=True)
    assert "mail-failed" not in addressee_page


def test_a_subject_with_a_line_break_fails_its_emails_at_once_and_never_reaches_a_bcc(smtp_services, web, smtp):
    app, as_user = web
    created = as_user("it").post("/api/v1/requests", json={"program": SLUG, "subject": "Тема", "addressees": ["mfc"],
                                                           "send": False})
    assert created.status_code == 201, created.json
    rid = created.json["requests"][0]["id"]
    with smtp_services.uow() as uow:  # a subject stored before single-line fields were checked
        thread_id = uow.session.get(InformationRequest, rid).thread_id
        uow.session.execute(update(RequestThread).where(RequestThread.id == thread_id)
                            .values(subject="Тема\r\nBcc: evil@example.com"))
        uow.commit()
    sent = as_user("it").post(f"/api/v1/requests/{rid}/transitions", json={"event": "send"})
    assert sent.status_code == 200, sent.json

    rows = _emails(smtp_services)
    assert rows and all(e.state == "failed" and e.attempts == 0 for e in rows)
    assert all("в теме письма перевод строки" in e.last_error for e in rows)
    assert smtp.messages == []
    assert mail_relay(smtp_services, datetime.now(timezone.utc) + timedelta(hours=1)) == 0
    assert smtp.messages == []

    page = _signed_in(app, "it@kotovsk.example").get(f"/requests/{rid}").get_data(as_text=True)
    notices = re.findall(r'<p class="flash flash-error mail-failed"[^>]*>(.*?)</p>', page, re.S)
    assert len(notices) == len(rows)
    assert all("не отправлено: в теме письма перевод строки" in n for n in notices)


# --- the stuck-'sending' timeout ------------------------------------------------------------------

class SlowSink:
    """aiosmtpd that takes ``delay`` seconds to accept each message, keeping the Message-IDs."""

    def __init__(self, delay: float):
        from aiosmtpd.controller import Controller

        self.delay, self.ids, self._lock = delay, [], threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                await asyncio.sleep(sink.delay)
                with sink._lock:
                    sink.ids.append(message_from_bytes(envelope.original_content or envelope.content)["Message-ID"])
                return "250 OK"

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)


def _queue(services, n: int) -> list[int]:
    now = datetime.now(timezone.utc)
    with services.uow() as uow:
        rows = [OutgoingEmail(dedupe_key=f"slow:{i}", message_id=f"<slow{i}@test>", recipient="mfc@kotovsk.example",
                              subject=f"Письмо {i}", text_body="t", html_body="<p>t</p>", state="queued",
                              next_attempt_at=now - timedelta(seconds=1)) for i in range(n)]
        uow.session.add_all(rows)
        uow.commit()
        return [r.id for r in rows]


def test_a_live_workers_batch_outlasting_the_stuck_timeout_is_not_sent_twice_by_the_relay(tmp_path, pg_url):
    """Five messages of 1 s each against a 3 s stuck timeout: a batch claimed at once would look
    stuck from its fourth message on; the worker renews its claims before each message, so the
    relay running all the while takes none of them."""
    _truncate_all(pg_url)
    sink = SlowSink(delay=1.0)
    sink.controller.start()
    services = make_services(make_settings(tmp_path, pg_url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port),
                                           INTERDEPT_MAIL_STUCK_AFTER="3"), publisher=lambda ids: None)
    try:
        seed(services)
        ids = _queue(services, 5)
        states: dict = {}
        worker = threading.Thread(target=lambda: states.update(deliver_many(services, ids)))
        worker.start()
        relayed = 0
        while worker.is_alive():
            relayed += mail_relay(services)
            time.sleep(0.1)
        worker.join()
        assert relayed == 0
        assert states == {i: "sent" for i in ids}
        assert sorted(sink.ids) == sorted(f"<slow{i}@test>" for i in range(5))  # each exactly once
        assert {e.state for e in _emails(services)} == {"sent"}
    finally:
        sink.controller.stop()
        services.dispose()


def test_the_relay_takes_a_claim_left_by_a_killed_worker_and_that_worker_would_not_send_it(tmp_path, pg_url, smtp):
    """The fence: once the relay has re-claimed a message, the first claimant's renewal fails and it
    skips the message, so the relay's send is the only one."""
    from services.adapters.mail import _claim_many, _send_all

    _truncate_all(pg_url)
    services = make_services(make_settings(tmp_path, pg_url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port)),
                             publisher=lambda ids: None)
    try:
        seed(services)
        ids = _queue(services, 2)
        start = datetime.now(timezone.utc)
        first = _claim_many(services, ids, start)  # a worker claims both, then stalls
        assert mail_relay(services, start + timedelta(seconds=30)) == 0
        assert mail_relay(services, start + timedelta(seconds=50)) == 2  # within a minute
        outcomes = _send_all(services, first, lambda: start + timedelta(seconds=51))  # the stalled one wakes
        assert outcomes == {}
        assert sorted(smtp.message_ids()) == ["<slow0@test>", "<slow1@test>"]
        assert {(e.state, e.attempts) for e in _emails(services)} == {("sent", 2)}
    finally:
        services.dispose()


def test_beat_runs_the_mail_relay_often_enough_for_a_minute():
    from config.settings import Settings
    from workers.celery_app import create_celery

    settings = Settings.from_env({"INTERDEPT_VAR_DIR": "/tmp/interdept-beat-check"})
    schedule = create_celery(settings).conf.beat_schedule["mail-relay"]["schedule"]
    assert settings.mail_stuck_after + schedule <= 60


def test_one_smtp_exchange_is_cut_at_the_message_time_limit_however_slow_the_server(monkeypatch):
    """The stuck timeout counts on it: a server that takes longer to answer than the limit is a
    temporary failure of that message, not a worker held beyond its claim."""
    from email.message import EmailMessage

    from services.adapters import mailers

    sink = SlowSink(delay=4.0)
    sink.controller.start()
    monkeypatch.setattr(mailers, "MESSAGE_TIME_LIMIT", 1.0)
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@test", "b@test", "slow"
        message.set_content("t")
        started = time.monotonic()
        with pytest.raises(mailers.TemporaryMailError):
            mailers.SmtpMailer("127.0.0.1", sink.port, timeout=10.0).send(message)
        assert time.monotonic() - started < 4.0  # cut before the server answered, not at the 10 s timeout
    finally:
        sink.controller.stop()


# --- long subjects ---------------------------------------------------------------------------------

def _decoded_subjects(smtp) -> list[str]:
    from email import policy

    return [message_from_bytes(raw, policy=policy.default)["Subject"] for raw in smtp.raw]


# The first lost the space where the header was folded ("…о числе об(срок 15.01.2026)"); the second is
# the form's longest subject, which with the email's own words was over 500 characters.
LONG_SUBJECTS = ("К отчёту ИТ-2016/00003 за 2016 год: сведения о числе об",
                 " ".join(["Сведения о годовом отчёте и обращениях граждан"] * 12)[:500])


@pytest.mark.parametrize("subject", LONG_SUBJECTS)
def test_a_long_subject_arrives_with_every_space_and_a_longest_one_is_cut_not_failed(smtp_services, web, smtp,
                                                                                     subject):
    """Python's email package dropped the space at a fold of a long non-ASCII subject, and a subject
    over 500 characters failed every email about the request for good."""
    from services.adapters.mail import SUBJECT_LIMIT

    _, as_user = web
    created = as_user("it").post("/api/v1/requests", json={"program": SLUG, "subject": subject, "body": "Текст",
                                                           "addressees": ["mfc"], "send": True})
    assert created.status_code == 201, created.json
    rows = _emails(smtp_services)
    assert rows and all(e.state == "sent" for e in rows), [(e.state, e.last_error) for e in rows]
    arrived = _decoded_subjects(smtp)
    assert sorted(arrived) == sorted(e.subject for e in rows)  # exactly as stored: no space lost
    assert all(len(s) <= SUBJECT_LIMIT for s in arrived)
    if len(rows[0].subject) == SUBJECT_LIMIT:
        assert all(s.endswith("…") for s in arrived)
    else:
        assert all(subject in s for s in arrived)
