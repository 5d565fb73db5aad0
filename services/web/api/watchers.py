"""Watchers of an item: who follows a request, a report or an amendment, and following it oneself.

The same three routes under each item kind; whoever may see the item may use them (else its 404).
"""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services import watchers
from services.web.api.auth import login_required
from services.web.api.contract import PageQuery, page_of, paginate
from services.web.context import current_services

blp = Blueprint("watchers", __name__, url_prefix="/api/v1", description="Наблюдатели")


class WatcherOut(Schema):
    user_id = fields.Integer(required=True)
    name = fields.String(required=True)
    department = fields.String(required=True, metadata={"description": "Код подразделения"})
    department_name = fields.String(required=True)


class FollowingOut(Schema):
    following = fields.Boolean(required=True, metadata={"description": "Следит ли вызывающий за объектом"})
    watchers = fields.Integer(required=True, metadata={"description": "Сколько всего наблюдателей"})


def watcher_view(user) -> dict:
    return {"user_id": user.id, "name": user.name or user.email, "department": user.department.code,
            "department_name": user.department.name}


# kind -> (URL segment, path parameter)
KINDS = {"request": ("requests", "request_id"), "report": ("reports", "report_id"),
         "amendment": ("amendments", "amendment_id")}


def _following(session, kind: str, item_id: int) -> dict:
    ids = {u.id for u in watchers.watchers_of(session, kind, item_id)}
    return {"following": g.actor.user_id in ids, "watchers": len(ids)}


def _routes(kind: str, segment: str, param: str) -> None:
    base = f"/{segment}/<int:{param}>/watchers"

    @blp.route(base, endpoint=f"{kind}_watchers")
    @login_required
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_of(WatcherOut))
    def list_(args, **ids):
        """Who follows the item: name and department, by name (only those who may still see it)."""
        with current_services().uow() as uow:
            found = watchers.list_watchers(uow.session, g.actor, kind, ids[param])
            return paginate([watcher_view(u) for u in found], args)

    @blp.route(base + "/me", methods=["PUT"], endpoint=f"{kind}_follow")
    @login_required
    @blp.response(200, FollowingOut)
    def follow(**ids):
        """Follow the item and get its events' emails; following again changes nothing."""
        with current_services().uow() as uow:
            watchers.follow(uow, g.actor, kind, ids[param])
            result = _following(uow.session, kind, ids[param])
            uow.commit()
            return result

    @blp.route(base + "/me", methods=["DELETE"], endpoint=f"{kind}_unfollow")
    @login_required
    @blp.response(200, FollowingOut)
    def unfollow(**ids):
        """Stop following the item; not following already is no error."""
        with current_services().uow() as uow:
            watchers.unfollow(uow, g.actor, kind, ids[param])
            result = _following(uow.session, kind, ids[param])
            uow.commit()
            return result


for _kind, (_segment, _param) in KINDS.items():
    _routes(_kind, _segment, _param)
