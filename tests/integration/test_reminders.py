"""Reminders end to end on the data layer: planning, sweeping, digests, dedupe, SMTP trouble."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from services import information_requests as ir
from services.adapters.mail import _claim, build_message, mail_relay
from services.models.mail import OutgoingEmail
from services.models.registry import User
from services.models.reminders import ReminderStep
from services.registry import actor_for
from services.reminders import sweep_reminders
from tests.conftest import make_services, make_settings, seed

SLUG = "kotovsk-information-society"
# Monday 23.11.2026, 10:00 MSK. Five working days → due Monday 30.11.2026.
SENT = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
DUE_SOON = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)  # Thu 26.11, 09:00 MSK
OVERDUE = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)  # Tue 01.12, 09:00 MSK


def _actor(services, email):
    with services.uow() as uow:
        return actor_for(uow.session.execute(select(User).where(User.email == email)).scalar_one())


def _send(services, subject="Данные", at=SENT, addressees=("mfc",)):
    services.clock = lambda: at
    it = _actor(services, "it@kotovsk.example")
    with services.uow() as uow:
        _, copies = ir.create_request(uow, services, it, ir.NewRequest(
            program=SLUG, subject=subject, body="", addressees=list(addressees), send=True))
        uow.commit()
        return [c.id for c in copies]


def _emails(services, template_word=None):
    with services.uow() as uow:
        rows = uow.session.execute(select(OutgoingEmail.recipient, OutgoingEmail.subject)
                                   .order_by(OutgoingEmail.id)).all()
    return [(r, s) for r, s in rows if template_word is None or template_word in s]


def _set_mode(services, email, mode):
    with services.uow() as uow:
        uow.session.execute(select(User).where(User.email == email)).scalar_one().reminder_mode = mode
        uow.commit()


def test_due_soon_goes_to_the_addressee_once_and_nothing_before_its_time(services):
    seed(services)
    _send(services)
    assert sweep_reminders(services, DUE_SOON - timedelta(minutes=1)) == 0
    assert sweep_reminders(services, DUE_SOON + timedelta(minutes=5)) == 1
    assert sweep_reminders(services, DUE_SOON + timedelta(minutes=6)) == 0
    soon = _emails(services, "Скоро срок")
    assert sorted(r for r, _ in soon) == ["mfc.staff@kotovsk.example", "mfc@kotovsk.example"]
    assert "30.11.2026" in soon[0][1]


def test_overdue_tells_the_addressee_and_the_requester_with_days_late(services):
    seed(services)
    _send(services)
    sweep_reminders(services, DUE_SOON + timedelta(minutes=5))
    sweep_reminders(services, datetime(2026, 11, 30, 6, 5, tzinfo=timezone.utc))
    sweep_reminders(services, OVERDUE + timedelta(hours=1))
    overdue = _emails(services, "Просрочено")
    assert sorted(r for r, _ in overdue) == [
        "it@kotovsk.example", "mfc.staff@kotovsk.example", "mfc@kotovsk.example"]
    assert all("просрочено на 1 раб. дн." in s for _, s in overdue)


def test_nothing_goes_out_at_night_or_on_saturday_and_goes_out_on_monday_morning(services):
    seed(services)
    _send(services)
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
    assert sweep_reminders(services, saturday) == 0
    assert sweep_reminders(services, datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)) == 0  # 06:00 MSK
    monday_morning = datetime(2026, 11, 30, 6, 1, tzinfo=timezone.utc)
    fired = sweep_reminders(services, monday_morning)
    assert fired == 2  # due_soon (missed on Thursday, sent once now) and due_today
    assert sweep_reminders(services, monday_morning + timedelta(hours=2)) == 0


def test_answering_cancels_pending_reminders(services):
    seed(services)
    [rid] = _send(services)
    services.clock = lambda: SENT + timedelta(days=1)
    with services.uow() as uow:
        ir.fire_transition(uow, services, _actor(services, "mfc@kotovsk.example"), rid, "answer",
                           data={"text": "Готово"})
        uow.commit()
    assert sweep_reminders(services, OVERDUE + timedelta(days=10)) == 0
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(ReminderStep)
                                   .where(ReminderStep.state == "pending")).scalar_one() == 0


def test_an_extension_moves_the_whole_ladder(services):
    seed(services)
    [rid] = _send(services)
    services.clock = lambda: SENT + timedelta(hours=2)
    with services.uow() as uow:
        ir.fire_transition(uow, services, _actor(services, "it@kotovsk.example"), rid, "extend_deadline",
                           comment="Большой объём", data={"working_days": 3})
        uow.commit()
    with services.uow() as uow:
        pending = uow.session.execute(select(ReminderStep).where(ReminderStep.state == "pending")
                                      .order_by(ReminderStep.fire_at)).scalars().all()
        pending = [(s.rule, s.due_date, s.fire_at) for s in pending]
    assert [(rule, due) for rule, due, _ in pending] == [
        ("due_soon", "2026-12-03"), ("due_today", "2026-12-03"), ("overdue", "2026-12-03"),
        ("escalation", "2026-12-03")]
    assert pending[0][2] == datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
    assert sweep_reminders(services, DUE_SOON + timedelta(minutes=5)) == 0  # the old due_soon is gone


def test_a_digest_of_three_items_most_urgent_first_and_single_mode(services):
    seed(services)
    _set_mode(services, "mfc.staff@kotovsk.example", "single")
    for n in range(3):
        _send(services, subject=f"Запрос {n}", at=SENT + timedelta(minutes=n))
    assert sweep_reminders(services, DUE_SOON + timedelta(minutes=5)) == 3
    emails = _emails(services)
    head = [s for r, s in emails if r == "mfc@kotovsk.example" and "Напоминания" in s]
    assert head == ["Напоминания о сроках: 3 (ближайший срок 30.11.2026)"]
    staff = [s for r, s in emails if r == "mfc.staff@kotovsk.example" and "Скоро срок" in s]
    assert len(staff) == 3
    with services.uow() as uow:
        digest = uow.session.execute(select(OutgoingEmail).where(
            OutgoingEmail.recipient == "mfc@kotovsk.example",
            OutgoingEmail.subject.like("Напоминания%"))).scalar_one()
        body = digest.text_body
    assert body.index("Запрос 0") < body.index("Запрос 1") < body.index("Запрос 2")


def test_two_concurrent_sweeps_fire_each_step_once(pg_services):
    services = pg_services
    seed(services)
    for n in range(20):
        _send(services, subject=f"Запрос {n}", at=SENT + timedelta(seconds=n))
    results = []
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        results.append(sweep_reminders(services, DUE_SOON + timedelta(minutes=5), batch=3))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 20
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(ReminderStep)
                                   .where(ReminderStep.state == "fired")).scalar_one() == 20
        bodies = uow.session.execute(select(OutgoingEmail.recipient, OutgoingEmail.text_body)
                                     .where(OutgoingEmail.dedupe_key.like("reminder%"))).all()
    for recipient in ("mfc@kotovsk.example", "mfc.staff@kotovsk.example"):
        text = "".join(body for r, body in bodies if r == recipient)
        assert [text.count(f"«Запрос {n}»") for n in range(20)] == [1] * 20


def _smtp_settings(tmp_path, pg_url, port):
    return make_settings(tmp_path, pg_url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port))


def test_smtp_down_then_back_delivers_everything_once(tmp_path, pg_url):
    from tests.integration.conftest import SmtpSink, _free_port
    from tests.conftest import _truncate_all

    _truncate_all(pg_url)
    port = _free_port()
    services = make_services(_smtp_settings(tmp_path, pg_url, port))
    seed(services)
    _send(services)  # two "request sent" emails: the SMTP server is down
    with services.uow() as uow:
        states = uow.session.execute(select(OutgoingEmail.state, OutgoingEmail.last_error)).all()
    assert [s for s, _ in states] == ["retrying", "retrying"]
    assert all("Connection refused" in (e or "") or "111" in (e or "") for _, e in states)

    sink = SmtpSink(port).start()
    try:
        later = datetime.now(timezone.utc) + timedelta(hours=2)
        assert mail_relay(services, later) == 2
        assert mail_relay(services, later + timedelta(hours=1)) == 0
        assert len(sink.messages) == 2
    finally:
        sink.stop()
        services.dispose()


def test_a_worker_killed_between_send_and_mark_sends_at_most_one_duplicate_within_a_minute(tmp_path, pg_url, smtp):
    from tests.conftest import _truncate_all

    _truncate_all(pg_url)
    settings = _smtp_settings(tmp_path, pg_url, smtp.port)
    services = make_services(settings, publisher=lambda ids: None)  # nothing handled inline
    seed(services)
    with services.uow() as uow:
        email = OutgoingEmail(dedupe_key="test:kill", message_id="<kill@test>", recipient="mfc@kotovsk.example",
                              subject="Скоро срок", text_body="t", html_body="<p>t</p>", state="queued",
                              next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1))
        uow.session.add(email)
        uow.commit()
    now = datetime.now(timezone.utc)
    claimed = _claim(services, email.id, now)
    services.mailer.send(build_message(services, claimed))  # the SMTP server accepted it…
    # …and the worker died before marking it sent.
    assert services.settings.mail_stuck_after == 45
    assert mail_relay(services, now + timedelta(seconds=30)) == 0  # too early to call it stuck
    assert mail_relay(services, now + timedelta(seconds=46)) == 1  # was five minutes (issue 13, 8)
    assert mail_relay(services, now + timedelta(hours=1)) == 0
    assert len(smtp.messages) == 2  # the one allowed duplicate, never a loss
    assert len(set(smtp.message_ids())) == 1  # the same Message-ID: clients fold it
    with services.uow() as uow:
        assert uow.session.get(OutgoingEmail, email.id).state == "sent"
    services.dispose()
