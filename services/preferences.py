"""A user's own settings: reminder delivery and the calendar feed of their deadlines.

Each change is audited like the API's token changes; the feed token, like an API token, is
shown once and kept only as its SHA-256.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select

from services.adapters import audit
from services.models.registry import User
from services.models.requests import InformationRequest, RequestThread
from services.people import hash_token, list_tokens, token_view
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor, Invalid, NotFound
from workflows.information_request import AWAITING_ADDRESSEE
from workflows.registration import label as registration_label
from workflows.time_zones import time_in_words
from services.adapters.formatting import format_date

REMINDER_MODES = ("digest", "single")
REMINDER_MODE_LABELS = {
    "digest": "Одним письмом-сводкой (несколько напоминаний за раз)",
    "single": "Отдельным письмом на каждое напоминание",
}


def set_reminder_mode(uow: UnitOfWork, user_id: int, mode: str, *, by: Actor | None = None) -> User:
    if mode not in REMINDER_MODES:
        raise Invalid("Недопустимый режим.", fields={
            "reminder_mode": ["Выберите: одним письмом-сводкой или отдельными письмами."]})
    user = uow.session.get(User, user_id)
    if user.reminder_mode != mode:
        audit.record(uow, action="user.reminder_mode_set", object_type="user", object_id=user.id, actor=by,
                     before={"reminder_mode": user.reminder_mode}, after={"reminder_mode": mode})
    user.reminder_mode = mode
    return user


def issue_calendar_token(uow: UnitOfWork, user_id: int, *, by: Actor | None = None) -> str:
    """A new feed token; the previous one stops working (revocation by replacement)."""
    token = secrets.token_urlsafe(24)
    user = uow.session.get(User, user_id)
    had = user.calendar_token_hash is not None
    user.calendar_token_hash = hash_token(token)
    # The token itself is never recorded, nor its hash.
    audit.record(uow, action="calendar_feed.issued", object_type="user", object_id=user.id, actor=by,
                 before={"calendar_feed": had}, after={"calendar_feed": True})
    return token


def revoke_calendar_token(uow: UnitOfWork, user_id: int, *, by: Actor | None = None) -> None:
    user = uow.session.get(User, user_id)
    if user.calendar_token_hash is None:
        return
    user.calendar_token_hash = None
    audit.record(uow, action="calendar_feed.revoked", object_type="user", object_id=user.id, actor=by,
                 before={"calendar_feed": True}, after={"calendar_feed": False})


def calendar_feed_url(base_url: str, token: str) -> str:
    """The private address a calendar app subscribes to (the token is in it: keep it like a password)."""
    return f"{base_url}/api/v1/me/deadlines.ics?token={token}"


def user_for_calendar_token(session, token: str) -> User:
    user = session.execute(select(User).where(User.calendar_token_hash == hash_token(token or ""))).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound("Календарь не найден или ссылка отозвана.")
    return user


def open_deadlines(session, user: User) -> list[InformationRequest]:
    """Requests the user's department owes an answer to, and those it waits on."""
    return list(session.execute(
        select(InformationRequest).join(RequestThread)
        .where(InformationRequest.state.in_(AWAITING_ADDRESSEE), InformationRequest.due_date.is_not(None))
        .where((InformationRequest.department_id == user.department_id)
               | (RequestThread.requester_department_id == user.department_id))
        .order_by(InformationRequest.due_date)
    ).unique().scalars())


def deadlines_ics(session, services, user: User) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//interdept//deadlines//RU")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Сроки: межведомственные запросы")
    for req in open_deadlines(session, user):
        event = Event()
        event.add("uid", f"request-{req.id}-r{req.deadline_revision}@interdept")
        owes = req.department_id == user.department_id
        event.add("summary", f"{'Ответить' if owes else 'Ожидается ответ'}: запрос {registration_label(req)} «{req.thread.subject}»")
        event.add("dtstart", req.due_date)
        event.add("dtend", req.due_date + timedelta(days=1))
        event.add("dtstamp", req.updated_at)
        event.add("url", f"{services.settings.base_url}/requests/{req.id}")
        event.add("description", f"Срок: {format_date(req.due_date)}, до 23:59 ({time_in_words(services.settings.timezone)}).")
        cal.add_component(event)
    return cal.to_ical()


TOKEN_STATUS_LABELS = {"active": "действует", "expired": "истёк", "revoked": "отозван"}


def profile(session, user_id: int) -> dict:
    """What the profile page shows: the person, their reminder mode, whether a feed link exists,
    and their own API tokens (newest first, never a token or its hash)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Пользователь не найден.")
    return {"name": user.name or user.email, "email": user.email, "department": user.department.name,
            "reminder_mode": user.reminder_mode, "calendar_feed": user.calendar_token_hash is not None,
            "tokens": [token_view(row) for row in list_tokens(session, user_id, limit=200)]}
