"""Discussion on every item: comments, optionally pinned to a point of it, and files, for
information requests, reports and amendments alike.

Who reads an item's discussion is who may open the item; who writes to it is who sees the item
through their own department (a party of the request; a department named in the program's passport
for a report or an amendment), so the admin role alone reads, as it reads the item. Comments are a
record: never edited or deleted, and taken in every state, final ones too (a remark on a published
report is still a remark). A reference names a point of the item as it is now (a request's field, a
line or cell of a report's table, a line of an amendment's change set) and keeps the words shown for
it then, so the comment still reads right after the item moves on. Every comment and file is
audited and emits its event in the transaction that stores it; who is emailed is
``discussion_recipients``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from services import amendments as am, attachments, information_requests as ir, reports as rp
from services.adapters import audit
from services.adapters.unit_of_work import UnitOfWork
from services.change_labels import cell_label
from services.models.amendments import Amendment
from services.models.discussion import ITEM_KINDS, Comment, ItemAttachment
from services.models.registry import User
from services.models.reports import Report
from services.models.requests import Attachment, InformationRequest
from services.registry import actor_for, users_of
from workflows.amendment import required_reviewers
from workflows.change_sets import diff_changesets
from workflows.core import Actor, Forbidden, Invalid, NotFound
from workflows.passport import Passport
from workflows.registration import label as registration_label

COMMENT_MAX = 20000  # the long texts' limit (services.web.fields.LONG_TEXT): notes, remarks, answers
REF_LABEL_MAX = 300  # the column's
OBJECT_TYPES = attachments.OBJECT_TYPES
WRITERS = {
    "request": "участники запроса (запросившее подразделение и адресат)",
    "report": "подразделения, участвующие в программе",
    "amendment": "подразделения, участвующие в программе",
}
INDICATOR_COLUMNS = {"plan": "план", "fact": "факт", "achievement": "достижение"}
FINANCING_COLUMNS = {"plan": "план", "spent": "кассовые расходы", "execution": "исполнение"}


@dataclass
class Item:
    """An item as the discussion sees it: what it is, how people name it, where it lives."""

    kind: str
    id: int
    row: InformationRequest | Report | Amendment
    passport: Passport | None
    title: str  # "запрос ИТ-2016/00001/1 «Посещаемость»", as in a sentence
    path: str  # its page, "/requests/1"
    program_title: str

    @property
    def mail_item(self) -> str:
        """The emails' ``item`` key (the request page lists the failed ones of its own)."""
        return f"{OBJECT_TYPES[self.kind]}:{self.id}"


def _load(session, kind: str, item_id: int) -> Item | None:
    """The item, whoever asks (the email handler); None when there is none."""
    if kind == "request":
        req = session.get(InformationRequest, item_id)
        if req is None:
            return None
        return Item(kind, req.id, req, None, f"запрос {registration_label(req)} «{req.thread.subject}»",
                    f"/requests/{req.id}", req.thread.program.title)
    if kind == "report":
        report = session.get(Report, item_id)
        if report is None:
            return None
        passport = rp.version_in_force(session, report.program, rp.period_bounds(report)[1]).passport
        number = f" ({report.registration_number})" if report.registration_number else ""
        return Item(kind, report.id, report, passport, f"отчёт за {rp.period_label(report)}{number}",
                    f"/reports/{report.id}", report.program.title)
    if kind == "amendment":
        amendment = session.get(Amendment, item_id)
        if amendment is None:
            return None
        return Item(kind, amendment.id, amendment, am.current_passport(session, amendment),
                    f"проект изменений {registration_label(amendment)}", f"/amendments/{amendment.id}",
                    amendment.program.title)
    return None


def _sees(actor: Actor, item: Item) -> bool:
    if item.kind == "request":
        return ir.can_see(actor, item.row)
    return actor.has_role("admin") or actor.department in {d.code for d in item.passport.departments}


def _writes(actor: Actor, item: Item) -> bool:
    """Through one's own department, not by the admin role."""
    if item.kind == "request":
        return bool(ir.parties(actor, item.row))
    return actor.department in {d.code for d in item.passport.departments}


def open_item(session, actor: Actor, kind: str, item_id: int) -> Item:
    """The item if the caller may see it; else 404, exactly as for one that does not exist."""
    if kind == "request":
        ir.get_visible(session, actor, item_id)  # its own 404 message
    elif kind == "report":
        rp.get_visible(session, actor, item_id)
    elif kind == "amendment":
        am.get_visible(session, actor, item_id)
    item = _load(session, kind, item_id) if kind in ITEM_KINDS else None
    if item is None or not _sees(actor, item):
        raise NotFound("Не найдено.")
    return item


