"""No duplicate from a double click or a retried POST: ``Idempotency-Key`` in the API, a one-time
submission token in the web forms.

Before the view runs, the key is *claimed* in a short transaction of its own (a row unique per
caller and key); a second request with the same key then finds the row: the stored answer again
(API: same status and body; web: a redirect to where the first went), a 422 if the API body
differs, a 409 while the first is still in flight. The claim's ``committed_at`` is written by
the next commit of the request's own unit of work, i.e. in the same transaction as the
transition, so a transition never commits without its key (a crash after that commit and before
the answer is stored leaves a committed key without an answer: a retry gets a 409 saying so,
never a second transition). A claim that never committed is released on error and taken over
after ``STALE_CLAIM`` if its process died. Keys are kept ``KEEP`` (24 h), purged on each claim.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, Response, flash, g, redirect, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from services.adapters.unit_of_work import NEXT_COMMIT
from services.models.base import utcnow
from services.models.sessions import IdempotencyKey
from services.web.api.auth import authenticate
from services.web.api.errors import error_response
from services.web.context import current_services
from services.web.session import API_PREFIX, current_web_user

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
FORM_FIELD = "submission_token"
MAX_KEY_LENGTH = 200
KEEP = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=2)
WEB_WAIT_SECONDS = 10.0
_PRINTABLE = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


@dataclass
class Claim:
    id: int
    web: bool


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and _PRINTABLE.fullmatch(key) is not None


def new_submission_token() -> str:
    """A fresh one-time token for one rendered form."""
    return secrets.token_urlsafe(16)


def _fingerprint() -> str:
    """What makes two submissions "the same": method, path, query and body (multipart by content,
    since each client picks its own boundary)."""
    digest = hashlib.sha256(f"{request.method}\n{request.path}\n{request.query_string.decode('latin-1')}\n".encode())
    if request.mimetype == "multipart/form-data":
        for name, value in sorted(request.form.items(multi=True)):
            digest.update(f"f:{name}={value}\n".encode("utf-8", "surrogatepass"))
        for name, sent in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            content = sent.stream.read()
            sent.stream.seek(0)
            digest.update(f"u:{name}:{sent.filename}:{hashlib.sha256(content).hexdigest()}\n".encode(
                "utf-8", "surrogatepass"))
    else:
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _claim(scope: str, key: str, fingerprint: str):
    """A new claim's id, or the existing row (detached) when this key was used already."""
    services = current_services()
    now = utcnow()
    with services.uow() as uow:
        uow.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP))
        row = IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint, created_at=now)
        uow.session.add(row)
        try:
            uow.commit()
            return row.id, None
        except IntegrityError:
            uow.rollback()
    with services.uow() as uow:
        existing = uow.session.execute(select(IdempotencyKey).where(
            IdempotencyKey.scope == scope, IdempotencyKey.key == key)).scalar_one_or_none()
        if existing is None:  # purged between the two statements: claim again
            return _claim(scope, key, fingerprint)
        if existing.status is None and existing.committed_at is None and existing.created_at < now - STALE_CLAIM:
            # The first attempt's process died before committing anything: this one takes over.
            taken = uow.session.execute(update(IdempotencyKey).where(
                IdempotencyKey.id == existing.id, IdempotencyKey.created_at == existing.created_at,
                IdempotencyKey.status.is_(None), IdempotencyKey.committed_at.is_(None))
                .values(created_at=now, fingerprint=fingerprint)).rowcount
            uow.commit()
            if taken:
                return existing.id, None
        uow.session.expunge(existing)
        return None, existing


def _reload(row_id: int) -> IdempotencyKey | None:
    with current_services().uow() as uow:
        row = uow.session.get(IdempotencyKey, row_id)
        if row is not None:
            uow.session.expunge(row)
        return row


def _mark_committed(row_id: int):
    def write(session):
        session.execute(update(IdempotencyKey).where(IdempotencyKey.id == row_id).values(committed_at=utcnow()))
    return write


def _start(claim_id: int, web: bool) -> None:
    g.idempotency_claim = Claim(claim_id, web)
    NEXT_COMMIT.set([_mark_committed(claim_id)])


# --- the API: Idempotency-Key ------------------------------------------------------------------

