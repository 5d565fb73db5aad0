"""Marshmallow schemas of the information-request API (unknown fields are refused)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from services import information_requests as ir, lists
from services.web.api.contract import ListQuery, sort_field
from services.web.fields import BODY, CODE, COMMENT, DAYS, ID, SLUG, SUBJECT


class RequestCreate(Schema):
    program = SLUG.field(required=True)
    subject = SUBJECT.field(required=True)
    body = BODY.field(load_default="")
    addressees = fields.List(CODE.field(), required=True, validate=validate.Length(min=1, max=50))
    working_days = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1, max=60))
    form = fields.List(fields.Dict(), load_default=list, validate=validate.Length(max=100))
    send = fields.Boolean(load_default=False)


class TransitionIn(Schema):
    event = CODE.field(required=True)
    comment = COMMENT.field(load_default="")
    data = fields.Dict(load_default=dict)
    working_days = DAYS.field(load_default=None)
    assignee_id = ID.field(load_default=None)


class RequestListQuery(ListQuery):
    thread = ID.field(load_default=None, strict=False)
    state = fields.String(load_default=None, validate=validate.OneOf(ir.WORKFLOW.states))
    department = fields.String(load_default=None, metadata={"description": "Код подразделения-адресата"})
    box = fields.String(load_default=None, validate=validate.OneOf(("in", "out")), metadata={
        "description": "in: адресованные моему подразделению; out: направленные им"})
    mine = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "Назначенные мне"})
    due_before = fields.AwareDateTime(load_default=None, default_timezone=None)
    due_after = fields.AwareDateTime(load_default=None, default_timezone=None)
    sort = sort_field(lists.REQUEST_SORTS, "-id")


class AttachmentOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()


class UploadIn(Schema):
    """Documents the multipart form; the view reads ``request.files`` itself."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class RequestOut(Schema):
    """Documented shape of one addressee's copy."""

    id = fields.Integer()
    thread = fields.Integer()
    program = fields.String()
    subject = fields.String()
    body = fields.String()
    department = fields.String()
    requester_department = fields.String()
    state = fields.String()
    state_label = fields.String()
    working_days = fields.Integer(allow_none=True)
    sent_at = fields.String(allow_none=True)
    registration_number = fields.String(allow_none=True, metadata={
        "description": "Регистрационный номер; присваивается при первой отправке: номер запроса и номер экземпляра, например ИТ-2026/00017/2 (до этого null)"})
    registration_date = fields.String(allow_none=True, metadata={"description": "Дата регистрации, ГГГГ-ММ-ДД"})
    due_date = fields.String(allow_none=True)
    due_at = fields.String(allow_none=True)
    overdue = fields.Boolean()
    paused = fields.Boolean()
    deadline_explanation = fields.String(allow_none=True)
    form = fields.List(fields.Dict())
    answer = fields.Dict(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    allowed_events = fields.List(fields.String())
    attachments = fields.List(fields.Nested(AttachmentOut))
    version = fields.Integer()


class RequestCreated(Schema):
    thread = fields.Integer()
    requests = fields.List(fields.Nested(RequestOut), metadata={"description": "Один экземпляр на адресата"})
