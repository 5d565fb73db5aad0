"""Sessions for people using the web pages: a server-side session row, idle expiry, CSRF on every form.

The signed cookie holds only a random session id; ``web_sessions`` keeps its
SHA-256 with the user, when it was created and last used and whether it was
revoked. Every request reads that row with its user in one indexed query, so
logout (this browser), a password change and deactivation (all of the user's
browsers) end a session at once, even for a copy of the cookie saved before.
The JSON API under /api/ uses bearer tokens, never this cookie, and is exempt from CSRF.
"""
from __future__ import annotations

import os
import secrets
from functools import wraps
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import Flask, g, redirect, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from services.models.registry import User
from services import people
from services.people import detached
from services.registry import actor_for
from services.web.context import client_address, current_services
from workflows.core import Actor
from services.web.api.errors import error_response

IDLE_TIMEOUT = people.SESSION_IDLE
API_PREFIX = "/api/"

csrf = CSRFProtect()


def _secret_key(var_dir: Path) -> str:
    """SECRET_KEY from the environment, else one made once and kept (0600) under the var dir."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def init_web_session(app: Flask) -> None:
    settings = app.extensions["interdept"].settings
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(settings.var_dir)
    app.config.update(
        # Secure unless the service is served over plain http (development).
        SESSION_COOKIE_SECURE=_flag("SESSION_COOKIE_SECURE", settings.base_url.startswith("https://")),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="interdept_session",
        PERMANENT_SESSION_LIFETIME=IDLE_TIMEOUT,
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", int(IDLE_TIMEOUT.total_seconds()))
    # We decide which requests are checked (every non-API unsafe method), not flask-wtf's default hook.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.before_request
    def _load_web_user():
        # Read the signed-in user before any view opens its own unit of work: on SQLite a second
        # transaction inside a view's would wait for the first one's write lock.
        if "sid" in session and not request.path.startswith(API_PREFIX):
            current_web_user()

    @app.before_request
    def _csrf_for_forms():
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return None
        if request.path.startswith(API_PREFIX):
            return None  # bearer tokens: a browser never sends them on its own
        csrf.protect(apply_exemptions=True)
        return None

    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        message = "Форма устарела или отправлена не с этой страницы. Обновите страницу и повторите."
        if request.accept_mimetypes.accept_html and not request.accept_mimetypes.accept_json:
            return (f"<!doctype html><meta charset=utf-8><title>Ошибка формы</title><p>{message}</p>", 400,
                    {"Content-Type": "text/html; charset=utf-8"})
        return error_response(400, "csrf_failed", message)


def login_user(user: User) -> None:
    """Start a fresh session for ``user`` (the old contents are dropped: no fixation)."""
    with current_services().uow() as uow:
        sid = people.start_session(uow, user.id)
        uow.commit()
    session.clear()
    session.permanent = True
    session["sid"] = sid
    g.pop("_web_user", None)
    g.pop("web_session_id", None)


def logout_user() -> None:
    """End this browser's session on the server: a saved copy of the cookie no longer signs in."""
    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        with current_services().uow() as uow:
            people.end_session(uow, sid)
            uow.commit()
    session.clear()
    g.pop("_web_user", None)
    g.pop("web_session_id", None)


def current_web_user() -> User | None:
    """The signed-in, still active user of this request, or None (and the session is then cleared)."""
    if "_web_user" in g:
        return g._web_user
    user = None
    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        with current_services().uow() as uow:
            found = people.session_user(uow, sid)
            if found is not None:
                g.web_session_id = found[0].id
                user = detached(uow.session, found[1])
        if user is None:
            session.clear()
    g._web_user = user
    return user


def current_web_session_id() -> int | None:
    """The row id of this request's session (to keep it when its user changes their own password)."""
    return g.get("web_session_id") if current_web_user() is not None else None


def current_web_actor() -> Actor | None:
    user = current_web_user()
    return actor_for(user, client_address()) if user is not None else None


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: ?next=https://evil.example/ becomes ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def web_login_required(view):
    """Pages for signed-in people: others go to /login?next=<this page>."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_web_user() is None:
            target = request.full_path if request.query_string else request.path
            return redirect(f"/login?next={quote(target, safe='/')}")
        return view(*args, **kwargs)

    return wrapper
