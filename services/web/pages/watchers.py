"""Following an item from its page: the «Следить» / «Не следить» button and the list of watchers.

Each item page shows ``_watchers.html`` with ``panel(...)``; the button posts here (with CSRF, as
every form), the use case in ``services.watchers`` decides, and the page comes back at the list.
"""
from __future__ import annotations

from flask import flash, redirect, url_for

from services import watchers
from services.web.pages.common import actor, bp, login_required, services

# kind -> (the item page's endpoint, its path parameter, the URL segment)
PAGES = {"request": ("webui.request_page", "request_id", "requests"),
         "report": ("webui.report_page", "report_id", "reports"),
         "amendment": ("webui.amendment_page", "amendment_id", "amendments")}


def panel(session, me, kind: str, item_id: int) -> dict:
    """What ``_watchers.html`` shows: the watchers, whether the viewer is one, where the button posts."""
    found = watchers.watchers_of(session, kind, item_id)
    endpoint, param, _ = PAGES[kind]
    return {"kind": kind, "what": watchers.KIND_WORDS[kind], "users": found,
            "following": any(u.id == me.user_id for u in found),
            "follow_url": url_for(f"webui.{kind}_follow", **{param: item_id}),
            "unfollow_url": url_for(f"webui.{kind}_unfollow", **{param: item_id})}


def _routes(kind: str, endpoint: str, param: str, segment: str) -> None:
    what = watchers.KIND_WORDS[kind]

    def follow(**ids):
        """An item the caller may not see is the item's own 404 page (the blueprint's Refusal page)."""
        with services().uow() as uow:
            watchers.follow(uow, actor(), kind, ids[param])
            uow.commit()
        flash(f"Вы следите за {what}: письма о его событиях будут приходить и вам.", "success")
        return redirect(url_for(endpoint, **{param: ids[param]}) + "#watchers")

    def unfollow(**ids):
        with services().uow() as uow:
            watchers.unfollow(uow, actor(), kind, ids[param])
            uow.commit()
        flash(f"Вы больше не следите за {what}.", "success")
        return redirect(url_for(endpoint, **{param: ids[param]}) + "#watchers")

    for name, view in (("follow", follow), ("unfollow", unfollow)):
        view.__name__ = f"{kind}_{name}"
        bp.add_url_rule(f"/{segment}/<int:{param}>/{name}", endpoint=f"{kind}_{name}",
                        view_func=login_required(view), methods=["POST"])


for _kind, (_endpoint, _param, _segment) in PAGES.items():
    _routes(_kind, _endpoint, _param, _segment)

