"""Queue, render and deliver email; every message has a dedupe key stored before sending.

A message is sent at most once per dedupe key, except in the window between the
SMTP server accepting it and the commit of the 'sent' mark (a worker killed
there leaves the row in 'sending'; the mail relay retries it once its claim is
older than ``mail_stuck_after``, 45 s, accepting at most one duplicate rather than
a loss). The emails one transaction queued are claimed together and sent over one
connection; before each message the worker renews its claim on the rest, fenced by
the claim's attempt number, so the relay never takes a message from a live worker
unless one SMTP exchange (cut at MESSAGE_TIME_LIMIT) and its mark outlast that
timeout, and a worker whose claim was taken skips the message.

An email that cannot be built (a header with a line break, a malformed address)
is stored 'failed' at once with the reason, never retried: the mail log and the
item's page show it.
"""
from __future__ import annotations

import hashlib
import logging
import random
import re
import time
from datetime import datetime, timedelta
from email.errors import HeaderParseError, MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Callable, Iterable

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import and_, or_, select, update

from services.adapters.mailers import MESSAGE_TIME_LIMIT, PermanentMailError
from services.models.base import utcnow
from services.models.mail import OutgoingEmail
from services.adapters.unit_of_work import UnitOfWork, Write
from workflows.registration import label as registration_label

if TYPE_CHECKING:
    from services.bootstrap import Services

log = logging.getLogger(__name__)

# Claimed together, sent over one connection, each claim renewed before its message.
CLAIM_CHUNK = 20
# A longer subject is cut, with "…". Python's email package (3.11; CPython gh-144156 and kin) can drop
# the space where it folds a long non-ASCII header, so "Годовой отчёт" arrived as "Годовойотчёт" in
# about half of long subjects; a subject of this length, encoded, fits one header line of 998 octets
# (RFC 5322's limit, which ``build_message`` folds at), so it is never folded.
SUBJECT_LIMIT = 300
HEADER_LINE_LIMIT = 998
assert MESSAGE_TIME_LIMIT < 30, "one SMTP exchange must end well inside the shortest sensible stuck timeout"