def _api_replay(row: IdempotencyKey, fingerprint: str):
    if row.fingerprint != fingerprint:
        return error_response(422, "idempotency_key_reused",
                              f"Ключ {HEADER} уже использован для другого запроса: повторите с тем же телом "
                              "или возьмите новый ключ.", fields={HEADER: ["Ключ использован с другим телом запроса."]})
    if row.status is None:
        if row.committed_at is not None:
            return error_response(409, "idempotency_answer_lost",
                                  f"Запрос с этим ключом {HEADER} выполнен, но его ответ не сохранён; "
                                  "запросите текущее состояние объекта.")
        return error_response(409, "idempotency_in_flight",
                              f"Запрос с этим ключом {HEADER} ещё выполняется; повторите позже.")
    response = Response(row.body, status=row.status, content_type=row.content_type or "application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _api_before():
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not valid_key(key):
        return error_response(422, "invalid_idempotency_key",
                              f"Заголовок {HEADER}: от 1 до {MAX_KEY_LENGTH} печатных символов ASCII без пробелов.",
                              fields={HEADER: [f"От 1 до {MAX_KEY_LENGTH} печатных символов ASCII без пробелов."]})
    authenticate()  # the key belongs to the caller; a refusal is the usual 401
    fingerprint = _fingerprint()
    claim_id, existing = _claim(f"api:{g.user_id}", key, fingerprint)
    if existing is not None:
        return _api_replay(existing, fingerprint)
    _start(claim_id, web=False)
    return None


# --- web forms: the one-time submission token -------------------------------------------------

def _web_page(status: int, message: str):
    return Response(f"<!doctype html><meta charset=utf-8><title>Форма уже отправлена</title><p>{message}</p>",
                    status=status, content_type="text/html; charset=utf-8")


def _web_replay(row: IdempotencyKey):
    deadline = time.monotonic() + WEB_WAIT_SECONDS
    while row is not None and row.status is None and row.committed_at is None and time.monotonic() < deadline:
        time.sleep(0.1)  # a double click: the first submission is still running; wait for its result
        row = _reload(row.id)
    if row is not None and row.location:
        flash("Эта форма уже была отправлена; показан результат первой отправки.", "info")
        return redirect(row.location, code=303)
    if row is not None and row.status is None and row.committed_at is None:
        return _web_page(409, "Эта форма уже отправлена и ещё обрабатывается. Обновите страницу через минуту.")
    return _web_page(409, "Эта форма уже была отправлена. Вернитесь на страницу и обновите её.")


def _web_before():
    token = request.form.get(FORM_FIELD)
    if token is None:
        return None
    if not valid_key(token):
        return _web_page(422, "Форма повреждена: обновите страницу и отправьте её снова.")
    user = current_web_user()
    if user is None:
        return None  # the view sends the visitor to sign in; nothing is claimed
    claim_id, existing = _claim(f"web:{user.id}", token, "")
    if existing is not None:
        return _web_replay(existing)
    _start(claim_id, web=True)
    return None


# --- after the view: keep the answer, or release the claim -------------------------------------

def _finish(response: Response) -> Response:
    claim: Claim | None = g.pop("idempotency_claim", None)
    NEXT_COMMIT.set(None)
    if claim is None:
        return response
    try:
        _store(claim, response)
    except SQLAlchemyError:
        # The answer stands; the claim stays open: taken over after STALE_CLAIM if nothing was
        # committed, else a retry is told the work was done (a 409), never done twice.
        log.warning("could not store the answer of idempotency claim %s", claim.id, exc_info=True)
    return response


def _store(claim: Claim, response: Response) -> None:
    with current_services().uow() as uow:
        row = uow.session.get(IdempotencyKey, claim.id)
        if row is None:
            return
        keep = row.committed_at is not None or (
            response.status_code < 500 and (not claim.web or 300 <= response.status_code < 400))
        if not keep:
            # Nothing was done (a server error, or a form shown again with its errors): the key is
            # free, so the same submission can be made again.
            uow.session.delete(row)
        else:
            row.status = response.status_code
            row.completed_at = utcnow()
            row.location = (response.headers.get("Location") or "")[:2000]
            if not claim.web:
                row.content_type = (response.content_type or "")[:100]
                row.body = response.get_data(as_text=True)
        uow.commit()


def init_idempotency(app: Flask) -> None:
    """Registered after the session, CSRF and input checks: only a well-formed, authorised request
    claims a key."""

    @app.before_request
    def _claim_key():
        if request.method != "POST" or request.url_rule is None:
            return None
        if request.path.startswith(API_PREFIX):
            return _api_before()
        return _web_before()

    @app.after_request
    def _store_answer(response):
        return _finish(response)

    @app.teardown_request
    def _forget(_exc):
        NEXT_COMMIT.set(None)

    # A global, like flask-wtf's csrf_token: macros imported without context see globals only.
    app.jinja_env.globals["submission_token"] = new_submission_token
