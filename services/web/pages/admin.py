"""Administration pages (admin role only): people, departments, tokens, the mail log, the audit record.

Each form calls the same use case as the admin API (``services.administration``,
``services.people``), so it is checked and audited the same way. Anyone else
signed in gets the HTML 403 page; nobody signed in goes to the sign-in page.
"""
from __future__ import annotations

import math
from datetime import datetime
from functools import wraps

from flask import flash, redirect, render_template, request, url_for

from services import administration as adm
from services import people
from services.audit_trail import verify as verify_audit_chain
from services.models.mail import MAIL_STATES
from services.models.registry import ROLES, User
from services.web.pages.common import (
    DEPARTMENT_ROLE_LABELS, PAGE_SIZE, Page, actor, as_int, bp, form_errors, login_required, page_number,
    run_action, services, shows_form_errors,
)
from workflows.core import Refusal
from services.adapters.formatting import format_datetime

MAIL_STATE_LABELS = {"queued": "в очереди", "sending": "отправляется", "sent": "отправлено",
                     "retrying": "повторная попытка", "failed": "не отправлено"}
ACTION_LABELS = {
    "user.created": "создан пользователь", "user.updated": "изменён пользователь",
    "user.deactivated": "пользователь отключён", "user.reactivated": "пользователь включён",
    "user.password_set": "установлен пароль", "user.password_link_issued": "выдана ссылка для установки пароля",
    "user.password_link_used": "пароль установлен по ссылке", "token.issued": "выдан токен API",
    "token.revoked": "отозван токен API", "department.created": "создано подразделение",
    "email.retried": "письмо отправлено повторно", "comment.added": "добавлен комментарий",
    "attachment.added": "приложен файл",
}
OBJECT_LABELS = {"user": "пользователь", "api_token": "токен API", "department": "подразделение",
                 "email": "письмо", "information_request": "запрос информации", "report": "отчёт",
                 "amendment": "изменение программы", "program": "программа"}
AUDIT_KEY_LABELS = {"email": "адрес", "name": "имя", "department": "подразделение", "roles": "роли",
                    "is_head": "руководитель", "active": "действует", "had_password": "пароль был",
                    "state": "состояние", "attempts": "попыток", "last_error": "ошибка", "revoked": "отозван",
                    "user_id": "пользователь", "expires_at": "действует до", "emailed": "выслана по почте",
                    "link_id": "ссылка №", "code": "код", "title": "название", "version": "редакция",
                    "comment_id": "комментарий №", "ref": "пункт (ключ)", "ref_label": "к пункту", "text": "текст",
                    "attachment_id": "файл №", "filename": "имя файла", "content_type": "тип",
                    "size": "размер, байт", "sha256": "контрольная сумма"}
TOKEN_STATUS_LABELS = {"active": "действует", "expired": "срок истёк", "revoked": "отозван"}


def audit_values(values, departments: dict[str, str]) -> list[tuple[str, str]]:
    """An audit entry's before/after as (label, value) pairs in Russian: department names, role labels,
    yes/no, local times; anything else as stored."""
    out = []
    for key, value in (values or {}).items() if isinstance(values, dict) else ():
        if key == "department" and isinstance(value, str):
            shown = departments.get(value, value)
        elif key == "roles" and isinstance(value, list):
            shown = ", ".join(DEPARTMENT_ROLE_LABELS.get(r, str(r)) for r in value) or "—"
        elif key == "state" and isinstance(value, str) and value in MAIL_STATE_LABELS:
            shown = MAIL_STATE_LABELS[value]
        elif isinstance(value, bool):
            shown = "да" if value else "нет"
        elif key.endswith("_at") and isinstance(value, str):
            try:
                shown = format_datetime(datetime.fromisoformat(value), services().tz)
            except ValueError:
                shown = value
        elif value is None:
            shown = "—"
        else:
            shown = str(value)
        out.append((AUDIT_KEY_LABELS.get(key, key), shown))
    return out