_env = Environment(
    loader=PackageLoader("services", "templates/mail"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["regnum"] = registration_label


def render(template: str, context: dict) -> tuple[str, str, str]:
    subject = _env.get_template(f"{template}.subject.txt").render(**context).strip()
    text = _env.get_template(f"{template}.txt").render(**context)
    html = _env.get_template(f"{template}.html").render(**context)
    return subject, text, html


def queue_email(uow: UnitOfWork, services: "Services", *, dedupe_key: str, recipient: str,
                template: str, context: dict, item: str | None = None) -> OutgoingEmail | None:
    """None when a message with this key was already queued (nothing is sent twice).

    ``item`` ("information_request:12") names what the email is about, for that item's page.
    The row is written with the transaction's commit (one INSERT for all its emails; a
    concurrent twin collides on the unique key there and its whole transaction rolls back).
    One that cannot be built is written 'failed' with the reason, and not sent.
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
        subject=subject_line(subject), text_body=text, html_body=html, state="queued", attempts=0,
        next_attempt_at=now, created_at=now, item=item,
    )
    problem = unbuildable_reason(services, email, subject)
    if problem is not None:
        email.state, email.last_error = "failed", problem
        log.error("email %s to %s cannot be built: %s", dedupe_key, recipient, problem)
    uow.session.add(email)
    queued.append(email)  # a failed one is not due: the batch skips it
    return email


class UnbuildableEmail(ValueError):
    """The message cannot be written at all: retrying will not help. The text is the reason."""


_HEADER_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _shown(value: str) -> str:
    return _HEADER_CONTROLS.sub("\N{SYMBOL FOR NEWLINE}", value)[:120]


def _address_problem(address: str) -> str | None:
    if _HEADER_CONTROLS.search(address) or any(ch.isspace() for ch in address):
        return "пробел, перевод строки или управляющий символ"
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        return "не адрес электронной почты"
    return None if parsed.username and parsed.domain else "не адрес электронной почты"


def unbuildable_reason(services: "Services", email: OutgoingEmail, subject: str | None = None) -> str | None:
    """Why this email cannot be built (in Russian, for the requester and the admin), or None.
    Cheap: the header values and addresses only, so it runs for every email as it is queued."""
    subject = email.subject if subject is None else subject
    problem = _address_problem(email.recipient)
    if problem is not None:
        return f"недопустимый адрес получателя «{_shown(email.recipient)}» ({problem})"
    if _address_problem(services.settings.mail_from) is not None:
        return f"недопустимый адрес отправителя MAIL_FROM «{_shown(services.settings.mail_from)}»"
    if "\r" in subject or "\n" in subject:
        return f"в теме письма перевод строки («{_shown(subject)}»)"
    if _HEADER_CONTROLS.search(subject):
        return f"в теме письма управляющий символ («{_shown(subject)}»)"
    return None


def subject_line(subject: str) -> str:
    """The subject as sent: at most ``SUBJECT_LIMIT`` characters, a cut one ending in "…"."""
    if len(subject) <= SUBJECT_LIMIT:
        return subject
    return subject[:SUBJECT_LIMIT - 1].rstrip() + "…"


def build_message(services: "Services", email: OutgoingEmail) -> EmailMessage:
    """Raises UnbuildableEmail with the reason when the message cannot be written."""
    problem = unbuildable_reason(services, email)
    if problem is not None:
        raise UnbuildableEmail(problem)
    try:
        message = EmailMessage()
        message["From"] = services.settings.mail_from
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Message-ID"] = email.message_id
        message["Date"] = format_datetime(email.created_at)
        message["List-Unsubscribe"] = f"<{services.settings.base_url}/me/preferences>"
        message.set_content(email.text_body)
        message.add_alternative(email.html_body, subtype="html")
        # Headers fold only past 998 octets (see SUBJECT_LIMIT); the bodies were encoded above.
        message.policy = message.policy.clone(max_line_length=HEADER_LINE_LIMIT)
    except (ValueError, TypeError, MessageError) as exc:  # the email package's own refusals
        raise UnbuildableEmail(f"письмо не составлено: {exc}") from exc
    return message


def failed_emails(session, item: str, limit: int = 20) -> list[OutgoingEmail]:
    """The emails about ``item`` that failed for good, newest first, for the item's page."""
    return list(session.execute(
        select(OutgoingEmail).where(OutgoingEmail.item == item, OutgoingEmail.state == "failed")
        .order_by(OutgoingEmail.id.desc()).limit(limit)
    ).scalars())


def _due(services: "Services", now: datetime):
    stuck_before = now - timedelta(seconds=services.settings.mail_stuck_after)
    return or_(
        and_(OutgoingEmail.state.in_(("queued", "retrying")), OutgoingEmail.next_attempt_at <= now),
        and_(OutgoingEmail.state == "sending", OutgoingEmail.next_attempt_at <= stuck_before),
    )


Clock = Callable[[], datetime]


def _claim_many(services: "Services", email_ids: list[int], now: datetime,
                clock: Clock | None = None) -> list[OutgoingEmail]:
    """Mark the due ones among ``email_ids`` 'sending' in one statement, each claim numbered by its
    ``attempts``; a row another worker holds is skipped (PostgreSQL), and a claimed one is not due
    again until its claim, stamped with the time now, is ``mail_stuck_after`` old."""
    due = select(OutgoingEmail.id).where(OutgoingEmail.id.in_(email_ids), _due(services, now))
    if not services.settings.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    with services.uow() as uow:
        claimed = list(uow.session.execute(
            update(OutgoingEmail)
            .where(OutgoingEmail.id.in_(due.scalar_subquery()))
            .values(state="sending", attempts=OutgoingEmail.attempts + 1, next_attempt_at=(clock or (lambda: now))())
            .returning(OutgoingEmail)
            .execution_options(synchronize_session=False)
        ).scalars())
        uow.commit()
    order = {email_id: n for n, email_id in enumerate(email_ids)}
    return sorted(claimed, key=lambda email: order[email.id])


def _claim(services: "Services", email_id: int, now: datetime) -> OutgoingEmail | None:
    claimed = _claim_many(services, [email_id], now)
    return claimed[0] if claimed else None


def _ours(emails: list[OutgoingEmail]):
    """Still this worker's claims: 'sending' with the attempt number it claimed them at (the relay's
    claim adds one)."""
    return and_(OutgoingEmail.state == "sending",
                or_(*(and_(OutgoingEmail.id == e.id, OutgoingEmail.attempts == e.attempts) for e in emails)))


def _keep(services: "Services", sent_id: int | None, rest: list[OutgoingEmail], at: datetime) -> list[OutgoingEmail]:
    """One transaction: mark the message just accepted 'sent', and renew the claims on the rest,
    returning those still ours (a message whose claim the relay took is left to the relay)."""
    with services.uow() as uow:
        if sent_id is not None:
            uow.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == sent_id)
                                .values(state="sent", sent_at=utcnow(), last_error=None)
                                .execution_options(synchronize_session=False))
        kept: set[int] = set()
        if rest:
            kept = set(uow.session.execute(
                update(OutgoingEmail).where(_ours(rest)).values(next_attempt_at=at)
                .returning(OutgoingEmail.id).execution_options(synchronize_session=False)
            ).scalars())
        uow.commit()
    return [email for email in rest if email.id in kept]


