"""What every page shares: the blueprint, the signed-in actor, refusals shown as pages, paging."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import wraps
from typing import Sequence
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from services.web.context import current_services
from workflows.core import Actor, Invalid, NotAllowedNow, Refusal
from services.web import session as web_session

bp = Blueprint("webui", __name__, template_folder="templates", static_folder="static",
               static_url_path="/ui/static")

DEPARTMENT_ROLE_LABELS = {
    "executor": "ответственный исполнитель",
    "co_executor": "соисполнитель",
    "economic_policy": "отдел экономической политики",
    "finance": "финансовый отдел",
    "admin": "администратор",
}


def _web_session():
    # Imported on use: the sessions module is registered by create_app, and this package must not
    # fail to import before it (the API tests create the app too).

    return web_session


def actor() -> Actor:
    """The signed-in user; pages are only reached through ``login_required``."""
    return g.web_actor


def login_required(view):
    """``web_session.web_login_required`` applied at request time, plus ``g.web_actor``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        ws = _web_session()

        def inner(*a, **kw):
            who = ws.current_web_actor()
            if who is None:  # the session's own decorator should have redirected already
                return redirect(url_for("webui.login", next=request.full_path))
            g.web_actor = who
            return view(*a, **kw)

        return ws.web_login_required(inner)(*args, **kwargs)

    wrapper.requires_sign_in = True  # the input guard checks its form only once the caller is signed in
    return wrapper


def shows_form_errors(view):
    """The view shows the input guard's refusals at their fields itself (``form_errors()``)."""
    view.shows_form_errors = True
    return view


def form_errors() -> dict[str, list[str]]:
    """What the input guard found wrong with this request's form (``services.web.fields``)."""
    return dict(g.get("form_errors") or {})


def welcome(user) -> str:
    """The greeting after sign-in; a name ending in an initial ("Иванов И. И.") keeps one full stop."""
    return f"Добро пожаловать, {(user.name or user.email).rstrip('.')}."


def current_actor_or_none() -> Actor | None:
    try:
        return _web_session().current_web_actor()
    except Exception:  # noqa: BLE001 - the public pages render without sign-in machinery
        return None


@bp.app_context_processor
def _inject():
    return {"web_actor": getattr(g, "web_actor", None), "role_labels": DEPARTMENT_ROLE_LABELS}


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths (the session module's rule)."""
    return _web_session().safe_next(target, default)


def back(default_endpoint: str, **values) -> str:
    return safe_next(request.form.get("back"), url_for(default_endpoint, **values))


def refusal_text(exc: Refusal) -> str:
    """The message, each field's problems, and for 'not now' what is possible instead."""
    parts = [exc.message]
    for name, problems in (exc.fields or {}).items():
        problems = problems if isinstance(problems, list) else [problems]
        parts.append(f"{field_label(name)}: {' '.join(map(str, problems))}")
    labels = exc.allowed_labels if isinstance(exc, NotAllowedNow) else None
    if labels is not None:  # the workflow's own words for what is possible instead
        parts.append("Сейчас вам доступно: " + (", ".join(labels) if labels else "ничего") + ".")
    return " ".join(parts)


FIELD_LABELS = {
    "comment": "Комментарий", "working_days": "Рабочих дней", "addressees": "Адресаты",
    "assignee_id": "Сотрудник", "data.note": "Пояснительная записка", "data.remarks": "Замечания",
    "data.resolution_number": "Номер постановления", "data.resolution_date": "Дата постановления",
    "justification": "Обоснование", "changes": "Изменения", "review_working_days": "Срок согласования",
    "subject": "Тема", "program": "Программа", "file": "Файл", "event": "Действие", "ref": "К чему относится",
}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def flash_refusal(exc: Refusal) -> None:
    flash(refusal_text(exc), "error")


def run_action(fn, *, ok: str, back_to: str, on_invalid=None):
    """Run a use case; success flashes ``ok``, a refusal flashes why; either way back to the page.

    ``on_invalid(exc)``: a refusal naming fields (a required comment left empty) is shown by
    that view at the fields themselves, with their own labels, instead of in a banner.
    """
    try:
        fn()
    except Invalid as exc:
        if on_invalid is not None and exc.fields:
            return on_invalid(exc)
        flash_refusal(exc)
    except Refusal as exc:
        flash_refusal(exc)
    except StaleDataError:
        flash("Запись изменена другим пользователем; обновите страницу и повторите.", "error")
    else:
        flash(ok, "success")
    return redirect(back_to)


@bp.errorhandler(Refusal)
def _refusal_page(exc: Refusal):
    return render_template("webui/error.html", title="Действие невозможно" if exc.status != 404 else "Не найдено",
                           message=refusal_text(exc), status=exc.status), exc.status


@bp.errorhandler(StaleDataError)
def _stale_page(_exc):
    return render_template("webui/error.html", title="Конфликт изменений",
                           message="Запись изменена другим пользователем; обновите страницу и повторите.",
                           status=409), 409


# --- lists: search and pages -------------------------------------------------------

PAGE_SIZE = 20
MAX_PAGE = 100_000  # the API's own bound; an OFFSET past it is nobody's page


@dataclass
class Page:
    items: Sequence
    page: int
    pages: int
    total: int
    size: int
    exact: bool = True  # False: ``total`` is a lower bound (services.lists counts only so far)

    @property
    def has_next(self) -> bool:
        return self.page * self.size < self.total

    def url(self, number: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(number)
        return request.path + "?" + urlencode(args)


def page_number() -> int:
    try:
        return min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


def paginate(items: Sequence, size: int = PAGE_SIZE) -> Page:
    total = len(items)
    pages = max(1, math.ceil(total / size))
    page = min(page_number(), pages)
    return Page(items[(page - 1) * size: page * size], page, pages, total, size)


def matches(query: str, *texts) -> bool:
    """Case-insensitive search across a row's visible texts; every word must be found."""
    if not query:
        return True
    haystack = " ".join(str(t) for t in texts if t is not None).casefold()
    return all(word in haystack for word in query.casefold().split())


def services():
    return current_services()


def as_int(text: str | None) -> int | None:
    """A form or query value of plain digits as an int, else None. Not ``str.isdigit``: it accepts
    "²", which ``int`` rejects (a crafted form value was a 500)."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def not_found() -> None:
    abort(404)
