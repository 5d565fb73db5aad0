"""Queue, render and deliver email; every message has a dedupe key stored before sending.

A message is sent at most once per dedupe key, except in the window between the
SMTP server accepting it and the commit of the 'sent' mark (a worker killed
there leaves the row in 'sending'; the mail relay retries it after a while,
accepting at most one duplicate rather than a loss). The emails one transaction
queued are claimed together, sent over one connection and marked together, so
that window spans their batch (a handful of messages, at most CLAIM_CHUNK).
"""
from __future__ import annotations

import hashlib
import logging
import random
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Iterable

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import and_, or_, select, update

from services.adapters.mailers import PermanentMailError
from services.models.base import utcnow
from services.models.mail import OutgoingEmail
from services.adapters.unit_of_work import UnitOfWork, Write

if TYPE_CHECKING:
    from services.bootstrap import Services

log = logging.getLogger(__name__)

STUCK_SENDING_AFTER = timedelta(minutes=5)
# Claimed together, sent over one connection. A batch stops trying new messages after
# SEND_BUDGET, well before its claims could look stuck to the mail relay.
CLAIM_CHUNK = 20
SEND_BUDGET = timedelta(minutes=1)

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
    """None when a message with this key was already queued (nothing is sent twice).

    The row is written with the transaction's commit (one INSERT for all its emails; a
    concurrent twin collides on the unique key there and its whole transaction rolls back).
    """
    queued = uow.batch("emails", lambda emails, closing: deliver_many(
        services, [email.id for email in emails], closing=closing))
    if any(email.dedupe_key == dedupe_key for email in queued):
        return None
    with uow.session.no_autoflush:  # the pending rows are checked above, in memory
        existing = uow.session.execute(
            select(OutgoingEmail.id).where(OutgoingEmail.dedupe_key == dedupe_key)
        ).scalar_one_or_none()
    if existing is not None:
        return None
    subject, text, html = render(template, {**context, "base_url": services.settings.base_url})
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]
    host = services.settings.mail_from.rsplit("@", 1)[-1]
    now = utcnow()
    email = OutgoingEmail(
        dedupe_key=dedupe_key, message_id=f"<{digest}@{host}>", recipient=recipient,
        subject=subject, text_body=text, html_body=html, state="queued", attempts=0,
        next_attempt_at=now, created_at=now,
    )
    uow.session.add(email)
    queued.append(email)
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


def _due(now: datetime):
    return or_(
        and_(OutgoingEmail.state.in_(("queued", "retrying")), OutgoingEmail.next_attempt_at <= now),
        and_(OutgoingEmail.state == "sending", OutgoingEmail.next_attempt_at <= now - STUCK_SENDING_AFTER),
    )


def _claim_many(services: "Services", email_ids: list[int], now: datetime) -> list[OutgoingEmail]:
    """Mark the due ones among ``email_ids`` 'sending' in one statement; a row another worker
    holds is skipped (PostgreSQL), and a claimed one is not due again for STUCK_SENDING_AFTER."""
    due = select(OutgoingEmail.id).where(OutgoingEmail.id.in_(email_ids), _due(now))
    if not services.settings.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    with services.uow() as uow:
        claimed = list(uow.session.execute(
            update(OutgoingEmail)
            .where(OutgoingEmail.id.in_(due.scalar_subquery()))
            .values(state="sending", attempts=OutgoingEmail.attempts + 1, next_attempt_at=now)
            .returning(OutgoingEmail)
            .execution_options(synchronize_session=False)
        ).scalars())
        uow.commit()
    order = {email_id: n for n, email_id in enumerate(email_ids)}
    return sorted(claimed, key=lambda email: order[email.id])


def _claim(services: "Services", email_id: int, now: datetime) -> OutgoingEmail | None:
    claimed = _claim_many(services, [email_id], now)
    return claimed[0] if claimed else None


def _send_all(services: "Services", emails: list[OutgoingEmail]) -> dict[int, tuple[str, bool] | None]:
    """Each message's outcome over one connection: None (accepted) or (error, permanent).

    A message left out was not tried: the batch ran past SEND_BUDGET, and it goes back to the
    queue rather than risk being sent by the mail relay too, once its claim looks stuck.
    """
    outcomes: dict[int, tuple[str, bool] | None] = {}
    started = time.monotonic()
    try:
        with services.mailer.session() as send:
            for email in emails:
                if time.monotonic() - started > SEND_BUDGET.total_seconds():
                    break
                try:
                    send(build_message(services, email))
                    # Marked at once: a worker killed now re-sends at most the message in flight.
                    _mark_sent(services, email.id)
                    outcomes[email.id] = None
                except PermanentMailError as exc:
                    outcomes[email.id] = (str(exc), True)
                except Exception as exc:
                    outcomes[email.id] = (repr(exc), False)
    except PermanentMailError as exc:  # could not connect: no message was tried
        for email in emails:
            outcomes.setdefault(email.id, (str(exc), True))
    except Exception as exc:
        for email in emails:
            outcomes.setdefault(email.id, (repr(exc), False))
    return outcomes


