"""Liveness and readiness."""
from flask_smorest import Blueprint
from sqlalchemy import text

from services.web.context import current_services

blp = Blueprint("health", __name__, description="Состояние сервиса")


@blp.route("/healthz")
def healthz():
    """OK when the database answers."""
    with current_services().uow() as uow:
        uow.session.execute(text("SELECT 1"))
    return {"status": "ok"}
