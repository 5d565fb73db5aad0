"""Discussion endpoints: the comments of every request, report and amendment, and the files of
reports and amendments (a request's files are under /requests/<id>/attachments, its own routes).

One route set per kind of item, each over the same use cases (services.discussion); the path
parameter keeps the name the item's other routes give it.
"""
from __future__ import annotations

from flask import g, request, send_file
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services import attachments, discussion
from services.web.api.auth import login_required
from services.web.api.contract import DISPOSITION_HEADER, PageQuery, file_response, page_of, paginate, refuses
from services.web.api.request_schemas import AttachmentOut, UploadIn
from services.web.context import current_services
from services.web.fields import LONG_TEXT, REF

blp = Blueprint("discussion", __name__, url_prefix="/api/v1", description="Обсуждение: комментарии и файлы")

# kind -> (the path's plural, its parameter, the item in the genitive for the docs)
KINDS = {
    "request": ("requests", "request_id", "запроса"),
    "report": ("reports", "report_id", "отчёта"),
    "amendment": ("amendments", "amendment_id", "проекта изменений"),
}


class CommentIn(Schema):
    body = LONG_TEXT.field(required=True, metadata={"description": "Текст комментария, до 20 000 символов"})
    ref = REF.field(load_default=None, allow_none=True, metadata={
        "description": "К чему относится: поле запроса (subject, body, form[<ключ>], answer), строка или ячейка "
                       "таблицы отчёта (indicators[I2], indicators[I2].fact, financing[city].spent, "
                       "activities[1.1], note), строка набора изменений проекта (financing[2017].city, "
                       "indicators[I3].targets[2017], activities[…], sections[…]); null — ко всему документу"})


class CommentAuthorOut(Schema):
    id = fields.Integer()
    name = fields.String()
    department = fields.String()
    department_name = fields.String()


class CommentOut(Schema):
    id = fields.Integer()
    item_kind = fields.String(metadata={"description": "request, report или amendment"})
    item_id = fields.Integer()
    author = fields.Nested(CommentAuthorOut)
    body = fields.String()
    ref = fields.String(allow_none=True)
    ref_label = fields.String(allow_none=True, metadata={"description": "Как пункт назывался, когда писали"})
    created_at = fields.String()


class ItemAttachmentOut(AttachmentOut):
    uploaded_by_id = fields.Integer()
    created_at = fields.String()


def comment_view(comment) -> dict:
    author = comment.author
    return {"id": comment.id, "item_kind": comment.item_kind, "item_id": comment.item_id,
            "author": {"id": author.id, "name": author.name or author.email, "department": author.department.code,
                       "department_name": author.department.name},
            "body": comment.body, "ref": comment.ref, "ref_label": comment.ref_label,
            "created_at": comment.created_at.isoformat()}


def file_view(row) -> dict:
    return {"id": row.id, "filename": row.filename, "content_type": row.content_type, "size": row.size,
            "sha256": row.sha256, "uploaded_by_id": row.uploaded_by_id, "created_at": row.created_at.isoformat()}


def _comment_routes(kind: str) -> None:
    plural, param, of = KINDS[kind]
    path = f"/{plural}/<int:{param}>/comments"

    def list_comments(args, **ids):
        with current_services().uow() as uow:
            found = discussion.list_comments(uow.session, g.actor, kind, ids[param])
            return paginate([comment_view(c) for c in found], args)

    def add_comment(body, **ids):
        services = current_services()
        with services.uow() as uow:
            comment = discussion.add_comment(uow, services, g.actor, kind, ids[param], body["body"], body["ref"])
            view = comment_view(comment)
            uow.commit()
            return view

    list_comments.__doc__ = (f"Комментарии {of}, старые сначала: автор, его подразделение, время, текст и "
                             "пункт, к которому он относится. Видны всем, кто видит сам документ.")
    add_comment.__doc__ = (f"Комментарий к {of} (весь документ или его пункт, ``ref``); писать могут те, кто видит "
                           "документ через своё подразделение. Не изменяется и не удаляется; уходит письмом "
                           "участникам. Неизвестный ``ref`` или пустой текст — 422.")
    blp.route(path, endpoint=f"{kind}_comments")(login_required(
        blp.arguments(PageQuery, location="query")(blp.response(200, page_of(CommentOut))(list_comments))))
    blp.route(path, methods=["POST"], endpoint=f"{kind}_comment_add")(login_required(
        blp.arguments(CommentIn)(blp.response(201, CommentOut)(refuses(blp, 403)(add_comment)))))


def _file_routes(kind: str) -> None:
    plural, param, of = KINDS[kind]
    path = f"/{plural}/<int:{param}>/attachments"

    def list_files(args, **ids):
        with current_services().uow() as uow:
            return paginate([file_view(f) for f in discussion.list_files(uow.session, g.actor, kind, ids[param])],
                            args)

    def upload(**ids):
        services = current_services()
        sent = request.files.get("file")
        data = sent.read(services.settings.max_upload_bytes + 1) if sent else b""
        with services.uow() as uow:
            row = discussion.add_file(uow, services, g.actor, kind, ids[param], attachments.Upload(
                sent.filename if sent else None, sent.mimetype if sent else None, data))
            view = file_view(row)
            uow.commit()
            return view

    def download(attachment_id: int, **ids):
        services = current_services()
        with services.uow() as uow:
            row, stored = discussion.get_file(uow.session, services, g.actor, kind, ids[param], attachment_id)
            return send_file(stored, mimetype=row.content_type, as_attachment=True, download_name=row.filename)

    list_files.__doc__ = f"Файлы {of}, в порядке загрузки."
    upload.__doc__ = (f"Приложить файл к {of} (multipart, поле ``file``): те же допустимые виды, проверка "
                      "содержимого и предел размера, что у вложений запросов; отказ — 422 с причиной у поля file.")
    download.__doc__ = f"Скачать файл {of} под его именем."
    blp.route(path, endpoint=f"{kind}_files")(login_required(
        blp.arguments(PageQuery, location="query")(blp.response(200, page_of(ItemAttachmentOut))(list_files))))
    blp.route(path, methods=["POST"], endpoint=f"{kind}_file_add")(login_required(
        blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": UploadIn}}})(
            blp.response(201, ItemAttachmentOut)(refuses(blp, 403, 413, 422)(upload)))))
    blp.route(f"{path}/<int:attachment_id>", endpoint=f"{kind}_file")(login_required(
        file_response(blp, "application/octet-stream", "*/*", headers=DISPOSITION_HEADER,
                      description="Файл под его именем, с типом его вида.")(download)))


for _kind in KINDS:
    _comment_routes(_kind)
for _kind in ("report", "amendment"):
    _file_routes(_kind)
