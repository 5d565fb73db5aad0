"""Event handler of discussions: a new comment or file is emailed to the item's other people.

One email per event and recipient, keyed ``<event id>:<address>`` like the items' other emails, so a
redelivered event queues nothing twice; who they are is ``discussion_recipients``.
"""
from __future__ import annotations

from services import discussion
from services.adapters.formatting import format_datetime, format_size
from services.adapters.mail import queue_email
from services.events.watchers import email_watchers
from services.models.discussion import Comment, ItemAttachment
from services.models.registry import User
from services.models.requests import Attachment

TEMPLATES = {"comment.added": "discussion_comment", "attachment.added": "discussion_attachment"}


def email_discussion(uow, event, services) -> None:
    p = event.payload
    session = uow.session
    item = discussion.describe(session, p["item_kind"], p["item_id"])
    if item is None:
        return
    if event.type == "comment.added":
        row = session.get(Comment, p["comment_id"])
    else:
        row = session.get(Attachment if item.kind == "request" else ItemAttachment, p["attachment_id"])
    if row is None:
        return
    author = session.get(User, p.get("actor_id")) if p.get("actor_id") else None
    context = {
        "item": item, "row": row, "author": author, "url": services.settings.base_url + item.path,
        "author_name": (author.name or author.email) if author else "Система",
        "author_department": author.department.name if author else "",
        "at": format_datetime(row.created_at, services.tz),
        "size": format_size(getattr(row, "size", None)),
    }
    emailed = {author.email} if author else set()  # the author is told nothing of their own remark
    for user in discussion.discussion_recipients(session, item.kind, item.id, p.get("actor_id")):
        emailed.add(user.email)
        queue_email(uow, services, dedupe_key=f"{event.id}:{user.email}", recipient=user.email,
                    template=TEMPLATES[event.type], context={**context, "user": user}, item=item.mail_item)
    email_watchers(uow, services, event, kind=item.kind, item_id=item.id, template=TEMPLATES[event.type],
                   context=context, already=emailed, item=item.mail_item)
