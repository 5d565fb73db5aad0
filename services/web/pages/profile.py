"""The signed-in person's own page: password, reminder delivery, the calendar-feed link, API tokens.

``/me`` and ``/me/preferences`` (the address every email's footer links to) show the same page;
each form posts to its own route, which calls one use case in ``services.people`` or
``services.preferences`` and comes back here. A secret made here (a feed link, an API token) is
shown once, in the answer to the form that made it, and never stored but as its hash.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from services import people, preferences, watchers
from services.web import session as web_session
from services.web.input_guard import FORM_REFUSED
from services.web.pages.common import (
    actor, as_int, bp, form_errors, login_required, services, shows_form_errors,
)
from services.web.pages.lists import department_names
from workflows.core import Refusal

# The use cases' field names -> this page's form fields.
_TOKEN_FIELDS = {"name": "token_name", "expires_in_days": "token_days"}


def _page(*, errors: dict | None = None, message: str | None = None, section: str | None = None,
          new_token: dict | None = None, feed_url: str | None = None, status: int = 200, values=None):
    svc = services()
    with svc.uow() as uow:
        me = preferences.profile(uow.session, actor().user_id)
        names = department_names(uow.session)
        followed = watchers.followed_by(uow.session, actor())
    return render_template(
        "webui/profile.html", title="Профиль", me=me, names=names, errors=errors or {}, message=message,
        followed=followed,
        section=section, new_token=new_token, feed_url=feed_url, values=values or {},
        modes=preferences.REMINDER_MODE_LABELS, token_status=preferences.TOKEN_STATUS_LABELS,
        max_days=people.MAX_TOKEN_DAYS, default_days=people.DEFAULT_TOKEN_DAYS,
        min_password=people.MIN_PASSWORD_LENGTH), status


def _field_errors(exc: Refusal, names: dict[str, str] | None = None) -> dict[str, list[str]]:
    names = names or {}
    return {names.get(k, k): (v if isinstance(v, list) else [str(v)]) for k, v in (exc.fields or {}).items()}


def _back(anchor: str):
    return redirect(url_for("webui.profile_page", _anchor=anchor))


@bp.route("/me")
@login_required
def profile_page():
    return _page()


@bp.route("/me/preferences")
@login_required
def preferences_page():
    """The address in every email's footer: the same page, the reminder settings first in view."""
    return _page()


@bp.route("/me/password", methods=["POST"])
@login_required
@shows_form_errors
def change_password():
    errors = form_errors()
    if errors:
        return _page(errors=errors, message=FORM_REFUSED, section="password", status=422)
    svc, me = services(), actor()
    try:
        with svc.uow() as uow:
            people.change_own_password(
                uow, svc, me.user_id, request.form.get("current_password", ""),
                request.form.get("new_password", ""), request.form.get("new_password_confirm", ""),
                keep_session_id=web_session.current_web_session_id(), by=me)
            uow.commit()
    except Refusal as exc:
        return _page(errors=_field_errors(exc), message=exc.message, section="password", status=exc.status)
    flash("Пароль изменён. Вход в других браузерах завершён; на ваш адрес отправлено письмо об этом.", "success")
    return _back("password")


@bp.route("/me/reminders", methods=["POST"])
@login_required
@shows_form_errors
def set_reminders():
    errors = form_errors()
    if errors:
        return _page(errors=errors, message=FORM_REFUSED, section="reminders", status=422)
    svc, me = services(), actor()
    mode = request.form.get("reminder_mode", "")
    try:
        with svc.uow() as uow:
            preferences.set_reminder_mode(uow, me.user_id, mode, by=me)
            uow.commit()
    except Refusal as exc:
        return _page(errors=_field_errors(exc), message=exc.message, section="reminders", status=exc.status)
    flash("Сохранено: напоминания приходят " + ("одним письмом-сводкой." if mode == "digest"
                                                 else "отдельным письмом на каждое."), "success")
    return _back("reminders")


@bp.route("/me/calendar", methods=["POST"])
@login_required
def new_calendar_link():
    """A new private feed link, shown in this answer only; the previous link stops working."""
    svc, me = services(), actor()
    with svc.uow() as uow:
        token = preferences.issue_calendar_token(uow, me.user_id, by=me)
        uow.commit()
    return _page(feed_url=preferences.calendar_feed_url(svc.settings.base_url, token), section="calendar")


@bp.route("/me/calendar/revoke", methods=["POST"])
@login_required
def revoke_calendar_link():
    svc, me = services(), actor()
    with svc.uow() as uow:
        preferences.revoke_calendar_token(uow, me.user_id, by=me)
        uow.commit()
    flash("Ссылка на календарь отозвана: календарь по ней больше не открывается.", "success")
    return _back("calendar")


@bp.route("/me/tokens", methods=["POST"])
@login_required
@shows_form_errors
def create_token():
    errors = form_errors()
    values = {"token_name": request.form.get("token_name", ""), "token_days": request.form.get("token_days", "")}
    if errors:
        return _page(errors=errors, message=FORM_REFUSED, section="tokens", status=422, values=values)
    raw_days = values["token_days"].strip()
    days = as_int(raw_days)
    if raw_days and days is None:
        return _page(errors={"token_days": [f"Целое число дней от 1 до {people.MAX_TOKEN_DAYS}."]},
                     message="Токен не создан.", section="tokens", status=422, values=values)
    svc, me = services(), actor()
    try:
        with svc.uow() as uow:
            row, token = people.create_own_token(uow, me.user_id, values["token_name"], days, by=me)
            uow.commit()
            shown = {**people.token_view(row), "token": token}
    except Refusal as exc:
        return _page(errors=_field_errors(exc, _TOKEN_FIELDS), message=exc.message, section="tokens",
                     status=exc.status, values=values)
    return _page(new_token=shown, section="tokens")


@bp.route("/me/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    """One's own token only: anyone else's is 'not found', exactly as one that does not exist."""
    svc, me = services(), actor()
    with svc.uow() as uow:
        row = people.revoke_token(uow, token_id, owner_id=me.user_id, by=me)
        name = row.name
        uow.commit()
    flash(f"Токен «{name}» отозван: программы с ним больше не войдут.", "success")
    return _back("tokens")
