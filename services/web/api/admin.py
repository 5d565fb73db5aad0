"""Administration: people, departments, roles and tokens. Admin role only; every change is audited."""
from __future__ import annotations

import secrets

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, or_, select

from services.adapters import audit

from services import people
from services.web.api.auth import admin_required
from services.web.api.contract import PageQuery, page, page_of, refuses
from services.web.api.tokens import TokenOut, token_page
from services.models.registry import ROLES, Department, User
from services.registry import create_user
from services.web.context import current_services
from services.web.fields import CODE, DEPARTMENT_NAME, EMAIL, ID, NAME, PASSWORD
from workflows.core import Invalid, NotFound

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Администрирование")


def user_view(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name or "", "department": user.department.code,
            "roles": list(user.roles or ()), "is_head": bool(user.is_head), "active": bool(user.active),
            "deactivated_at": user.deactivated_at, "created_at": user.created_at,
            "has_password": user.password_hash is not None}


def department_view(dept: Department) -> dict:
    return {"id": dept.id, "code": dept.code, "name": dept.name}


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    department = fields.String()
    roles = fields.List(fields.String())
    is_head = fields.Boolean()
    active = fields.Boolean()
    deactivated_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    has_password = fields.Boolean()


class UserListQuery(PageQuery):
    department = fields.String(load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    active = fields.Boolean(load_default=None)


class UserCreate(Schema):
    email = EMAIL.field(required=True, validate=[validate.Length(min=3)])
    name = NAME.field(load_default="")
    department = CODE.field(required=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=validate.Length(min=1))
    is_head = fields.Boolean(load_default=False)
    password = PASSWORD.field(load_default=None)


class UserUpdate(Schema):
    name = NAME.field()
    department = CODE.field()
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1))
    is_head = fields.Boolean()


class PasswordReset(Schema):
    password = PASSWORD.field(load_default=None)


class DepartmentIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$"))
    name = DEPARTMENT_NAME.field(required=True, validate=[validate.Length(min=1)])


class DepartmentOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class TokenListQuery(PageQuery):
    user_id = ID.field(load_default=None, strict=False)


class PasswordOut(Schema):
    user_id = fields.Integer()
    password = fields.String(allow_none=True, metadata={"description": "Созданный пароль (показывается один раз), "
                                                                       "или null, если пароль задан в запросе"})


