"""The caller's own preferences, and their deadlines as an iCalendar feed."""
from __future__ import annotations

from flask import Response, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from services import preferences
from services.web.api.auth import login_required
from services.web.api.contract import file_response, public, refuses
from services.models.registry import User
from services.web.context import current_services

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="Мои настройки")


class PreferencesIn(Schema):
    reminder_mode = fields.String(required=True, validate=validate.OneOf(preferences.REMINDER_MODES))


class PreferencesOut(Schema):
    reminder_mode = fields.String()
    calendar_feed = fields.Boolean(metadata={"description": "Выдана ли ссылка на календарь сроков"})


class CalendarTokenOut(Schema):
    url = fields.String(metadata={"description": "Адрес ленты для календаря (показывается один раз)"})
    token = fields.String()


class CalendarFeedQuery(Schema):
    token = fields.String(load_default="", metadata={"description": "Токен ленты из POST /api/v1/me/calendar-token"})


@blp.route("/preferences")
@login_required
@blp.response(200, PreferencesOut)
def get_preferences():
    """Reminder delivery: one digest for several reminders, or single emails."""
    with current_services().uow() as uow:
        user = uow.session.get(User, g.actor.user_id)
        return {"reminder_mode": user.reminder_mode, "calendar_feed": bool(user.calendar_token_hash)}


@blp.route("/preferences", methods=["PUT"])
@login_required
@blp.arguments(PreferencesIn)
@blp.response(200, PreferencesOut)
def put_preferences(body):
    with current_services().uow() as uow:
        user = preferences.set_reminder_mode(uow, g.actor.user_id, body["reminder_mode"], by=g.actor)
        uow.commit()
        return {"reminder_mode": user.reminder_mode, "calendar_feed": bool(user.calendar_token_hash)}


@blp.route("/calendar-token", methods=["POST"])
@login_required
@blp.response(201, CalendarTokenOut)
def new_calendar_token():
    """A new private feed URL (shown once); the previous URL stops working."""
    services = current_services()
    with services.uow() as uow:
        token = preferences.issue_calendar_token(uow, g.actor.user_id, by=g.actor)
        uow.commit()
    return {"url": preferences.calendar_feed_url(services.settings.base_url, token), "token": token}


@blp.route("/calendar-token", methods=["DELETE"])
@login_required
@blp.response(204)
def revoke_calendar_token():
    with current_services().uow() as uow:
        preferences.revoke_calendar_token(uow, g.actor.user_id, by=g.actor)
        uow.commit()
    return ""


@blp.route("/deadlines.ics")
@public(blp)
@blp.arguments(CalendarFeedQuery, location="query")
@file_response(blp, "text/calendar", description="iCalendar (RFC 5545): one event per open deadline.")
@refuses(blp, 404)
def deadlines_ics(args):
    """Open deadlines of the token owner's department (token in the URL, for calendar apps; no bearer token)."""
    services = current_services()
    with services.uow() as uow:
        user = preferences.user_for_calendar_token(uow.session, args["token"])
        body = preferences.deadlines_ics(uow.session, services, user)
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "private, max-age=300"})
