"""Sessions for people using the web pages: signed cookie, idle expiry, CSRF on every form.

The cookie holds only the user id, a stamp of the password hash (a password
change or reset ends every other session) and when it was last used. Every
request reads the user again, so a deactivated user is out at once. The JSON
API under /api/ uses bearer tokens, never this cookie, and is exempt from CSRF.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import time
from datetime import timedelta
from functools import wraps
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import Flask, g, redirect, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from services.models.registry import User
from services.people import detached
from services.registry import actor_for
from services.web.context import client_address, current_services
from workflows.core import Actor
from services.web.api.errors import error_response

IDLE_TIMEOUT = timedelta(hours=8)
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
        if "uid" in session and not request.path.startswith(API_PREFIX):
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


def _stamp(user: User) -> str:
    return hashlib.sha256((user.password_hash or "no-password").encode()).hexdigest()[:16]


def login_user(user: User) -> None:
    """Start a fresh session for ``user`` (the old contents are dropped: no fixation)."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["stamp"] = _stamp(user)
    session["seen"] = int(time.time())
    g.pop("_web_user", None)


def logout_user() -> None:
    session.clear()
    g.pop("_web_user", None)


def current_web_user() -> User | None:
    """The signed-in, still active user of this request, or None (and the session is then cleared)."""
    if "_web_user" in g:
        return g._web_user
    user = None
    uid = session.get("uid")
    if uid is not None:
        now = int(time.time())
        seen = session.get("seen", 0)
        if now - int(seen) <= IDLE_TIMEOUT.total_seconds():
            with current_services().uow() as uow:
                found = uow.session.get(User, uid)
                if found is not None and found.active and session.get("stamp") == _stamp(found):
                    user = detached(uow.session, found)
        if user is None:
            session.clear()
        elif now - int(seen) >= 60:  # refresh the idle clock at most once a minute
            session["seen"] = now
    g._web_user = user
    return user


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
