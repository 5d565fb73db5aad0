"""The public page behind a one-time password link: set a password, then go on signed in.

A link that is unknown, used, expired or of a disabled account gets a page saying
so in Russian (404 or 410), never a 500; the form's password rules are those of
every other password (services.people.check_password_rules).
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from services import people
from services.models.registry import User
from services.web import session as web_session
from services.web.context import client_address
from services.web.pages.common import bp, form_errors, services, shows_form_errors, welcome
from workflows.core import Invalid


def _gone(exc: people.PasswordLinkInvalid):
    return render_template("webui/password_link_invalid.html", message=exc.message,
                           title="Ссылка не действует"), exc.status


@bp.route("/password/set/<token>", methods=["GET", "POST"])
@shows_form_errors
def password_set(token: str):
    svc = services()
    try:
        with svc.uow() as uow:
            link = people.password_link(uow.session, svc, token)
            email = uow.session.get(User, link.user_id).email
    except people.PasswordLinkInvalid as exc:
        return _gone(exc)
    errors = form_errors()
    if request.method == "POST" and not errors:
        password = request.form.get("password", "")
        if password != request.form.get("password_repeat", ""):
            errors = {"password_repeat": ["Пароли не совпадают."]}
        else:
            try:
                with svc.uow() as uow:
                    user = people.use_password_link(uow, svc, token, password, address=client_address())
                    uow.commit()
                    user = people.detached(uow.session, user)
            except people.PasswordLinkInvalid as exc:
                return _gone(exc)
            except Invalid as exc:
                errors = {k: (v if isinstance(v, list) else [v]) for k, v in (exc.fields or {}).items()}
            else:
                web_session.login_user(user)
                flash(f"Пароль установлен. {welcome(user)}", "success")
                return redirect(url_for("webui.home"))
    return render_template("webui/password_set.html", email=email, errors=errors, token=token,
                           hours=svc.settings.password_link_hours,
                           min_length=people.MIN_PASSWORD_LENGTH), 422 if errors else 200