def _mark_sent(services: "Services", email_id: int) -> None:
    with services.uow() as uow:
        uow.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_id)
                            .values(state="sent", sent_at=utcnow(), last_error=None)
                            .execution_options(synchronize_session=False))
        uow.commit()


def _record(services: "Services", emails: list[OutgoingEmail], outcomes: dict, now: datetime,
            closing: Iterable[Write] = ()) -> dict[int, str]:
    """The batch's failures and untried messages, and the writes closing the work that queued it,
    in one transaction (each accepted message was marked sent as soon as the server took it)."""
    states: dict[int, str] = {}
    others: list[dict] = []
    for email in emails:
        if email.id not in outcomes:  # not tried: due again at once, the claim undone
            states[email.id] = "queued" if email.attempts <= 1 else "retrying"
            others.append({"id": email.id, "state": states[email.id], "attempts": email.attempts - 1,
                           "next_attempt_at": now, "last_error": email.last_error})
            continue
        outcome = outcomes[email.id]
        if outcome is None:
            states[email.id] = "sent"
            continue
        error, permanent = outcome
        if permanent or (now - email.created_at).total_seconds() > services.settings.mail_retry_for:
            states[email.id] = "failed"
            others.append({"id": email.id, "state": "failed", "attempts": email.attempts,
                           "next_attempt_at": email.next_attempt_at, "last_error": error})
            log.error("email %s failed for good: %s", email.id, error)
        else:
            states[email.id] = "retrying"
            others.append({"id": email.id, "state": "retrying", "attempts": email.attempts,
                           "next_attempt_at": now + backoff(email.attempts), "last_error": error})
            log.warning("email %s will be retried: %s", email.id, error)
    with services.uow() as uow:
        if others:
            uow.session.execute(update(OutgoingEmail), others)  # by primary key, one executemany
        for write in closing:
            write(uow.session)
        uow.commit()
    return states


def deliver_many(services: "Services", email_ids: Iterable[int], now: datetime | None = None, *,
                 closing: Iterable[Write] = ()) -> dict[int, str]:
    """Send the due ones among ``email_ids``: claimed in one transaction per chunk, sent over one
    SMTP connection, outcomes recorded in one transaction; returns the new state of each sent.

    ``closing`` (e.g. "the event is complete") is written with the last chunk's outcomes, so it
    is never seen before them; in a transaction of its own when nothing was due.
    """
    now = now or utcnow()
    ids = list(email_ids)
    closing = list(closing)
    states: dict[int, str] = {}
    for start in range(0, len(ids), CLAIM_CHUNK):
        chunk = ids[start:start + CLAIM_CHUNK]
        last = start + CLAIM_CHUNK >= len(ids)
        emails = _claim_many(services, chunk, now)
        if emails:
            states.update(_record(services, emails, _send_all(services, emails), now, closing if last else ()))
            if last:
                closing = []
    if closing:
        with services.uow() as uow:
            for write in closing:
                write(uow.session)
            uow.commit()
    return states


def deliver(services: "Services", email_id: int, now: datetime | None = None) -> str | None:
    """Send one message if it is due; returns its new state (None when it was not due)."""
    return deliver_many(services, [email_id], now).get(email_id)


def backoff(attempts: int, base: float = 10.0, cap: float = 3600.0) -> timedelta:
    """Exponential with full jitter, so a recovering server is not hit all at once."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def due_emails(services: "Services", now: datetime | None = None, limit: int = 200) -> list[int]:
    now = now or utcnow()
    with services.uow() as uow:
        return list(uow.session.execute(
            select(OutgoingEmail.id).where(_due(now)).order_by(OutgoingEmail.next_attempt_at).limit(limit)
        ).scalars())


def mail_relay(services: "Services", now: datetime | None = None) -> int:
    """Send what is due (retries, claims left by a dead worker), CLAIM_CHUNK per connection."""
    states = deliver_many(services, due_emails(services, now), now)
    return sum(1 for state in states.values() if state == "sent")
