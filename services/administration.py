"""The administrator's use cases: people, departments, tokens, the mail log and the audit record.

The JSON API (services.web.api.admin, mail_log) and the administration pages
(services.web.pages.admin) both call these, so an action is checked and audited
the same way whichever door it came through. The caller checks the admin role;
each function refuses what no administrator may do (disable themselves).
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from services import people
from services.adapters import audit
from services.adapters.mail import deliver_many, unbuildable_reason
from services.adapters.unit_of_work import UnitOfWork
from services.models.audit import AuditEntry
from services.models.mail import OutgoingEmail
from services.models.registry import ROLES, Department, User
from services.registry import create_user as _create_user
from workflows.core import Actor, Conflict, Invalid, NotFound


def user_view(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name or "", "department": user.department.code,
            "roles": list(user.roles or ()), "is_head": bool(user.is_head), "active": bool(user.active),
            "deactivated_at": user.deactivated_at, "created_at": user.created_at,
            "has_password": user.password_hash is not None}


def department_view(dept: Department) -> dict:
    return {"id": dept.id, "code": dept.code, "name": dept.name}


def get_user(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Пользователь не найден.")
    return user


def _department(session, code: str) -> Department:
    dept = session.execute(select(Department).where(Department.code == code)).scalar_one_or_none()
    if dept is None:
        raise Invalid("Нет такого подразделения.", fields={"department": [f"Неизвестный код: {code}."]})
    return dept


def _not_myself(user: User, by: Actor | None, what: str) -> None:
    if by is not None and user.id == by.user_id:
        raise Invalid(f"Нельзя {what} собственную учётную запись: попросите другого администратора.")


# --- users ---------------------------------------------------------------------------------

@dataclass
class UserFilter:
    department: str | None = None
    q: str | None = None
    active: bool | None = None


def list_users(session, f: UserFilter, *, limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
    query = select(User).join(Department)
    if f.department:
        query = query.where(Department.code == f.department)
    if f.active is not None:
        query = query.where(User.active.is_(f.active))
    if f.q:
        like = f"%{f.q.lower()}%"
        query = query.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(session.execute(query.order_by(User.id).offset(offset).limit(limit)).scalars())
    return rows, total


def create_user(uow: UnitOfWork, services, *, email: str, department: str, roles: list[str], name: str = "",
                is_head: bool = False, password: str | None = None, send_link: bool = False,
                by: Actor | None = None) -> User:
    """A new person (no API token: they make their own). With ``password`` they can sign in at once;
    with ``send_link`` they get an email with a one-time link to set their password."""
    if password is not None:
        people.check_password_rules(password)
    user, _ = _create_user(uow, email=email, department=department, roles=roles, name=name, is_head=is_head,
                           by=by, with_token=False)
    if password is not None:
        people.set_password(uow, user, password, by=by)
    if send_link:
        people.issue_password_link(uow, services, user, by=by)
    return user


def update_user(uow: UnitOfWork, user_id: int, changes: dict, *, by: Actor | None = None) -> User:
    """Change name, department, roles or the head flag (keys of ``changes``); before and after of what
    changed go to the audit log."""
    user = get_user(uow.session, user_id)
    before = user_view(user)
    if "roles" in changes:
        roles = sorted(set(changes["roles"]))
        bad = [r for r in roles if r not in ROLES]
        if not roles or bad:
            raise Invalid("Изменения не сохранены.", fields={"roles": ["Выберите хотя бы одну роль из списка."]})
        if "admin" not in roles and "admin" in (user.roles or ()):
            _not_myself(user, by, "снять роль администратора с")
    if "department" in changes:
        user.department_id = _department(uow.session, changes["department"]).id
    if "roles" in changes:
        user.roles = sorted(set(changes["roles"]))
    if "is_head" in changes:
        user.is_head = bool(changes["is_head"])
    if "name" in changes:
        user.name = changes["name"]
    uow.session.flush()
    uow.session.refresh(user)
    after = user_view(user)
    changed = [k for k in ("name", "department", "roles", "is_head") if before[k] != after[k]]
    if changed:
        audit.record(uow, action="user.updated", object_type="user", object_id=user.id, actor=by,
                     before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    return user


def deactivate_user(uow: UnitOfWork, user_id: int, *, by: Actor | None = None) -> User:
    """The user's tokens and sessions stop working with the next request."""
    user = get_user(uow.session, user_id)
    _not_myself(user, by, "отключить")
    people.deactivate(uow, user, by=by)
    return user