def _send_all(services: "Services", emails: list[OutgoingEmail], clock: Clock) -> dict[int, tuple[str, bool] | None]:
    """Each message's outcome over one connection: None (accepted) or (error, permanent).

    A message left out is no longer this worker's: the relay took its claim.
    """
    outcomes: dict[int, tuple[str, bool] | None] = {}
    ours = list(emails)
    sent: int | None = None
    try:
        with services.mailer.session() as send:
            while True:
                # Marked at once (a worker killed now re-sends at most the message in flight), and
                # the rest renewed, so none looks stuck while this worker is still at it.
                ours, sent = _keep(services, sent, ours, clock()), None
                if not ours:
                    break
                email = ours.pop(0)
                try:
                    message = build_message(services, email)
                except Exception as exc:  # retrying cannot build it either
                    outcomes[email.id] = (str(exc) if isinstance(exc, UnbuildableEmail) else
                                          f"письмо не составлено: {exc!r}", True)
                    continue
                try:
                    send(message)
                    outcomes[email.id], sent = None, email.id
                except PermanentMailError as exc:
                    outcomes[email.id] = (str(exc), True)
                except Exception as exc:
                    outcomes[email.id] = (repr(exc), False)
    except PermanentMailError as exc:  # could not connect: no message was tried
        for email in ours:
            outcomes.setdefault(email.id, (str(exc), True))
    except Exception as exc:
        for email in ours:
            outcomes.setdefault(email.id, (repr(exc), False))
    if sent is not None:  # accepted just before the connection or the database failed
        try:
            _keep(services, sent, [], clock())
        except Exception:  # left 'sending': the relay sends it once more, never loses it
            log.exception("could not mark email %s sent", sent)
    return outcomes


def _record(services: "Services", emails: list[OutgoingEmail], outcomes: dict, now: datetime,
            closing: Iterable[Write] = ()) -> dict[int, str]:
    """The batch's failures, and the writes closing the work that queued it, in one transaction
    (each accepted message was marked sent as soon as the server took it). A failure is written
    only while the claim is still ours."""
    states: dict[int, str] = {}
    failed: list[tuple[OutgoingEmail, dict]] = []
    for email in emails:
        if email.id not in outcomes:  # the relay took it
            continue
        outcome = outcomes[email.id]
        if outcome is None:
            states[email.id] = "sent"
            continue
        error, permanent = outcome
        if permanent or (now - email.created_at).total_seconds() > services.settings.mail_retry_for:
            states[email.id] = "failed"
            failed.append((email, {"state": "failed", "last_error": error}))
            log.error("email %s failed for good: %s", email.id, error)
        else:
            states[email.id] = "retrying"
            failed.append((email, {"state": "retrying", "next_attempt_at": now + backoff(email.attempts),
                                   "last_error": error}))
            log.warning("email %s will be retried: %s", email.id, error)
    with services.uow() as uow:
        for email, values in failed:
            uow.session.execute(update(OutgoingEmail).where(_ours([email])).values(**values)
                                .execution_options(synchronize_session=False))
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
    started = time.monotonic()

    def clock() -> datetime:  # ``now`` moved on by the time spent here: claims are stamped with it
        return now + timedelta(seconds=time.monotonic() - started)

    ids = list(email_ids)
    closing = list(closing)
    states: dict[int, str] = {}
    for start in range(0, len(ids), CLAIM_CHUNK):
        chunk = ids[start:start + CLAIM_CHUNK]
        last = start + CLAIM_CHUNK >= len(ids)
        emails = _claim_many(services, chunk, now, clock)
        if emails:
            states.update(_record(services, emails, _send_all(services, emails, clock), now,
                                  closing if last else ()))
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
            select(OutgoingEmail.id).where(_due(services, now)).order_by(OutgoingEmail.next_attempt_at).limit(limit)
        ).scalars())


def mail_relay(services: "Services", now: datetime | None = None) -> int:
    """Send what is due (retries, claims left by a dead worker), CLAIM_CHUNK per connection."""
    states = deliver_many(services, due_emails(services, now), now)
    return sum(1 for state in states.values() if state == "sent")
