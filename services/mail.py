"""Queue, render and deliver email; every message has a dedupe key stored before sending.

A message is sent at most once per dedupe key, except in the window between the
SMTP server accepting it and the commit of the 'sent' mark (a worker killed
there leaves the row in 'sending'; the mail relay retries it after a while,
accepting at most one duplicate rather than a loss).
"""
from __future__ import annotations

import hashlib
import logging
import random
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import and_, or_, select

from services.mailers import PermanentMailError
from services.models.base import utcnow
from services.models.mail import OutgoingEmail
from services.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from services.bootstrap import Services

log = logging.getLogger(__name__)

STUCK_SENDING_AFTER = timedelta(minutes=5)

_env = Environment(
    loader=PackageLoader("services", "templates/mail"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, context: dict) -> tuple[str, str, str]:
    subject = _env.get_template(f"{template}.subject.txt").render(**context).strip()
    text = _env.get_template(f"{template}.txt").render(**context)
    html = _env.get_template(f"{template}.html").render(**context)
    return subject, text, html


def queue_email(uow: UnitOfWork, services: "Services", *, dedupe_key: str, recipient: str,
                template: str, context: dict) -> OutgoingEmail | None:
    """None when a message with this key was already queued (nothing is sent twice)."""
    existing = uow.session.execute(
        select(OutgoingEmail.id).where(OutgoingEmail.dedupe_key == dedupe_key)
    ).scalar_one_or_none()
    if existing is not None:
        return None
    subject, text, html = render(template, {**context, "base_url": services.settings.base_url})
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]
    host = services.settings.mail_from.rsplit("@", 1)[-1]
    email = OutgoingEmail(
        dedupe_key=dedupe_key, message_id=f"<{digest}@{host}>", recipient=recipient,
        subject=subject, text_body=text, html_body=html, state="queued", next_attempt_at=utcnow(),
    )
    uow.session.add(email)
    uow.session.flush()
    uow.batch("emails", lambda ids: deliver_many(services, ids)).append(email.id)
    return email


def build_message(services: "Services", email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = services.settings.mail_from
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(email.created_at)
    message["List-Unsubscribe"] = f"<{services.settings.base_url}/me/preferences>"
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


def _claim(services: "Services", email_id: int, now: datetime) -> OutgoingEmail | None:
    with services.uow() as uow:
        query = select(OutgoingEmail).where(
            OutgoingEmail.id == email_id,
            or_(
                and_(OutgoingEmail.state.in_(("queued", "retrying")), OutgoingEmail.next_attempt_at <= now),
                and_(OutgoingEmail.state == "sending", OutgoingEmail.next_attempt_at <= now - STUCK_SENDING_AFTER),
            ),
        )
        if not services.settings.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        email = uow.session.execute(query).scalar_one_or_none()
        if email is None:
            return None
        email.state = "sending"
        email.attempts += 1
        email.next_attempt_at = now
        uow.commit()
        return email


def deliver_many(services: "Services", email_ids: list[int]) -> None:
    """The emails one transaction queued, over one SMTP connection when the server is up."""
    try:
        with services.mailer.session() as send:
            for email_id in email_ids:
                deliver(services, email_id, send=send)
    except Exception:  # could not connect: each message records its own error and retry time
        for email_id in email_ids:
            deliver(services, email_id)


def deliver(services: "Services", email_id: int, now: datetime | None = None, send=None) -> str | None:
    """Send one queued message if it is due; returns its new state."""
    now = now or utcnow()
    email = _claim(services, email_id, now)
    if email is None:
        return None
    error, permanent = None, False
    try:
        (send or services.mailer.send)(build_message(services, email))
    except PermanentMailError as exc:
        error, permanent = str(exc), True
    except Exception as exc:
        error = repr(exc)
    with services.uow() as uow:
        row = uow.session.get(OutgoingEmail, email_id)
        if error is None:
            row.state, row.sent_at, row.last_error = "sent", utcnow(), None
        elif permanent or (now - row.created_at).total_seconds() > services.settings.mail_retry_for:
            row.state, row.last_error = "failed", error
            log.error("email %s failed for good: %s", email_id, error)
        else:
            row.state, row.last_error = "retrying", error
            row.next_attempt_at = now + backoff(row.attempts)
            log.warning("email %s will be retried: %s", email_id, error)
        uow.commit()
        return row.state


def backoff(attempts: int, base: float = 10.0, cap: float = 3600.0) -> timedelta:
    """Exponential with full jitter, so a recovering server is not hit all at once."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def due_emails(services: "Services", now: datetime | None = None, limit: int = 200) -> list[int]:
    now = now or utcnow()
    with services.uow() as uow:
        return list(uow.session.execute(
            select(OutgoingEmail.id).where(or_(
                and_(OutgoingEmail.state.in_(("queued", "retrying")), OutgoingEmail.next_attempt_at <= now),
                and_(OutgoingEmail.state == "sending", OutgoingEmail.next_attempt_at <= now - STUCK_SENDING_AFTER),
            )).order_by(OutgoingEmail.next_attempt_at).limit(limit)
        ).scalars())


def mail_relay(services: "Services", now: datetime | None = None) -> int:
    sent = 0
    for email_id in due_emails(services, now):
        if deliver(services, email_id, now) == "sent":
            sent += 1
    return sent
