"""Liveness and readiness."""
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from services.web.api.contract import public
from services.web.context import current_services

blp = Blueprint("health", __name__, description="Состояние сервиса")


class HealthOut(Schema):
    status = fields.String(metadata={"description": "ok"})


@blp.route("/healthz")
@public(blp)
@blp.response(200, HealthOut)
def healthz():
    """OK when the database answers."""
    with current_services().uow() as uow:
        uow.session.execute(text("SELECT 1"))
    return {"status": "ok"}