def _writable(session, actor: Actor, kind: str, item_id: int) -> Item:
    item = open_item(session, actor, kind, item_id)
    if not _writes(actor, item):
        raise Forbidden(f"Писать в обсуждение и прикладывать файлы могут {WRITERS[kind]}; "
                        "администратор его читает.")
    return item


# --- what a comment may point at -------------------------------------------------------------

def reference_points(session, services, item: Item) -> dict[str, str]:
    """Each point of the item as it is now, key -> words, in the order the item's page shows them."""
    if item.kind == "request":
        req = item.row
        points = {"subject": "Тема запроса"}
        if req.thread.body:
            points["body"] = "Текст запроса"
        for f in req.thread.form or ():
            points[f"form[{f['key']}]"] = f"Поле «{f['label']}»"
        if ir.latest_answer(session, req.id) is not None:
            points["answer"] = "Ответ"
        return points
    if item.kind == "report":
        today = services.now().astimezone(services.tz).date()
        content = rp.content_of(session, item.row, tz=services.tz, today=today)
        points = {}
        for i in content.get("indicators", ()):
            line = f"Показатель {i['code']} «{i['name']}»"
            points[f"indicators[{i['code']}]"] = line
            points.update({f"indicators[{i['code']}].{col}": f"{line}: {words}"
                           for col, words in INDICATOR_COLUMNS.items()})
        for f in content.get("financing", ()):
            line = f"Финансирование: {f['source_name']}"
            points[f"financing[{f['source']}]"] = line
            points.update({f"financing[{f['source']}].{col}": f"{line}, {words}"
                           for col, words in FINANCING_COLUMNS.items()})
        for a in content.get("activities", ()):
            points[f"activities[{a['code']}]"] = f"Мероприятие {a['code']} «{a['title']}»"
        points["note"] = "Пояснительная записка"
        return points
    base = am.version_passport(session, item.row.program, item.row.base_version)
    return {line["cell"]: cell_label(line, base) for line in diff_changesets({}, item.row.changes or {})}


# --- comments --------------------------------------------------------------------------------

def add_comment(uow: UnitOfWork, services, actor: Actor, kind: str, item_id: int, body: str | None,
                ref: str | None = None) -> Comment:
    """Who first (404 unseen, 403 a reader only), then the text and the point; a refusal stores nothing."""
    item = _writable(uow.session, actor, kind, item_id)
    text = (body or "").strip()
    errors: dict[str, list[str]] = {}
    if not text:
        errors["body"] = ["Напишите комментарий."]
    elif len(text) > COMMENT_MAX:
        errors["body"] = [f"Не длиннее {COMMENT_MAX} символов."]
    label = None
    if ref:
        label = reference_points(uow.session, services, item).get(ref)
        if label is None:
            errors["ref"] = ["Такой строки, ячейки или поля у этого документа нет."]
    if errors:
        raise Invalid("Комментарий не добавлен.", fields=errors)
    comment = Comment(item_kind=kind, item_id=item.id, author_id=actor.user_id, body=text, ref=ref or None,
                      ref_label=label[:REF_LABEL_MAX] if label else None, created_at=services.now())
    uow.session.add(comment)
    uow.session.flush()
    audit.record(uow, action="comment.added", object_type=OBJECT_TYPES[kind], object_id=item.id, actor=actor,
                 after={"comment_id": comment.id, "ref": comment.ref, "ref_label": comment.ref_label,
                        "text": text})
    uow.emit("comment.added", {"item_kind": kind, "item_id": item.id, "comment_id": comment.id,
                               "actor_id": actor.user_id, "ref": comment.ref})
    return comment


def comments_of(session, item: Item) -> list[Comment]:
    """Oldest first: a thread reads down."""
    return list(session.execute(
        select(Comment).where(Comment.item_kind == item.kind, Comment.item_id == item.id).order_by(Comment.id)
    ).unique().scalars())


def list_comments(session, actor: Actor, kind: str, item_id: int) -> list[Comment]:
    return comments_of(session, open_item(session, actor, kind, item_id))


# --- files -----------------------------------------------------------------------------------