def admin_required(view):
    """Signed in (else the sign-in page) and an administrator (else the 403 page)."""

    @login_required
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not actor().has_role("admin"):
            return render_template("webui/error.html", title="Нет доступа", status=403,
                                   message="Раздел «Администрирование» доступен только администратору."), 403
        return view(*args, **kwargs)

    return wrapper


def _page(items, total: int) -> Page:
    page = page_number()
    return Page(items, page, max(1, math.ceil(total / PAGE_SIZE)), total, PAGE_SIZE)


def _offset() -> int:
    return (page_number() - 1) * PAGE_SIZE


def _context(**values):
    return {"role_choices": [(r, DEPARTMENT_ROLE_LABELS.get(r, r)) for r in ROLES],
            "mail_state_labels": MAIL_STATE_LABELS, "action_labels": ACTION_LABELS,
            "object_labels": OBJECT_LABELS, "token_status_labels": TOKEN_STATUS_LABELS, **values}


# --- users ------------------------------------------------------------------------------------

@bp.route("/admin", endpoint="admin_home")
@bp.route("/admin/users")
@admin_required
def admin_users():
    q = request.args.get("q", "").strip()[:200]
    department = request.args.get("department", "")
    active = {"1": True, "0": False}.get(request.args.get("active", ""))
    with services().uow() as uow:
        departments = adm.list_departments(uow.session)
        if department not in {d.code for d in departments}:
            department = ""
        rows, total = adm.list_users(uow.session, adm.UserFilter(department=department or None, q=q or None,
                                                                 active=active),
                                     limit=PAGE_SIZE, offset=_offset())
        return render_template("webui/admin_users.html", **_context(
            page=_page(rows, total), q=q, department=department, active=request.args.get("active", ""),
            departments=departments))


def _user_form() -> dict:
    return {"email": request.form.get("email", "").strip(), "name": request.form.get("name", "").strip(),
            "department": request.form.get("department", ""), "roles": request.form.getlist("roles"),
            "is_head": request.form.get("is_head") == "1", "send_link": request.form.get("send_link") == "1"}


def _errors_of(exc: Refusal) -> dict[str, list[str]]:
    errors = {}
    for name, problems in (exc.fields or {}).items():
        errors["roles" if name == "role" else name] = problems if isinstance(problems, list) else [problems]
    return errors


@bp.route("/admin/users/new", methods=["GET", "POST"])
@admin_required
@shows_form_errors
def admin_user_new():
    svc = services()
    values = _user_form() if request.method == "POST" else {"email": "", "name": "", "department": "",
                                                             "roles": [], "is_head": False, "send_link": True}
    errors, message = form_errors(), None
    if request.method == "POST" and not errors:
        if not values["roles"]:
            errors["roles"] = ["Выберите хотя бы одну роль."]
        else:
            try:
                with svc.uow() as uow:
                    user = adm.create_user(uow, svc, email=values["email"], department=values["department"],
                                           roles=values["roles"], name=values["name"], is_head=values["is_head"],
                                           send_link=values["send_link"], by=actor())
                    uow.commit()
                    user_id, email = user.id, user.email
            except Refusal as exc:
                errors, message = _errors_of(exc), exc.message
            else:
                flash(f"Пользователь {email} создан." + (" Ему выслана ссылка для установки пароля."
                                                         if values["send_link"] else ""), "success")
                return redirect(url_for("webui.admin_user", user_id=user_id))
    if errors and message is None:
        message = "Пользователь не создан: исправьте отмеченные поля."
    with svc.uow() as uow:
        departments = _departments(uow.session)
    status = 422 if errors else 200
    return render_template("webui/admin_user_new.html", **_context(
        values=values, errors=errors, message=message, departments=departments)), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
