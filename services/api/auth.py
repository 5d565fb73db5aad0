"""Bearer-token authentication; the caller becomes an Actor for the workflows."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from services.registry import actor_for, user_for_token
from services.web import current_services
from workflows.core import Refusal


class Unauthorized(Refusal):
    status = 401
    code = "unauthorized"


def authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Требуется авторизация: заголовок Authorization: Bearer <токен>.")
    with current_services().uow() as uow:
        user = user_for_token(uow.session, token.strip())
        if user is None:
            raise Unauthorized("Токен недействителен, отозван или истёк.")
        g.user_id = user.id
        g.actor = actor_for(user)


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        authenticate()
        return view(*args, **kwargs)

    return wrapper