def add_file(uow: UnitOfWork, services, actor: Actor, kind: str, item_id: int,
             upload: attachments.Upload) -> Attachment | ItemAttachment:
    """A request's file goes where its answers find it (services.attachments); a report's or an
    amendment's to ``item_attachments``. The same checks, limits and storage either way."""
    if kind == "request":
        return attachments.add_attachment(uow, services, actor, item_id, upload)
    item = _writable(uow.session, actor, kind, item_id)
    stored = attachments.store_upload(services, upload)
    row = ItemAttachment(item_kind=kind, item_id=item.id, filename=stored.filename,
                         content_type=stored.content_type, size=stored.size, sha256=stored.sha256,
                         uploaded_by_id=actor.user_id, created_at=services.now())
    uow.session.add(row)
    uow.session.flush()
    attachments.announce_file(uow, actor, kind, item.id, row)
    return row


def files_of(session, item: Item) -> list[Attachment | ItemAttachment]:
    if item.kind == "request":
        query = select(Attachment).where(Attachment.request_id == item.id).order_by(Attachment.id)
    else:
        query = (select(ItemAttachment).where(ItemAttachment.item_kind == item.kind,
                                              ItemAttachment.item_id == item.id).order_by(ItemAttachment.id))
    return list(session.execute(query).scalars())


def list_files(session, actor: Actor, kind: str, item_id: int) -> list[Attachment | ItemAttachment]:
    return files_of(session, open_item(session, actor, kind, item_id))


def get_file(session, services, actor: Actor, kind: str, item_id: int,
             attachment_id: int) -> tuple[Attachment | ItemAttachment, Path]:
    """A file of this item (one of another item under this one's address is not found)."""
    if kind == "request":
        return attachments.get_attachment(session, services, actor, item_id, attachment_id)
    item = open_item(session, actor, kind, item_id)
    row = session.get(ItemAttachment, attachment_id)
    if row is None or row.item_kind != kind or row.item_id != item.id:
        raise NotFound("Вложение не найдено.")
    return row, attachments.stored_path(services, row.sha256)


# --- what an item's page shows -----------------------------------------------------------------

@dataclass
class Thread:
    item: Item
    comments: list[Comment]
    files: list
    points: dict[str, str]
    writable: bool
    uploaders: dict[int, User] = field(default_factory=dict)

    def count(self, ref: str) -> int:
        """Comments on this point (a line's count includes those on its cells)."""
        return sum(1 for c in self.comments if c.ref and (c.ref == ref or c.ref.startswith(ref + ".")))


def thread(session, services, actor: Actor, kind: str, item_id: int) -> Thread:
    item = open_item(session, actor, kind, item_id)
    files = files_of(session, item)
    ids = {f.uploaded_by_id for f in files}
    uploaders = {u.id: u for u in session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    return Thread(item, comments_of(session, item), files, reference_points(session, services, item),
                  _writes(actor, item), uploaders)


# --- who is told ----------------------------------------------------------------------------------

def _parties(session, item: Item) -> list[User]:
    """The people the item's own emails go to, on every side of it."""
    if item.kind == "request":
        req = item.row
        addressees = [req.assignee] if req.assignee else users_of(session, req.department_id)
        return [req.thread.created_by, *addressees]
    codes = [item.passport.executor]
    if item.kind == "report":
        codes.append(rp.ECONOMIC_POLICY_DEPARTMENT)
    else:
        codes += sorted(required_reviewers(item.passport))
    return [user for code in codes for user in users_of(session, code=code)]


def _participants(session, item: Item) -> list[User]:
    """Everyone who has written in the discussion or attached a file to it."""
    ids = set(session.execute(select(Comment.author_id).where(
        Comment.item_kind == item.kind, Comment.item_id == item.id)).scalars())
    if item.kind != "request":
        ids |= set(session.execute(select(ItemAttachment.uploaded_by_id).where(
            ItemAttachment.item_kind == item.kind, ItemAttachment.item_id == item.id)).scalars())
    if not ids:
        return []
    return list(session.execute(select(User).where(User.id.in_(ids)).order_by(User.id)).scalars())


def discussion_recipients(session, item_kind: str, item_id: int, author_id: int | None) -> list[User]:
    """Who is emailed about a new comment or file on the item: its parties (as its other emails name
    them) and whoever took part in its discussion; never the author, nobody inactive or who can no
    longer see the item, each address once. Watchers are added by the handler
    (``services.events.watchers``), with the line saying why they receive it."""
    item = _load(session, item_kind, item_id)
    if item is None:
        return []
    found: list[User] = []
    seen: set[str] = set()
    for user in [*_parties(session, item), *_participants(session, item)]:
        if user is None or user.id == author_id or not user.active or user.email in seen:
            continue
        if not _sees(actor_for(user), item):
            continue
        seen.add(user.email)
        found.append(user)
    return found


def describe(session, item_kind: str, item_id: int) -> Item | None:
    """The item an email is about, for whoever sends it."""
    return _load(session, item_kind, item_id)
