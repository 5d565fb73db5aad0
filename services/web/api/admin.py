"""Administration: people, departments, roles and tokens. Admin role only; every change is audited."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from services import administration, people
from services.web.api.auth import admin_required
from services.web.api.contract import PageQuery, page, page_of, refuses
from services.web.api.tokens import TokenOut, token_page
from services.models.registry import ROLES
from services.web.context import current_services
from services.web.fields import CODE, DEPARTMENT_NAME, EMAIL, ID, NAME, PASSWORD

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Администрирование")


user_view = administration.user_view
department_view = administration.department_view


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
    send_password_link = fields.Boolean(load_default=False, metadata={
        "description": "Выслать человеку письмо с одноразовой ссылкой для установки пароля"})


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


# --- users -----------------------------------------------------------------

@blp.route("/users")
@admin_required
@blp.arguments(UserListQuery, location="query")
@blp.response(200, page_of(UserOut))
@refuses(blp, 403)
def list_users(args):
    with current_services().uow() as uow:
        rows, total = administration.list_users(
            uow.session, administration.UserFilter(department=args["department"], q=args["q"], active=args["active"]),
            limit=args["page_size"], offset=(args["page"] - 1) * args["page_size"])
        return page([user_view(u) for u in rows], total, args)


@blp.route("/users", methods=["POST"])
@admin_required
@blp.arguments(UserCreate)
@blp.response(201, UserOut)
@refuses(blp, 403)
def create_user_(body):
    """A new person (no API token: they make their own). Without a password they cannot sign in yet;
    ``send_password_link`` emails them a one-time link to set one."""
    services = current_services()
    with services.uow() as uow:
        user = administration.create_user(uow, services, email=body["email"], department=body["department"],
                                          roles=body["roles"], name=body["name"], is_head=body["is_head"],
                                          password=body["password"], send_link=body["send_password_link"],
                                          by=g.actor)
        uow.commit()
        return user_view(user)


@blp.route("/users/<int:user_id>")
@admin_required
@blp.response(200, UserOut)
@refuses(blp, 403)
def get_user(user_id: int):
    with current_services().uow() as uow:
        return user_view(administration.get_user(uow.session, user_id))


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@admin_required
@blp.arguments(UserUpdate)
@blp.response(200, UserOut)
@refuses(blp, 403)
def update_user(body, user_id: int):
    """Change name, department, roles or the head flag; before and after go to the audit log."""
    with current_services().uow() as uow:
        user = administration.update_user(uow, user_id, body, by=g.actor)
        uow.commit()
        return user_view(user)


@blp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@admin_required
@blp.response(200, UserOut)
@refuses(blp, 403)
def deactivate_user(user_id: int):
    """The user's tokens and sessions stop working with the next request."""
    with current_services().uow() as uow:
        user = administration.deactivate_user(uow, user_id, by=g.actor)
        uow.commit()
        return user_view(user)


@blp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@admin_required
@blp.response(200, UserOut)
@refuses(blp, 403)
def reactivate_user(user_id: int):
    with current_services().uow() as uow:
        user = administration.reactivate_user(uow, user_id, by=g.actor)
        uow.commit()
        return user_view(user)


@blp.route("/users/<int:user_id>/password", methods=["POST"])
@admin_required
@blp.arguments(PasswordReset)
@blp.response(200, PasswordOut)
@refuses(blp, 403)
def reset_password(body, user_id: int):
    """Set a new password, or make a random one (shown once); the user's sessions end."""
    with current_services().uow() as uow:
        generated = administration.reset_password(uow, user_id, body["password"], by=g.actor)
        uow.commit()
    return {"user_id": user_id, "password": generated}


@blp.route("/users/<int:user_id>/password-link", methods=["POST"])
@admin_required
@blp.response(202, UserOut)
@refuses(blp, 403)
def send_password_link(user_id: int):
    """Email the user a one-time link to set their password (valid INTERDEPT_PASSWORD_LINK_HOURS, 72 h);
    their earlier unused links stop working."""
    services = current_services()
    with services.uow() as uow:
        user = administration.send_password_link(uow, services, user_id, by=g.actor)
        uow.commit()
        return user_view(user)


# --- departments -------------------------------------------------------------

@blp.route("/departments")
@admin_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(DepartmentOut))
@refuses(blp, 403)
def list_departments(args):
    with current_services().uow() as uow:
        rows = administration.list_departments(uow.session)
        start = (args["page"] - 1) * args["page_size"]
        return page([department_view(d) for d in rows[start:start + args["page_size"]]], len(rows), args)


@blp.route("/departments", methods=["POST"])
@admin_required
@blp.arguments(DepartmentIn)
@blp.response(201, DepartmentOut)
@refuses(blp, 403)
def create_department(body):
    with current_services().uow() as uow:
        dept = administration.create_department(uow, body["code"], body["name"], by=g.actor)
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
