"""Following an item: anyone who may see a request, a report or an amendment can watch it and so get
its events' emails as its parties do.

Who may see the item decides everything, at every step: following (else 404, as for the item),
the list of its watchers, and who is emailed when an event is handled. A watcher who has since lost
access (moved to another department, deactivated) stays in the table but is neither listed nor
emailed: the row is harmless, and is live again if the access comes back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services import amendments as am, information_requests as ir, reports as rp
from services.adapters import audit
from services.adapters.unit_of_work import UnitOfWork
from services.models.amendments import Amendment
from services.models.discussion import ITEM_KINDS, Watcher
from services.models.registry import User
from services.models.reports import Report
from services.models.requests import InformationRequest
from services.registry import actor_for
from workflows.core import Actor, NotFound

# What the item page calls the item, in "Вы следите за …" (the instrumental case).
KIND_WORDS = {"request": "запросом", "report": "отчётом", "amendment": "проектом изменений"}
KIND_PATHS = {"request": "requests", "report": "reports", "amendment": "amendments"}


def _load(session, actor: Actor, kind: str, item_id: int):
    """The item if ``actor`` may see it; otherwise the item's own 404 (an unknown kind is one too)."""
    if kind == "request":
        return ir.get_visible(session, actor, item_id)
    if kind == "report":
        return rp.get_visible(session, actor, item_id)
    if kind == "amendment":
        return am.get_visible(session, actor, item_id)
    raise NotFound("Нет такого объекта.")


def _seer(session, kind: str, item) -> Callable[[Actor], bool]:
    """``can_see`` of this one item, its passport read once for all its watchers."""
    if kind == "request":
        return lambda actor: ir.can_see(actor, item)
    if kind == "report":
        passport = rp.version_in_force(session, item.program, rp.period_bounds(item)[1]).passport
        return lambda actor: rp.can_see(actor, passport)
    passport = am.current_passport(session, item)
    return lambda actor: am.can_see(actor, passport)


def _item(session, kind: str, item_id: int):
    model = {"request": InformationRequest, "report": Report, "amendment": Amendment}.get(kind)
    return session.get(model, item_id) if model is not None else None


def _row(session, kind: str, item_id: int, user_id: int) -> Watcher | None:
    return session.execute(select(Watcher).where(
        Watcher.item_kind == kind, Watcher.item_id == item_id, Watcher.user_id == user_id)).scalar_one_or_none()


def follow(uow: UnitOfWork, actor: Actor, kind: str, item_id: int) -> Watcher:
    """Start following; following again changes nothing (one row, one audit entry in all)."""
    _load(uow.session, actor, kind, item_id)
    existing = _row(uow.session, kind, item_id, actor.user_id)
    if existing is not None:
        return existing
    row = Watcher(item_kind=kind, item_id=item_id, user_id=actor.user_id)
    try:
        with uow.session.begin_nested():  # a twin click committed first: theirs is the row
            uow.session.add(row)
            uow.session.flush()
    except IntegrityError:
        return _row(uow.session, kind, item_id, actor.user_id)
    audit.record(uow, action="watcher.followed", object_type=kind, object_id=item_id, actor=actor,
                 before={"following": False}, after={"following": True, "user_id": actor.user_id})
    return row


def unfollow(uow: UnitOfWork, actor: Actor, kind: str, item_id: int) -> bool:
    """Stop following; True when the caller was following (only then is it audited)."""
    _load(uow.session, actor, kind, item_id)
    row = _row(uow.session, kind, item_id, actor.user_id)
    if row is None:
        return False
    uow.session.delete(row)
    audit.record(uow, action="watcher.unfollowed", object_type=kind, object_id=item_id, actor=actor,
                 before={"following": True, "user_id": actor.user_id}, after={"following": False})
    return True


def is_following(session, user_id: int, kind: str, item_id: int) -> bool:
    return _row(session, kind, item_id, user_id) is not None


def watchers_of(session, kind: str, item_id: int) -> list[User]:
    """The active watchers who may still see the item, by name: whom its events' emails go to."""
    item = _item(session, kind, item_id)
    if item is None:
        return []
    users = session.execute(
        select(User).join(Watcher, Watcher.user_id == User.id)
        .where(Watcher.item_kind == kind, Watcher.item_id == item_id, User.active.is_(True))
        .order_by(User.name, User.email)
    ).unique().scalars().all()
    sees = _seer(session, kind, item)
    return [user for user in users if sees(actor_for(user))]


def list_watchers(session, actor: Actor, kind: str, item_id: int) -> list[User]:
    """``watchers_of`` for someone who may see the item (else its 404)."""
    _load(session, actor, kind, item_id)
    return watchers_of(session, kind, item_id)


@dataclass(frozen=True)
class Followed:
    kind: str
    item_id: int
    title: str
    state_label: str
    path: str


def _title(kind: str, item) -> tuple[str, str]:
    if kind == "request":
        number = item.registration_number or f"№{item.id}"
        return (f"Запрос {number} «{item.thread.subject}» ({item.department.name})",
                ir.WORKFLOW.state_labels.get(item.state, item.state))
    if kind == "report":
        return (f"Отчёт №{item.id} за {rp.period_label(item)}: {item.program.title}",
                rp.WORKFLOW.state_labels.get(item.state, item.state))
    return (f"Проект изменений №{item.id}: {item.program.title}",
            am.WORKFLOW.state_labels.get(item.state, item.state))


def followed_by(session, actor: Actor, limit: int = 200) -> list[Followed]:
    """What the user follows and may still see, most recently followed first (the "Я слежу" list)."""
    rows = session.execute(select(Watcher).where(Watcher.user_id == actor.user_id)
                           .order_by(Watcher.created_at.desc(), Watcher.id.desc()).limit(limit)).scalars().all()
    found = []
    for row in rows:
        if row.item_kind not in ITEM_KINDS:
            continue
        try:
            item = _load(session, actor, row.item_kind, row.item_id)
        except NotFound:
            continue
        title, state = _title(row.item_kind, item)
        found.append(Followed(row.item_kind, row.item_id, title, state,
                              f"/{KIND_PATHS[row.item_kind]}/{row.item_id}"))
    return found