@shows_form_errors
def admin_user(user_id: int):
    svc = services()
    errors, message = form_errors(), None
    if request.method == "POST" and not errors:
        values = _user_form()
        try:
            with svc.uow() as uow:
                adm.update_user(uow, user_id, {"name": values["name"], "department": values["department"],
                                               "roles": values["roles"], "is_head": values["is_head"]},
                                by=actor())
                uow.commit()
        except Refusal as exc:
            if exc.status == 404:
                raise
            errors, message = _errors_of(exc), exc.message
        else:
            flash("Изменения сохранены.", "success")
            return redirect(url_for("webui.admin_user", user_id=user_id))
    if errors and message is None:
        message = "Изменения не сохранены: исправьте отмеченные поля."
    with svc.uow() as uow:
        user = adm.get_user(uow.session, user_id)
        values = _user_form() if request.method == "POST" else {
            "email": user.email, "name": user.name or "", "department": user.department.code,
            "roles": list(user.roles or ()), "is_head": bool(user.is_head)}
        tokens = [people.token_view(t) for t in people.list_tokens(uow.session, user.id, limit=50)]
        history, _ = adm.list_audit(uow.session, adm.AuditFilter(object_type="user", object_id=str(user.id)),
                                    limit=10)
        return render_template("webui/admin_user.html", **_context(
            user=user, values=values, errors=errors, message=message, tokens=tokens, history=history,
            departments=adm.list_departments(uow.session), myself=user.id == actor().user_id,
            names=_user_names(uow.session, [h.actor_id for h in history]))), 422 if errors else 200


@bp.route("/admin/users/<int:user_id>/deactivate", methods=["POST"])
@admin_required
def admin_user_deactivate(user_id: int):
    return _user_action(user_id, lambda uow: adm.deactivate_user(uow, user_id, by=actor()),
                        "Пользователь отключён: его сеансы и токены больше не действуют.")


@bp.route("/admin/users/<int:user_id>/reactivate", methods=["POST"])
@admin_required
def admin_user_reactivate(user_id: int):
    return _user_action(user_id, lambda uow: adm.reactivate_user(uow, user_id, by=actor()),
                        "Пользователь снова включён.")


@bp.route("/admin/users/<int:user_id>/password-link", methods=["POST"])
@admin_required
def admin_user_password_link(user_id: int):
    svc = services()
    hours = svc.settings.password_link_hours
    return _user_action(user_id, lambda uow: adm.send_password_link(uow, svc, user_id, by=actor()),
                        f"Ссылка для установки пароля выслана по почте; она действует один раз, {hours} ч. "
                        "Прежние неиспользованные ссылки больше не действуют.")


def _user_action(user_id: int, change, ok: str):
    svc = services()
    with svc.uow() as uow:
        adm.get_user(uow.session, user_id)  # a user that does not exist is the 404 page

    def act():
        with svc.uow() as uow:
            change(uow)
            uow.commit()

    return run_action(act, ok=ok, back_to=url_for("webui.admin_user", user_id=user_id))


def _departments(session) -> list[dict]:
    return [{"id": d.id, "code": d.code, "name": d.name} for d in adm.list_departments(session)]


def _user_names(session, ids) -> dict[int, User]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    return {u.id: u for u in session.query(User).filter(User.id.in_(ids))}


# --- departments ------------------------------------------------------------------------------

@bp.route("/admin/departments", methods=["GET", "POST"])
@admin_required
@shows_form_errors
def admin_departments():
    svc = services()
    errors, message = form_errors(), None
    values = {"code": request.form.get("code", "").strip(), "title": request.form.get("title", "").strip()}
    if request.method == "POST" and not errors:
        try:
            with svc.uow() as uow:
                dept = adm.create_department(uow, values["code"], values["title"], by=actor())
                uow.commit()
                name = dept.name
        except Refusal as exc:
            errors = {("title" if k == "name" else k): v for k, v in _errors_of(exc).items()}
            message = exc.message
        else:
            flash(f"Подразделение «{name}» создано.", "success")
            return redirect(url_for("webui.admin_departments"))
    if errors and message is None:
        message = "Подразделение не создано: исправьте отмеченные поля."
    with svc.uow() as uow:
        departments = adm.list_departments(uow.session)
        counts = {d.id: 0 for d in departments}
        for user in uow.session.query(User.department_id).filter(User.active.is_(True)):
            counts[user.department_id] = counts.get(user.department_id, 0) + 1
        return render_template("webui/admin_departments.html", **_context(
            departments=departments, counts=counts, values=values, errors=errors, message=message)), \
            422 if errors else 200