def reactivate_user(uow: UnitOfWork, user_id: int, *, by: Actor | None = None) -> User:
    user = get_user(uow.session, user_id)
    people.reactivate(uow, user, by=by)
    return user


def reset_password(uow: UnitOfWork, user_id: int, password: str | None, *, by: Actor | None = None) -> str | None:
    """Set a new password, or make a random one (returned, to be shown once); the user's sessions end."""
    generated = password is None
    password = secrets.token_urlsafe(12) if generated else password
    people.set_password(uow, get_user(uow.session, user_id), password, by=by)
    return password if generated else None


def send_password_link(uow: UnitOfWork, services, user_id: int, *, by: Actor | None = None) -> User:
    user = get_user(uow.session, user_id)
    people.issue_password_link(uow, services, user, by=by)
    return user


# --- departments ---------------------------------------------------------------------------

def list_departments(session) -> list[Department]:
    return list(session.execute(select(Department).order_by(Department.code).limit(1000)).scalars())


def create_department(uow: UnitOfWork, code: str, name: str, *, by: Actor | None = None) -> Department:
    errors = {}
    code = (code or "").strip()
    name = (name or "").strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", code):
        errors["code"] = ["Латинские строчные буквы, цифры и дефис, до 64 символов."]
    if not name or len(name) > 200:
        errors["name"] = ["Название от 1 до 200 символов."]
    if not errors and uow.session.execute(select(Department.id).where(Department.code == code)).first():
        errors["code"] = ["Такой код уже есть."]
    if errors:
        raise Invalid("Подразделение не создано.", fields=errors)
    dept = Department(code=code, name=name)
    uow.session.add(dept)
    uow.session.flush()
    audit.record(uow, action="department.created", object_type="department", object_id=dept.code,
                 actor=by, after={"code": dept.code, "name": dept.name})
    return dept


# --- the mail log --------------------------------------------------------------------------

def list_mail(session, *, state: str | None = None, recipient: str | None = None, limit: int = 50,
              offset: int = 0) -> tuple[list[OutgoingEmail], int]:
    query = select(OutgoingEmail)
    if state:
        query = query.where(OutgoingEmail.state == state)
    if recipient:
        query = query.where(OutgoingEmail.recipient == recipient)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(session.execute(query.order_by(OutgoingEmail.id.desc()).offset(offset).limit(limit)).scalars())
    return rows, total


def get_email(session, email_id: int) -> OutgoingEmail:
    email = session.get(OutgoingEmail, email_id)
    if email is None:
        raise NotFound("Письмо не найдено.")
    return email


def retry_email(uow: UnitOfWork, services, email_id: int, *, by: Actor | None = None) -> OutgoingEmail:
    """Send a failed email again: queued now, delivered after this commit (and by the mail relay if
    that attempt fails too). Only 'failed' ones: the others are still on their way or sent."""
    email = get_email(uow.session, email_id)
    if email.state != "failed":
        raise Conflict("Повторить можно только неотправленное письмо (в состоянии «не отправлено»).")
    problem = unbuildable_reason(services, email)
    if problem is not None:
        raise Conflict(f"Письмо нельзя отправить и повторно: {problem}.")
    before = {"state": email.state, "attempts": email.attempts, "last_error": email.last_error}
    email.state, email.next_attempt_at = "queued", services.now()
    audit.record(uow, action="email.retried", object_type="email", object_id=email.id, actor=by,
                 before=before, after={"state": "queued"})
    uow.batch("emails", lambda emails, closing: deliver_many(
        services, [e.id for e in emails], closing=closing)).append(email)
    return email


# --- the audit record ----------------------------------------------------------------------

@dataclass
class AuditFilter:
    object_type: str | None = None
    object_id: str | None = None
    actor_id: int | None = None
    action: str | None = None


def list_audit(session, f: AuditFilter, *, limit: int = 50, offset: int = 0) -> tuple[list[AuditEntry], int]:
    """Entries newest first, filtered by object, actor and action."""
    query = select(AuditEntry)
    if f.object_type:
        query = query.where(AuditEntry.object_type == f.object_type)
    if f.object_id:
        query = query.where(AuditEntry.object_id == f.object_id)
    if f.actor_id is not None:
        query = query.where(AuditEntry.actor_id == f.actor_id)
    if f.action:
        query = query.where(AuditEntry.action == f.action)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(session.execute(query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit)).scalars())
    return rows, total


def audit_object_types(session) -> list[str]:
    return list(session.execute(select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)
                                .limit(200)).scalars())