def _user(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Пользователь не найден.")
    return user


def _department(session, code: str) -> Department:
    dept = session.execute(select(Department).where(Department.code == code)).scalar_one_or_none()
    if dept is None:
        raise Invalid("Нет такого подразделения.", fields={"department": [f"Неизвестный код: {code}."]})
    return dept


def _not_myself(user: User, what: str) -> None:
    if user.id == g.actor.user_id:
        raise Invalid(f"Нельзя {what} собственную учётную запись: попросите другого администратора.")


# --- users -----------------------------------------------------------------

@blp.route("/users")
@admin_required
@blp.arguments(UserListQuery, location="query")
@blp.response(200, page_of(UserOut))
@refuses(blp, 403)
def list_users(args):
    with current_services().uow() as uow:
        query = select(User).join(Department)
        if args["department"]:
            query = query.where(Department.code == args["department"])
        if args["active"] is not None:
            query = query.where(User.active.is_(args["active"]))
        if args["q"]:
            like = f"%{args['q'].lower()}%"
            query = query.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
        total = uow.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = uow.session.execute(query.order_by(User.id).offset((args["page"] - 1) * args["page_size"])
                                   .limit(args["page_size"])).scalars()
        return page([user_view(u) for u in rows], total, args)


@blp.route("/users", methods=["POST"])
@admin_required
@blp.arguments(UserCreate)
@blp.response(201, UserOut)
@refuses(blp, 403)
def create_user_(body):
    """A new person (no API token: they make their own). Without a password they cannot sign in yet."""
    with current_services().uow() as uow:
        if body["password"] is not None:
            people.check_password_rules(body["password"])
        user, _ = create_user(uow, email=body["email"], department=body["department"], roles=body["roles"],
                              name=body["name"], is_head=body["is_head"], by=g.actor, with_token=False)
        if body["password"] is not None:
            people.set_password(uow, user, body["password"], by=g.actor)
        uow.commit()
        return user_view(user)


@blp.route("/users/<int:user_id>")
@admin_required
@blp.response(200, UserOut)
@refuses(blp, 403)
def get_user(user_id: int):
    with current_services().uow() as uow:
        return user_view(_user(uow.session, user_id))


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@admin_required
@blp.arguments(UserUpdate)
@blp.response(200, UserOut)
@refuses(blp, 403)
def update_user(body, user_id: int):
    """Change name, department, roles or the head flag; before and after go to the audit log."""
    with current_services().uow() as uow:
        user = _user(uow.session, user_id)
        before = user_view(user)
        if "roles" in body and "admin" not in body["roles"] and "admin" in (user.roles or ()):
            _not_myself(user, "снять роль администратора с")
        if "department" in body:
            user.department_id = _department(uow.session, body["department"]).id
        if "roles" in body:
            user.roles = sorted(set(body["roles"]))
        if "is_head" in body:
            user.is_head = body["is_head"]
        if "name" in body:
            user.name = body["name"]
        uow.session.flush()
        uow.session.refresh(user)
        after = user_view(user)
        keys = ("name", "department", "roles", "is_head")
        changed = [k for k in keys if before[k] != after[k]]
        if changed:
            audit.record(uow, action="user.updated", object_type="user", object_id=user.id, actor=g.actor,
                         before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
        uow.commit()
        return after


@blp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@admin_required
@blp.response(200, UserOut)
@refuses(blp, 403)
def deactivate_user(user_id: int):
    """The user's tokens and sessions stop working with the next request."""
    with current_services().uow() as uow:
        user = _user(uow.session, user_id)
        _not_myself(user, "отключить")
        people.deactivate(uow, user, by=g.actor)
        uow.commit()
        return user_view(user)


@blp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@admin_required
@blp.response(200, UserOut)
@refuses(blp, 403)
def reactivate_user(user_id: int):
    with current_services().uow() as uow:
        user = _user(uow.session, user_id)
        people.reactivate(uow, user, by=g.actor)
        uow.commit()
        return user_view(user)


@blp.route("/users/<int:user_id>/password", methods=["POST"])
@admin_required
@blp.arguments(PasswordReset)
@blp.response(200, PasswordOut)
@refuses(blp, 403)
def reset_password(body, user_id: int):
    """Set a new password, or make a random one (shown once); the user's sessions end."""
    generated = body["password"] is None
    password = secrets.token_urlsafe(12) if generated else body["password"]
    with current_services().uow() as uow:
        user = _user(uow.session, user_id)
        people.set_password(uow, user, password, by=g.actor)
        uow.commit()
    return {"user_id": user_id, "password": password if generated else None}


# --- departments -------------------------------------------------------------

@blp.route("/departments")
@admin_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(DepartmentOut))
@refuses(blp, 403)
def list_departments(args):
    with current_services().uow() as uow:
        total = uow.session.execute(select(func.count()).select_from(Department)).scalar_one()
        rows = uow.session.execute(select(Department).order_by(Department.code)
                                   .offset((args["page"] - 1) * args["page_size"]).limit(args["page_size"])).scalars()
        return page([department_view(d) for d in rows], total, args)


@blp.route("/departments", methods=["POST"])
@admin_required
@blp.arguments(DepartmentIn)
@blp.response(201, DepartmentOut)
@refuses(blp, 403)
def create_department(body):
    with current_services().uow() as uow:
        if uow.session.execute(select(Department.id).where(Department.code == body["code"])).first():
            raise Invalid("Подразделение не создано.", fields={"code": ["Такой код уже есть."]})
        dept = Department(code=body["code"], name=body["name"].strip())
        uow.session.add(dept)
        uow.session.flush()
        audit.record(uow, action="department.created", object_type="department", object_id=dept.code,
                     actor=g.actor, after={"code": dept.code, "name": dept.name})
        uow.commit()
        return department_view(dept)


# --- tokens --------------------------------------------------------------------

@blp.route("/tokens")
@admin_required
@blp.arguments(TokenListQuery, location="query")
@blp.response(200, page_of(TokenOut))
@refuses(blp, 403)
def list_all_tokens(args):
    with current_services().uow() as uow:
        return token_page(uow.session, args["user_id"], args)


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@admin_required
@blp.response(204)
@refuses(blp, 403)
def revoke_any_token(token_id: int):
    with current_services().uow() as uow:
        people.revoke_token(uow, token_id, owner_id=None, by=g.actor)
        uow.commit()
    return ""
