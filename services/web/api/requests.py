"""Information request endpoints: routes build a call, run a use case, return the result."""
from __future__ import annotations

from flask import g, request, send_file
from flask_smorest import Blueprint
from marshmallow import RAISE

from services import attachments, information_requests as ir, lists
from services.web.api.auth import login_required
from services.web.api.contract import (
    DISPOSITION_HEADER, HistoryEntryOut, PageQuery, file_response, history_view, page, page_of, paginate, refuses,
)
from services.web.api.request_schemas import (
    AttachmentOut, RequestCreate, RequestCreated, RequestListQuery, RequestOut, TransitionIn, UploadIn,
)
from services.models.requests import Attachment
from services.web.context import current_services

blp = Blueprint("requests", __name__, url_prefix="/api/v1", description="Запросы информации")


def request_view(services, session, actor, req, *, fresh: bool = False) -> dict:
    """``fresh``: a copy created in this transaction, which has no answer or attachment to look up."""
    deadline = ir.deadline_of(services, req)
    answer = None if fresh else ir.latest_answer_of(session, req)
    attachments = [] if fresh else (
        session.query(Attachment).filter(Attachment.request_id == req.id).order_by(Attachment.id).all())
    return {
        "id": req.id,
        "thread": req.thread_id,
        "program": req.thread.program.slug,
        "subject": req.thread.subject,
        "body": req.thread.body,
        "department": req.department.code,
        "requester_department": req.thread.requester_department.code,
        "state": req.state,
        "state_label": ir.WORKFLOW.state_labels.get(req.state, req.state),
        "working_days": req.working_days,
        "sent_at": req.sent_at.isoformat() if req.sent_at else None,
        "registration_number": req.registration_number,
        "registration_date": req.registration_date.isoformat() if req.registration_date else None,
        "due_date": req.due_date.isoformat() if req.due_date else None,
        "due_at": req.due_at.isoformat() if req.due_at else None,
        "overdue": ir.is_request_overdue(req, services.now()),
        "paused": bool(deadline and deadline.paused),
        "deadline_explanation": deadline.explanation if deadline else None,
        "form": req.thread.form,
        "answer": ({"id": answer.id, "data": answer.data, "comment": answer.comment,
                    "at": answer.created_at.isoformat()} if answer else None),
        "assignee_id": req.assignee_id,
        "allowed_events": ir.WORKFLOW.allowed_events(req, ir.parties(actor, req)),
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "sha256": a.sha256} for a in attachments],
        "version": req.version,
    }


@blp.route("/requests", methods=["POST"])
@login_required
@blp.arguments(RequestCreate)
@blp.response(201, RequestCreated)
@refuses(blp, 403, 404)  # 404: no such program
def create(body):
    """Create a request to one or more departments (one tracked copy each); ``send`` sends at once."""
    services = current_services()
    with services.uow() as uow:
        thread, copies = ir.create_request(uow, services, g.actor, ir.NewRequest(**body))
        # Built inside the transaction: reading after commit would cost another BEGIN/ROLLBACK.
        result = {"thread": thread.id,
                  "requests": [request_view(services, uow.session, g.actor, r, fresh=True) for r in copies]}
        uow.commit()
        return result


@blp.route("/requests")
@login_required
@blp.arguments(RequestListQuery, location="query", unknown=RAISE)
@blp.response(200, page_of(RequestOut))
def list_(args):
    """Requests the caller's department sent or received; the web list's filters and orders, paged."""
    services = current_services()
    with services.uow() as uow:
        query = dict(args)
        query["per_page"] = query.pop("page_size")
        query["assignee"] = g.actor.user_id if query.pop("mine") else None
        found = lists.request_page(uow.session, g.actor, lists.RequestQuery(**query), now=services.now(),
                                   count_limit=None, clamp=False)
        return page([request_view(services, uow.session, g.actor, r) for r in found.items], found.total, args)


@blp.route("/requests/<int:request_id>")
@login_required
@blp.response(200, RequestOut)
def get(request_id: int):
    """One copy with its deadline explanation and the caller's ``allowed_events``."""
    services = current_services()
    with services.uow() as uow:
        return request_view(services, uow.session, g.actor, ir.get_visible(uow.session, g.actor, request_id))


@blp.route("/requests/<int:request_id>/transitions", methods=["POST"])
@login_required
@blp.arguments(TransitionIn)
@blp.response(200, RequestOut)
@refuses(blp, 403, 409)
def transition(body, request_id: int):
    """Fire an event: send, answer, request_clarification, accept, withdraw, delegate, extend_deadline."""
    services = current_services()
    data = dict(body["data"])
    for key in ("working_days", "assignee_id"):
        if body.get(key) is not None:
            data[key] = body[key]
    with services.uow() as uow:
        req = ir.fire_transition(uow, services, g.actor, request_id, body["event"], body["comment"], data)
        view = request_view(services, uow.session, g.actor, req)
        uow.commit()
        return view


@blp.route("/requests/<int:request_id>/history")
@login_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(HistoryEntryOut))
def history(args, request_id: int):
    """Every transition: who, which role, from, to, when, comment; oldest first."""
    with current_services().uow() as uow:
        return paginate(history_view(ir.history(uow.session, g.actor, request_id)), args)


@blp.route("/inbox")
@login_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(RequestOut))
def inbox(args):
    """What the caller's department must act on now, most urgent first."""
    services = current_services()
    with services.uow() as uow:
        found = paginate(ir.inbox(uow.session, g.actor), args)
        found["items"] = [request_view(services, uow.session, g.actor, r) for r in found["items"]]
        return found


def _attachment_view(att) -> dict:
    return {"id": att.id, "filename": att.filename, "content_type": att.content_type, "size": att.size,
            "sha256": att.sha256}


@blp.route("/requests/<int:request_id>/attachments", methods=["POST"])
@login_required
@blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": UploadIn}}})
@blp.response(201, AttachmentOut)
@refuses(blp, 403, 409, 413, 422)
def upload(request_id: int):
    """Upload a file (multipart field ``file``); refused over the size limit or of a dangerous type."""
    services = current_services()
    sent = request.files.get("file")
    data = sent.read(services.settings.max_upload_bytes + 1) if sent else b""
    with services.uow() as uow:
        att = attachments.add_attachment(uow, services, g.actor, request_id, attachments.Upload(
            sent.filename if sent else None, sent.mimetype if sent else None, data))
        uow.commit()
        return _attachment_view(att)


@blp.route("/requests/<int:request_id>/attachments/<int:attachment_id>")
@login_required
@file_response(blp, "application/octet-stream", "*/*", headers=DISPOSITION_HEADER,
               description="The file under its original name, with the type it was uploaded with.")
def download(request_id: int, attachment_id: int):
    """Download an attachment under its original name."""
    services = current_services()
    with services.uow() as uow:
        att, path = attachments.get_attachment(uow.session, services, g.actor, request_id, attachment_id)
        return send_file(path, mimetype=att.content_type, as_attachment=True, download_name=att.filename)
