"""Use cases of information requests: one function per thing a user does."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, or_, select

from services import registration, reminders, transitions
from workflows.registration import label as registration_label
from services.answer_forms import validate_answer, validate_form
from services.models.base import utcnow
from services.models.registry import Department, User
from services.models.requests import Answer, Attachment, InformationRequest, RequestThread
from services.models.workflow import TransitionRecord
from services.registry import load_version, record_actual
from services.adapters.unit_of_work import UnitOfWork, transaction_cache
from services.registry import users_of
from services.reminders import ItemReminder
from workflows.core import Actor, Forbidden, Invalid, NotFound
from workflows.deadlines import Deadline, Extension, Pause, compute_deadline
from workflows.information_request import (
    ADDRESSEE, ADDRESSEE_HEAD, AWAITING_ADDRESSEE, INFORMATION_REQUEST, REQUESTER,
)

WORKFLOW = INFORMATION_REQUEST
CREATOR_ROLES = ("executor", "economic_policy", "finance")
SUBJECT_MAX = 500
BODY_MAX = 20000


# --- who is who -------------------------------------------------------------

def parties(actor: Actor, req: InformationRequest) -> set[str]:
    found = set()
    if actor.department and actor.department == req.thread.requester_department.code:
        found.add(REQUESTER)
    if actor.department and actor.department == req.department.code:
        found.add(ADDRESSEE)
        if actor.is_head:
            found.add(ADDRESSEE_HEAD)
    return found


def can_see(actor: Actor, req: InformationRequest) -> bool:
    """Parties and the admin; a copy never sent (a draft, or withdrawn as one) is the requester's only."""
    if actor.has_role("admin"):
        return True
    who = parties(actor, req)
    return REQUESTER in who if req.sent_at is None else bool(who)


def visible_filter(actor: Actor):
    """``can_see`` as a WHERE clause (the lists in ``services.lists`` use it)."""
    if actor.has_role("admin"):
        return True
    dept_id = select(Department.id).where(Department.code == actor.department).scalar_subquery()
    return or_(and_(InformationRequest.department_id == dept_id, InformationRequest.sent_at.is_not(None)),
               InformationRequest.requester_department_id == dept_id)


# --- deadlines ----------------------------------------------------------------

def deadline_of(services, req: InformationRequest) -> Deadline | None:
    if req.sent_at is None:
        return None
    return compute_deadline(
        services.calendar, req.sent_at, req.working_days, services.tz,
        pauses=[Pause(datetime.fromisoformat(p["started"]),
                      datetime.fromisoformat(p["ended"]) if p.get("ended") else None) for p in req.pauses],
        extensions=[Extension(e["working_days"], e["reason"], datetime.fromisoformat(e["at"]))
                    for e in req.extensions],
        state=req.state, closed_at=req.closed_at,
    )


def _refresh_deadline(services, req: InformationRequest) -> Deadline | None:
    """Store the due date the sweep indexes on; a moved deadline gets a new revision."""
    deadline = deadline_of(services, req)
    if deadline is None:
        return None
    due_at = None if deadline.paused else deadline.due_at
    if (deadline.due_date, due_at) != (req.due_date, req.due_at):
        req.deadline_revision += 1
    req.due_date, req.due_at = deadline.due_date, due_at
    return deadline


