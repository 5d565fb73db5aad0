"""The caller's own API tokens: named, expiring, revocable; a new token is shown once."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from services import people
from services.web.api.auth import login_required
from services.web.api.contract import PageQuery, page, page_of, refuses
from services.models.registry import ApiToken, User
from services.web.context import current_services
from services.web.fields import NAME

blp = Blueprint("tokens", __name__, url_prefix="/api/v1/me/tokens", description="Мои токены API")


class TokenIn(Schema):
    name = NAME.field(required=True, validate=[validate.Length(min=1)])
    expires_in_days = fields.Integer(load_default=people.DEFAULT_TOKEN_DAYS, strict=True,
                                     validate=validate.Range(min=1, max=people.MAX_TOKEN_DAYS))


class TokenOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "Первые символы токена, чтобы отличать токены"})
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    status = fields.String(metadata={"description": "active, expired или revoked"})


class NewTokenOut(TokenOut):
    token = fields.String(metadata={"description": "Сам токен: показывается один раз"})


def token_page(session, user_id: int | None, args: dict) -> dict:
    rows = people.list_tokens(session, user_id, limit=args["page_size"], offset=(args["page"] - 1) * args["page_size"])
    count = select(func.count()).select_from(ApiToken)
    if user_id is not None:
        count = count.where(ApiToken.user_id == user_id)
    return page([people.token_view(r) for r in rows], session.execute(count).scalar_one(), args)


@blp.route("")
@login_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(TokenOut))
def list_my_tokens(args):
    """My tokens, newest first (never the token itself)."""
    with current_services().uow() as uow:
        return token_page(uow.session, g.actor.user_id, args)


@blp.route("", methods=["POST"])
@login_required
@blp.arguments(TokenIn)
@blp.response(201, NewTokenOut)
def create_my_token(body):
    """A new token for programs; keep it now — only its hash is stored."""
    with current_services().uow() as uow:
        user = uow.session.get(User, g.actor.user_id)
        row, token = people.create_token(uow, user, body["name"], body["expires_in_days"], by=g.actor)
        uow.commit()
        return {**people.token_view(row), "token": token}


@blp.route("/<int:token_id>", methods=["DELETE"])
@login_required
@blp.response(204)
@refuses(blp, 404)
def revoke_my_token(token_id: int):
    """Revoke one of my tokens at once (someone else's is 404)."""
    with current_services().uow() as uow:
        people.revoke_token(uow, token_id, owner_id=g.actor.user_id, by=g.actor)
        uow.commit()
    return ""
