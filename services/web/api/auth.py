"""Bearer-token authentication; the caller becomes an Actor for the workflows."""
from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import g, request

from services.models.base import utcnow
from services.people import token_row
from services.registry import actor_for
from services.web.context import client_address, current_services
from workflows.core import Forbidden, Refusal

_LAST_USED_GRANULARITY = timedelta(hours=1)


class Unauthorized(Refusal):
    status = 401
    code = "unauthorized"


def authenticate() -> None:
    if g.get("actor") is not None:
        return  # already done for this request (e.g. to scope its Idempotency-Key)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Требуется авторизация: заголовок Authorization: Bearer <токен>.")
    with current_services().uow() as uow:
        row = token_row(uow.session, token.strip())
        if row is None:
            raise Unauthorized("Токен недействителен, отозван или истёк.")
        user = row.user
        g.user_id = user.id
        g.token_id = row.id
        g.actor = actor_for(user, client_address())
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY:
            row.last_used_at = now  # at most one write per token an hour
            uow.commit()


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        authenticate()
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str):
    """A signed-in caller holding one of ``roles``; others get 403 (the route's existence is public)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            authenticate()
            if not g.actor.has_role(*roles):
                raise Forbidden("Недостаточно прав: нужна роль " + " или ".join(roles) + ".")
            return view(*args, **kwargs)

        return wrapper

    return decorator


admin_required = roles_required("admin")