# --- tokens -----------------------------------------------------------------------------------

@bp.route("/admin/tokens")
@admin_required
def admin_tokens():
    user_id = as_int(request.args.get("user_id"))
    with services().uow() as uow:
        rows = people.list_tokens(uow.session, user_id, limit=PAGE_SIZE + 1, offset=_offset())
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        owners = _user_names(uow.session, [r.user_id for r in rows] + [user_id])
        page = Page([people.token_view(r) for r in rows], page_number(), page_number() + (1 if more else 0),
                    _offset() + len(rows) + (1 if more else 0), PAGE_SIZE, exact=not more)
        return render_template("webui/admin_tokens.html", **_context(
            page=page, owners=owners, user_id=user_id, owner=owners.get(user_id)))


@bp.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
@admin_required
def admin_token_revoke(token_id: int):
    svc = services()

    def act():
        with svc.uow() as uow:
            people.revoke_token(uow, token_id, owner_id=None, by=actor())
            uow.commit()

    back = request.form.get("back") or ""
    return run_action(act, ok="Токен отозван.",
                      back_to=back if back.startswith("/admin/") and not back.startswith("//")
                      else url_for("webui.admin_tokens"))


# --- the mail log -----------------------------------------------------------------------------

@bp.route("/admin/mail")
@admin_required
def admin_mail():
    state = request.args.get("state", "")
    state = state if state in MAIL_STATES else ""
    recipient = request.args.get("recipient", "").strip()[:320]
    with services().uow() as uow:
        rows, total = adm.list_mail(uow.session, state=state or None, recipient=recipient or None,
                                    limit=PAGE_SIZE, offset=_offset())
        return render_template("webui/admin_mail.html", **_context(
            page=_page(rows, total), state=state, recipient=recipient, states=MAIL_STATES))


@bp.route("/admin/mail/<int:email_id>/retry", methods=["POST"])
@admin_required
def admin_mail_retry(email_id: int):
    svc = services()
    with svc.uow() as uow:
        adm.get_email(uow.session, email_id)  # an email that does not exist is the 404 page

    def act():
        with svc.uow() as uow:
            adm.retry_email(uow, svc, email_id, by=actor())
            uow.commit()

    response = run_action(act, ok="Письмо поставлено в очередь повторно.", back_to=url_for("webui.admin_mail"))
    with svc.uow() as uow:
        email = adm.get_email(uow.session, email_id)
        if email.state == "sent":
            flash(f"Письмо №{email.id} для {email.recipient} отправлено.", "success")
        elif email.state in ("retrying", "failed") and email.last_error:
            flash(f"Письмо №{email.id} снова не отправлено: {email.last_error}", "error")
    return response


# --- the audit record -------------------------------------------------------------------------

@bp.route("/admin/audit")
@admin_required
def admin_audit():
    f = adm.AuditFilter(object_type=request.args.get("object_type", "").strip()[:64] or None,
                        object_id=request.args.get("object_id", "").strip()[:64] or None,
                        actor_id=as_int(request.args.get("actor_id")))
    if f.actor_id is not None and f.actor_id >= 2 ** 31:
        f.actor_id = -1  # no such user; an id no column holds is no 500
    check = checkpoint_at = None
    svc = services()
    if request.args.get("check") == "1":
        check = verify_audit_chain(svc)
        if check.checkpoint and check.checkpoint.get("at"):
            checkpoint_at = datetime.fromisoformat(check.checkpoint["at"])
    with svc.uow() as uow:
        rows, total = adm.list_audit(uow.session, f, limit=PAGE_SIZE, offset=_offset())
        types = adm.audit_object_types(uow.session)
        names = _user_names(uow.session, [r.actor_id for r in rows] + [f.actor_id])
        actors = uow.session.query(User).order_by(User.name, User.email).limit(1000).all()
        departments = {d["code"]: d["name"] for d in _departments(uow.session)}
        return render_template("webui/admin_audit.html", **_context(
            page=_page(rows, total), f=f, types=types, names=names, actors=actors, check=check,
            checkpoint_at=checkpoint_at, values=lambda v: audit_values(v, departments)))
