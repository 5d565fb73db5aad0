"""Bearer-token authentication; the caller becomes an Actor for the workflows."""
from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import g, request
from sqlalchemy.exc import DBAPIError

from services.models.base import utcnow
from services.people import token_row
from services.registry import actor_for
from services.web.context import client_address, current_services, request_scope
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
    scope = request_scope()
    if scope is None:  # outside /api/ (no request scope): a unit of work of its own, as before
        with current_services().uow() as uow:
            if _sign_in(token_row(uow.session, token.strip())):
                uow.commit()
        return
    # The request's own session, and no rollback after the read: the view's unit of work goes on in
    # this transaction (one connection checkout, one BEGIN); the token is found by one indexed query
    # (its hash, the user and department joined).
    row = _lookup(scope, token.strip())
    if _sign_in(row):
        with current_services().uow() as uow:  # the scope's session again: no other connection
            uow.commit()


def _lookup(scope, token: str):
    """The token's row; the first statement of the request, so a connection found dead (a database
    restarted since it was pooled) is dropped and the lookup tried once on a new one. That replaces
    a pre-ping on every checkout: nothing was read or written on the dead one."""
    try:
        return token_row(scope.session, token)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        scope.reset()
        return token_row(scope.session, token)


def _sign_in(row) -> bool:
    """The caller on ``g``; True when the token's ``last_used_at`` was set (to be committed)."""
    if row is None:
        raise Unauthorized("Токен недействителен, отозван или истёк.")
    user = row.user
    g.user_id = user.id
    g.token_id = row.id
    g.actor = actor_for(user, client_address())
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY:
        row.last_used_at = now  # at most one write per token an hour, in a commit of its own
        return True
    return False


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
