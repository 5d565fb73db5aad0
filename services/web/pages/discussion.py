"""The discussion block of every item's page (services.discussion) and what its forms post.

Each item's page module routes its own posts through ``post_comment`` and ``post_file`` with its
page renderer, so a refused comment or file comes back on that item's page with the reason at the
field (422) and nothing stored; a caller who may not see the item gets the 404 page.
"""
from __future__ import annotations

from typing import Callable

from flask import flash, redirect, request, send_file, url_for

from services import attachments, discussion
from services.web.pages.common import actor, flash_refusal, form_errors, services
from workflows.core import Invalid, NotFound, Refusal

PAGES = {"request": "webui.request_page", "report": "webui.report_page", "amendment": "webui.amendment_page"}
ID_PARAM = {"request": "request_id", "report": "report_id", "amendment": "amendment_id"}
# The select's groups, by the reference's first word ("indicators[I2].fact" -> indicators).
GROUPS = {"form": "Поля формы", "indicators": "Показатели", "financing": "Финансирование",
          "activities": "Мероприятия", "sections": "Разделы программы"}
WHOLE_ITEM = "Документ"
ALLOWED_FILES = attachments.ALLOWED_TEXT

Render = Callable[..., object]


def _page_url(kind: str, item_id: int, anchor: str = "") -> str:
    return url_for(PAGES[kind], **{ID_PARAM[kind]: item_id}) + anchor


def groups(points: dict[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The reference points as the select's option groups, in the page's order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for key, words in points.items():
        out.setdefault(GROUPS.get(key.split("[", 1)[0], WHOLE_ITEM), []).append((key, words))
    return list(out.items())


def block(session, svc, me, kind: str, item_id: int, *, errors=None, submitted=None, file_errors=None) -> dict:
    """What ``webui/_discussion.html`` shows: the thread, its form (a ``?ref=`` link preselects the
    point), the files of a report or an amendment, and any refusal at its field."""
    thread = discussion.thread(session, svc, me, kind, item_id)
    submitted = submitted or {}
    selected = submitted.get("ref") if "ref" in submitted else request.args.get("ref", "")
    ids = {ID_PARAM[kind]: item_id}
    return {
        "thread": thread, "kind": kind, "groups": groups(thread.points),
        "selected": selected if selected in thread.points else "",
        "errors": errors or {}, "submitted": submitted, "file_errors": file_errors or {},
        "comment_url": url_for(f"webui.{kind}_comment", **ids),
        # A request's files have their own section on its page (its answers refer to them).
        "with_files": kind != "request",
        "upload_url": url_for(f"webui.{kind}_upload", **ids) if kind != "request" else None,
        "file_url": (lambda f: url_for(f"webui.{kind}_download", attachment_id=f.id, **ids)),
        "allowed_files": ALLOWED_FILES,
    }


def post_comment(kind: str, item_id: int, render: Render):
    """``render(discussion_errors=…, discussion_submitted=…, status=422)`` shows the page again."""
    svc, me = services(), actor()
    problems = form_errors()
    if problems:  # the input guard's: too long, a control character
        return render(discussion_errors=problems, discussion_submitted=request.form, status=422)
    try:
        with svc.uow() as uow:
            comment = discussion.add_comment(uow, svc, me, kind, item_id, request.form.get("body", ""),
                                             request.form.get("ref") or None)
            anchor = f"#comment-{comment.id}"
            uow.commit()
    except Invalid as exc:
        return render(discussion_errors=exc.fields or {"body": [exc.message]}, discussion_submitted=request.form,
                      status=422)
    except NotFound:
        raise
    except Refusal as exc:
        flash_refusal(exc)
        return redirect(_page_url(kind, item_id, "#discussion"))
    flash("Комментарий добавлен.", "success")
    return redirect(_page_url(kind, item_id, anchor))


def post_file(kind: str, item_id: int, render: Render):
    """The same checks as a request's upload; ``render(discussion_file_errors=…, status=422)``."""
    svc, me = services(), actor()
    sent = request.files.get("file")
    data = sent.read(svc.settings.max_upload_bytes + 1) if sent else b""
    try:
        with svc.uow() as uow:
            row = discussion.add_file(uow, svc, me, kind, item_id, attachments.Upload(
                sent.filename if sent else None, sent.mimetype if sent else None, data))
            name = row.filename
            uow.commit()
    except Invalid as exc:  # the file itself: shown at the upload field, nothing stored
        return render(discussion_file_errors=exc.fields or {"file": [exc.message]}, status=422)
    except NotFound:
        raise
    except Refusal as exc:
        flash_refusal(exc)
        return redirect(_page_url(kind, item_id, "#files"))
    flash(f"Файл «{name}» приложен.", "success")
    return redirect(_page_url(kind, item_id, "#files"))


def download(kind: str, item_id: int, attachment_id: int):
    """Under its own name, as an attachment, with the type its kind has (never the client's)."""
    svc = services()
    with svc.uow() as uow:
        row, path = discussion.get_file(uow.session, svc, actor(), kind, item_id, attachment_id)
        return send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.filename)