def is_request_overdue(req: InformationRequest, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return req.state in AWAITING_ADDRESSEE and req.due_at is not None and req.due_at < now


# --- creating -----------------------------------------------------------------

@dataclass
class NewRequest:
    program: str
    subject: str
    body: str
    addressees: list[str]
    working_days: int | None = None
    form: list[dict] | None = None
    send: bool = False
    origin: str | None = None


def create_request(uow: UnitOfWork, services, actor: Actor, new: NewRequest) -> tuple[RequestThread, list[InformationRequest]]:
    if not actor.has_role(*CREATOR_ROLES):
        raise Forbidden("Создавать запросы могут исполнитель, отдел экономической политики и финансовое управление.")
    loaded = load_version(uow.session, new.program)
    program_departments = {d.code for d in loaded.passport.departments}
    if actor.department not in program_departments:
        # Only the program's departments ask within it; to others the program does not exist.
        raise NotFound(f"Программа «{new.program}» не найдена.")
    errors: dict[str, list[str]] = {}
    # The same limits for the API and the web form: a subject is one line (it becomes every
    # email's Subject header, where CR/LF would be a header injection and an unsendable message).
    subject = new.subject or ""
    if not subject.strip():
        errors["subject"] = ["Укажите тему запроса."]
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = [f"Не длиннее {SUBJECT_MAX} символов."]
    elif "\r" in subject or "\n" in subject:
        errors["subject"] = ["Тема — одна строка, без переводов строки."]
    if len(new.body or "") > BODY_MAX:
        errors["body"] = [f"Не длиннее {BODY_MAX} символов."]
    addressees = list(dict.fromkeys(new.addressees or []))
    if not addressees:
        errors["addressees"] = ["Укажите хотя бы одно подразделение."]
    depts = {d.code: d for d in uow.session.execute(
        select(Department).where(Department.code.in_(addressees + [actor.department or ""]))).scalars()}
    unknown = [code for code in addressees if code not in depts]
    outside = [code for code in addressees if code in depts and code not in program_departments]
    if unknown:
        errors["addressees"] = [f"Неизвестные подразделения: {', '.join(unknown)}."]
    elif outside:
        errors["addressees"] = [f"Не участвуют в программе: {', '.join(outside)}."]
    if actor.department in addressees:
        errors["addressees"] = ["Нельзя направить запрос своему подразделению."]
    working_days = new.working_days if new.working_days is not None else services.settings.default_working_days
    if isinstance(working_days, bool) or not isinstance(working_days, int) or not 1 <= working_days <= 60:
        errors["working_days"] = ["Целое число рабочих дней от 1 до 60."]
    if errors:
        raise Invalid("Запрос не создан.", fields=errors)
    form = validate_form(new.form or [], loaded.passport)
    thread = RequestThread(
        program_id=loaded.program.id, requester_department_id=depts[actor.department].id,
        created_by_id=actor.user_id, subject=new.subject, body=new.body, form=form,
        working_days=working_days, origin=new.origin,
    )
    uow.session.add(thread)
    uow.session.flush()
    copies = []
    for code in addressees:
        # The related rows are already in hand: set them, so no per-copy refresh query is needed.
        req = InformationRequest(thread=thread, department=depts[code], state="draft", assignee=None,
                                 working_days=working_days, pauses=[], extensions=[])
        uow.session.add(req)
        copies.append(req)
    uow.session.flush()
    cache = transaction_cache(uow.session)
    for position, req in enumerate(copies, start=1):
        # Made in this transaction: no reminder steps yet, and its place among the thread's copies known.
        cache[("new_copy", req.id)] = position
    for req in copies:
        uow.emit("information_request.created", {"item_id": req.id, "thread_id": thread.id,
                                                 "actor_id": actor.user_id})
        if new.send:
            _fire(uow, services, actor, req, "send")
    return thread, copies


# --- transitions ----------------------------------------------------------------

def get_visible(session, actor: Actor, request_id: int, *, for_update: bool = False) -> InformationRequest:
    query = select(InformationRequest).where(InformationRequest.id == request_id)
    if for_update:
        query = query.with_for_update(of=InformationRequest)
    req = session.execute(query).unique().scalar_one_or_none()
    if req is None or not can_see(actor, req):
        raise NotFound(f"Запрос {request_id} не найден.")
    return req


def fire_transition(uow: UnitOfWork, services, actor: Actor, request_id: int, event: str,
                    comment: str = "", data: dict | None = None) -> InformationRequest:
    req = get_visible(uow.session, actor, request_id, for_update=True)
    _fire(uow, services, actor, req, event, comment=comment, data=data or {})
    return req


def _fire(uow: UnitOfWork, services, actor: Actor, req: InformationRequest, event: str,
          comment: str = "", data: dict | None = None) -> None:
    data = dict(data or {})
    who = parties(actor, req)
    now = services.now()
    machine_data: dict = {}
    payload: dict = {"thread_id": req.thread_id, "department": req.department.code}
    # Check who and when before looking at the data, so a refused caller learns nothing more.
    WORKFLOW.check(req, event, who)  # who and when before the data: a refused caller learns nothing more
    thread_number = None
    if event == "send":
        thread_number = registration.lock_thread(uow, req)  # before any write (see there why)
    clock_before = _clock(req)
    if event == "answer":
        answer_data = validate_answer(req.thread.form, data)
        _check_file_fields(uow, req, answer_data)
        answer = Answer(request_id=req.id, data=answer_data, comment=comment or "", author_id=actor.user_id)
        uow.session.add(answer)
        uow.session.flush()
        payload["answer_id"] = answer.id
        transaction_cache(uow.session)[("latest_answer", req.id)] = answer  # the response reads it here
    elif event == "extend_deadline":
        machine_data = {"working_days": data.get("working_days")}
    elif event == "delegate":
        machine_data = {"assignee_id": data.get("assignee_id")}
        # In the payload before firing, so the history row and the outbox event both carry it.
        payload["assignee_id"] = data.get("assignee_id")
    elif data:
        raise Invalid("Это действие не принимает данных.", fields={"data": ["Лишнее поле."]})

    result = transitions.fire(uow, WORKFLOW, req, actor, who, event, comment=comment, data=machine_data,
                              payload=payload)

    if event == "send":
        req.sent_at = now
        registration.register_copy(uow, services, req, now, locked=thread_number,
                                   position=transaction_cache(uow.session).get(("new_copy", req.id)))
    elif event == "answer":
        req.answered_at = now
        req.pauses = [*req.pauses, {"started": now.isoformat(), "ended": None}]
    elif event == "request_clarification":
        req.pauses = [*req.pauses[:-1], {**req.pauses[-1], "ended": now.isoformat()}]
    elif event == "extend_deadline":
        req.extensions = [*req.extensions, {"working_days": data["working_days"], "reason": comment,
                                            "at": now.isoformat()}]
    elif event == "delegate":
        _delegate(uow, req, data["assignee_id"])
    if result.target in ("accepted", "withdrawn"):
        req.closed_at = now
    _refresh_deadline(services, req)
    req.updated_at = now
    if event == "accept":
        # After every change to the row: the query here autoflushes it as one UPDATE (one version bump).
        _record_actuals(uow, req, actor)
    if _clock(req) != clock_before:  # reminders follow the deadline only when it moved or stopped
        reminders.reschedule(uow, services, "information_request", req.id,
                             req.due_date if req.state in AWAITING_ADDRESSEE and req.due_at else None,
                             req.deadline_revision, req.thread.program.slug, now=now,
                             new_item=("new_copy", req.id) in transaction_cache(uow.session))


def _clock(req: InformationRequest) -> tuple:
    return req.deadline_revision, req.due_date, req.state in AWAITING_ADDRESSEE and req.due_at is not None


def _delegate(uow: UnitOfWork, req: InformationRequest, assignee_id: int) -> None:
    user = uow.session.get(User, assignee_id)
    if user is None or user.department_id != req.department_id or not user.active:
        raise Invalid("Передать можно только действующему сотруднику того же подразделения.",
                      fields={"assignee_id": ["Сотрудник не найден в подразделении-адресате."]})
    req.assignee_id = assignee_id


def _check_file_fields(uow: UnitOfWork, req: InformationRequest, answer: dict) -> None:
    for item in req.thread.form:
        if item["type"] != "file" or answer.get(item["key"]) is None:
            continue
        att = uow.session.get(Attachment, answer[item["key"]])
        if att is None or att.request_id != req.id:
            raise Invalid("Вложение не найдено.", fields={f"data.{item['key']}": ["Нет такого вложения у запроса."]})


def latest_answer(session, request_id: int) -> Answer | None:
    return session.execute(
        select(Answer).where(Answer.request_id == request_id).order_by(Answer.id.desc()).limit(1)
    ).scalar_one_or_none()


def latest_answer_of(session, req: InformationRequest) -> Answer | None:
    """``latest_answer``, without a query when this transaction's transition already made or read it
    (the response of ``answer`` and ``accept`` is built in the transition's transaction)."""
    key = ("latest_answer", req.id)
    cache = transaction_cache(session)
    if key not in cache:
        cache[key] = latest_answer(session, req.id)
    return cache[key]


def _record_actuals(uow: UnitOfWork, req: InformationRequest, actor: Actor) -> None:
    answer = latest_answer_of(uow.session, req)
    if answer is None:
        return
    for item in req.thread.form:
        value = answer.data.get(item["key"])
        if item.get("indicator") and value is not None:
            record_actual(uow, req.thread.program_id, item["indicator"], item["period"], Decimal(str(value)),
                          request_id=req.id, answer_id=answer.id, user_id=actor.user_id)


# --- reading --------------------------------------------------------------------

def inbox(session, actor: Actor, now: datetime | None = None) -> list[InformationRequest]:
    """What the caller's department must act on now, most urgent first."""
    now = now or utcnow()
    dept_id = select(Department.id).where(Department.code == actor.department).scalar_subquery()
    mine_to_answer = and_(InformationRequest.department_id == dept_id,
                          InformationRequest.state.in_(AWAITING_ADDRESSEE))
    mine_to_review = and_(RequestThread.requester_department_id == dept_id,
                          InformationRequest.state.in_(("answered", "draft")))
    rows = session.execute(
        select(InformationRequest).join(RequestThread).where(or_(mine_to_answer, mine_to_review))
        .order_by(InformationRequest.due_at.is_(None), InformationRequest.due_at, InformationRequest.id).limit(500)
    ).unique().scalars().all()
    return list(rows)


def history(session, actor: Actor, request_id: int) -> list[TransitionRecord]:
    get_visible(session, actor, request_id)
    return list(session.execute(
        select(TransitionRecord).where(TransitionRecord.workflow == WORKFLOW.name,
                                       TransitionRecord.item_id == request_id).order_by(TransitionRecord.id)
    ).scalars())


# --- what this workflow's reminders say (registered per kind in services.bootstrap) ----

def describe_reminder(session, services, item_id: int) -> ItemReminder | None:
    req = session.get(InformationRequest, item_id)
    if req is None or req.state not in AWAITING_ADDRESSEE or req.due_date is None:
        return None
    deadline = deadline_of(services, req)
    executor = load_version(session, req.thread.program.slug).passport.executor
    assignee = [req.assignee] if req.assignee else users_of(session, req.department_id)
    return ItemReminder(
        title=f"Запрос {registration_label(req)} «{req.thread.subject}» ({req.department.name})",
        url=f"{services.settings.base_url}/requests/{req.id}",
        due_date=req.due_date,
        explanation=deadline.explanation if deadline else "",
        audiences={
            "assignee": assignee,
            "assignee_head": users_of(session, req.department_id, heads_only=True),
            "requester": [req.thread.created_by],
            "executor": users_of(session, code=executor),
            "economic_policy": users_of(session, code="economic-policy"),
        },
    )
