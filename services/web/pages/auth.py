"""Sign-in and sign-out: the people module checks the password, the session module remembers who."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from services.web.context import client_address
from services.web.pages.common import bp, current_actor_or_none, safe_next, services, welcome
from workflows.core import Refusal
from services import people
from services.web import session as web_session


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next"), url_for("webui.home"))
    if request.method == "GET":
        if current_actor_or_none() is not None:
            return redirect(target)
        return render_template("webui/login.html", next=target, email="")
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    try:
        user = people.sign_in(services(), email, password, client_address())
    except Refusal as exc:
        return render_template("webui/login.html", next=target, email=email, error=exc.message), exc.status
    web_session.login_user(user)
    flash(welcome(user), "success")
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout():
    web_session.logout_user()
    flash("Вы вышли из системы.", "success")
    return redirect(url_for("webui.login"))
