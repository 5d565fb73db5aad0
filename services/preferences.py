"""A user's own settings: reminder delivery and the calendar feed of their deadlines."""
from __future__ import annotations

import secrets
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select

from services.models.registry import User
from services.models.requests import InformationRequest, RequestThread
from services.people import hash_token
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Invalid, NotFound
from workflows.information_request import AWAITING_ADDRESSEE

REMINDER_MODES = ("digest", "single")


def set_reminder_mode(uow: UnitOfWork, user_id: int, mode: str) -> User:
    if mode not in REMINDER_MODES:
        raise Invalid("Недопустимый режим.", fields={"reminder_mode": ["digest или single."]})
    user = uow.session.get(User, user_id)
    user.reminder_mode = mode
    return user


def issue_calendar_token(uow: UnitOfWork, user_id: int) -> str:
    """A new feed token; the previous one stops working (revocation by replacement)."""
    token = secrets.token_urlsafe(24)
    uow.session.get(User, user_id).calendar_token_hash = hash_token(token)
    return token


def revoke_calendar_token(uow: UnitOfWork, user_id: int) -> None:
    uow.session.get(User, user_id).calendar_token_hash = None


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
        event.add("summary", f"{'Ответить' if owes else 'Ожидается ответ'}: запрос №{req.id} «{req.thread.subject}»")
        event.add("dtstart", req.due_date)
        event.add("dtend", req.due_date + timedelta(days=1))
        event.add("dtstamp", req.updated_at)
        event.add("url", f"{services.settings.base_url}/requests/{req.id}")
        event.add("description", f"Срок: {req.due_date:%d.%m.%Y}, до 23:59 ({services.settings.timezone}).")
        cal.add_component(event)
    return cal.to_ical()
