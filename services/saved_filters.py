"""A user's saved list filters: a name and the list's query string, shown as links above the list.

The query is checked when saved by the same parser the list uses (``lists.parse_list_args``), so an
unknown filter, a value no form offers or a reversed date range cannot be saved; the page number is
not kept (a saved filter opens at its first page). Saving under a name already used on that list
replaces its query: the form reads "save the current filter as ...", and a second filter of the same
name would be two links nobody can tell apart.

Each change is audited like the user's other settings (``services.preferences``: the reminder mode).
Another user's filter is not found (404), whether it exists or not.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import func, select

from services import lists
from services.adapters import audit
from services.adapters.unit_of_work import UnitOfWork
from services.models.saved_filters import SavedFilter
from workflows.core import Actor, Invalid, NotFound

NAME_MAX = 100
QUERY_MAX = 2000
PER_LIST_MAX = 50
_BAD_CHARS = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def saved_filters(session, actor: Actor, kind: str) -> list[SavedFilter]:
    return list(session.execute(select(SavedFilter).where(
        SavedFilter.user_id == actor.user_id, SavedFilter.list_kind == kind).order_by(SavedFilter.name,
                                                                                      SavedFilter.id)).scalars())


def _normal_query(session, actor: Actor, kind: str, query: str) -> str:
    """The query string as the list reads it (blank and paging values dropped); refused if it holds
    anything the list would refuse, each problem named at its filter."""
    if len(query) > QUERY_MAX:
        raise Invalid("Отбор не сохранён.", fields={"query": [f"Не длиннее {QUERY_MAX} символов."]})
    if _BAD_CHARS.search(query):
        raise Invalid("Отбор не сохранён.", fields={"query": ["Недопустимые символы."]})
    pairs = [(k, v.strip()) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True)
             if k not in lists.PAGING and v.strip()]
    names = [k for k, _ in pairs]
    if len(names) != len(set(names)):
        raise Invalid("Отбор не сохранён.", fields={"query": ["Каждый отбор указывается один раз."]})
    _, errors = lists.parse_list_args(session, actor, kind, dict(pairs))
    if errors:
        raise Invalid("Отбор не сохранён: исправьте отмеченные поля.", fields=errors)
    return urlencode(pairs)


def save_filter(uow: UnitOfWork, actor: Actor, kind: str, name: str, query: str) -> SavedFilter:
    if kind not in lists.LIST_KINDS:
        raise NotFound("Такого списка нет.")
    name = (name or "").strip()
    if not name:
        raise Invalid("Отбор не сохранён.", fields={"name": ["Назовите отбор."]})
    if len(name) > NAME_MAX:
        raise Invalid("Отбор не сохранён.", fields={"name": [f"Не длиннее {NAME_MAX} символов."]})
    if _BAD_CHARS.search(name):
        raise Invalid("Отбор не сохранён.", fields={"name": ["Одна строка, без управляющих символов."]})
    session = uow.session
    normal = _normal_query(session, actor, kind, query)
    row = session.execute(select(SavedFilter).where(
        SavedFilter.user_id == actor.user_id, SavedFilter.list_kind == kind, SavedFilter.name == name)
    ).scalar_one_or_none()
    before = None if row is None else {"query": row.query}
    if row is None:
        count = session.execute(select(func.count()).select_from(SavedFilter).where(
            SavedFilter.user_id == actor.user_id, SavedFilter.list_kind == kind)).scalar_one()
        if count >= PER_LIST_MAX:
            raise Invalid("Отбор не сохранён.", fields={
                "name": [f"Не больше {PER_LIST_MAX} сохранённых отборов на список: удалите ненужные."]})
        row = SavedFilter(user_id=actor.user_id, list_kind=kind, name=name, query=normal)
        session.add(row)
    row.query = normal
    session.flush()
    audit.record(uow, action="saved_filter.saved", object_type="saved_filter", object_id=row.id, actor=actor,
                 before=before, after={"list": kind, "name": name, "query": normal})
    return row


def delete_filter(uow: UnitOfWork, actor: Actor, kind: str, filter_id: int) -> None:
    row = uow.session.get(SavedFilter, filter_id)
    if row is None or row.user_id != actor.user_id or row.list_kind != kind:
        raise NotFound("Сохранённый отбор не найден.")
    audit.record(uow, action="saved_filter.deleted", object_type="saved_filter", object_id=row.id, actor=actor,
                 before={"list": kind, "name": row.name, "query": row.query}, after=None)
    uow.session.delete(row)
