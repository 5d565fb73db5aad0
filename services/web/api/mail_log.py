"""The mail log, for administrators: every email's state and last error."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from services import administration
from services.web.api.auth import login_required
from services.web.api.contract import PageQuery, page, page_of, refuses
from services.models.mail import MAIL_STATES
from services.web.context import current_services
from workflows.core import Forbidden

blp = Blueprint("mail", __name__, url_prefix="/api/v1/mail", description="Журнал почты")


class MailQuery(PageQuery):
    state = fields.String(load_default=None, validate=validate.OneOf(MAIL_STATES))
    recipient = fields.String(load_default=None)


class EmailOut(Schema):
    id = fields.Integer()
    recipient = fields.String()
    subject = fields.String()
    state = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)
    message_id = fields.String(allow_none=True)
    item = fields.String(allow_none=True)


@blp.route("")
@login_required
@blp.arguments(MailQuery, location="query")
@blp.response(200, page_of(EmailOut))
@refuses(blp, 403)
def mail_log(args):
    """Queued, sending, sent, retrying and failed emails, newest first (admin only)."""
    if not g.actor.has_role("admin"):
        raise Forbidden("Журнал почты доступен только администратору.")
    with current_services().uow() as uow:
        rows, total = administration.list_mail(uow.session, state=args["state"], recipient=args["recipient"],
                                               limit=args["page_size"], offset=(args["page"] - 1) * args["page_size"])
        return page([{
            "id": m.id, "recipient": m.recipient, "subject": m.subject, "state": m.state, "attempts": m.attempts,
            "last_error": m.last_error, "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
            "message_id": m.message_id, "item": m.item,
        } for m in rows], total, args)


class RetryOut(Schema):
    id = fields.Integer()
    state = fields.String(metadata={"description": "sent, если письмо ушло сразу; иначе retrying или failed"})


@blp.route("/<int:email_id>/retry", methods=["POST"])
@login_required
@blp.response(202, RetryOut)
@refuses(blp, 403)
def retry(email_id: int):
    """Send a failed email again (admin only): queued now and delivered at once, audited as email.retried."""
    if not g.actor.has_role("admin"):
        raise Forbidden("Журнал почты доступен только администратору.")
    services = current_services()
    with services.uow() as uow:
        administration.retry_email(uow, services, email_id, by=g.actor)
        uow.commit()
    with services.uow() as uow:
        return {"id": email_id, "state": administration.get_email(uow.session, email_id).state}
