"""Information request pages: list, create (with a form builder), the request page and its answer form."""
from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from services import attachments, information_requests as ir, list_export, lists
from services.adapters.mail import failed_emails
from services.answer_forms import FIELD_TYPES
from services.models.registry import User
from services.models.requests import Attachment
from services.web.pages import discussion as discussion_block, svg
from services.web.fields import ID, Number
from services.web.pages.common import (
    actor, bp, flash_refusal, form_errors, login_required, refusal_text, run_action, services,
    shows_form_errors,
)
from services.web.pages.lists import (
    LIST_VIEWS, department_names, export_response, list_context, list_page, list_query, programs_visible,
)
from services.web.pages.watchers import panel as watch_panel
from workflows.core import Invalid, NotFound, Refusal

ALLOWED_FILES = attachments.ALLOWED_TEXT  # shown under the upload field

STATE_CHOICES = [("", "Все состояния")] + [(s, ir.WORKFLOW.state_labels[s]) for s in ir.WORKFLOW.states]
TYPE_LABELS = {"decimal": "Число", "integer": "Целое число", "text": "Текст", "date": "Дата", "file": "Файл"}


# --- list ----------------------------------------------------------------------------

@bp.route("/requests")
@login_required
def requests_list():
    return _requests_list(request.args)


def _requests_list(args, *, save_errors=None, save_name: str = ""):
    svc = services()
    with svc.uow() as uow:
        query, errors, kept = list_query(uow.session, "requests", args)
        page = list_page(lambda f: lists.request_page(uow.session, actor(), f, now=svc.now()), query)
        names = department_names(uow.session)
        return render_template("webui/requests_list.html", page=page, q=query.q or "", state=query.state or "",
                               box=query.box or "", department=query.department or "", number=query.number or "",
                               mine=query.assignee is not None, due_from=kept.get("due_from", ""),
                               due_to=kept.get("due_to", ""), errors=errors, export_args=kept,
                               states=STATE_CHOICES, names=names, overdue=bool(query.overdue),
                               is_overdue=ir.is_request_overdue, can_create=actor().has_role(*ir.CREATOR_ROLES),
                               **list_context(uow.session, "requests", query, kept, save_errors=save_errors,
                                              save_name=save_name),
                               ), 422 if errors or save_errors else 200


LIST_VIEWS["requests"] = _requests_list

REQUEST_COLUMNS = (
    list_export.Column("№", lambda r: r.id, 8),
    list_export.Column("Рег. номер", lambda r: r.registration_number, 18),
    list_export.Column("Тема", lambda r: r.thread.subject, 50),
    list_export.Column("От кого", lambda r: r.thread.requester_department.name, 40),
    list_export.Column("Кому", lambda r: r.department.name, 40),
    list_export.Column("Состояние", lambda r: ir.WORKFLOW.state_labels.get(r.state, r.state), 22),
    list_export.Column("Направлен", lambda r: r.sent_at, 18),
    list_export.Column("Срок", lambda r: r.due_date, 12),
    list_export.Column("Просрочен", lambda r: "да" if ir.is_request_overdue(r) else "", 10),
)


@bp.route("/requests/export.<fmt>")
@login_required
def requests_export(fmt: str):
    """Exactly the rows of the filtered list, every page of it."""
    svc = services()
    return export_response("requests", fmt, lambda session, f: lists.request_page(
        session, actor(), f, now=svc.now(), count_limit=0), name="zaprosy", title="Запросы",
        columns=REQUEST_COLUMNS) or requests_list()


# --- create ----------------------------------------------------------------------------

ROW_RE = re.compile(r"^f-([0-9]{1,3})-(label|type|required|indicator|period|key)$")  # the API's 100 rows at most


def _builder_rows(form) -> list[dict]:
    rows: dict[int, dict] = {}
    for name, value in form.items():
        m = ROW_RE.match(name)
        if m:
            rows.setdefault(int(m.group(1)), {})[m.group(2)] = value.strip()
    return [rows[i] for i in sorted(rows)]


def _form_from_rows(rows: list[dict], passport) -> tuple[list[dict], list[int]]:
    """The request's form from the builder rows (blank rows dropped); also each field's row index."""
    form, where = [], []
    names = {i.code: i for i in passport.indicators}
    for index, row in enumerate(rows):
        label, indicator = row.get("label", ""), row.get("indicator", "")
        if not label and not indicator:
            continue
        if not label and indicator in names:
            label = f"{indicator}. {names[indicator].name}, {names[indicator].unit}"
        key = row.get("key") or (f"ind_{indicator.lower()}" if indicator else f"field_{len(form) + 1}")
        if indicator and any(f["key"] == key for f in form):
            key = f"{key}_{len(form) + 1}"
        form.append({"key": key, "label": label, "type": row.get("type") or "decimal",
                     "required": row.get("required") == "on",
                     "indicator": indicator or None, "period": (row.get("period") or None) if indicator else
                     (row.get("period") or None)})
        where.append(index)
    return form, where


def _periods(passport) -> list[str]:
    out = []
    for year in range(passport.period_start, passport.period_end + 1):
        out.append(str(year))
        out += [f"{year}-Q{q}" for q in range(1, 5)]
    return out


def _refused_form(errors: dict[str, list[str]]) -> str:
    """The input guard's refusal as the form's message (each field's reason is also shown at it)."""
    return refusal_text(Invalid("Форма не принята: исправьте отмеченные поля.", fields=errors))


@bp.route("/requests/new", methods=["GET", "POST"])
@login_required
@shows_form_errors
def request_new():
    svc = services()
    me = actor()
    values = request.form if request.method == "POST" else request.args
    with svc.uow() as uow:
        programs = programs_visible(uow.session, me)
        if not programs:
            raise NotFound("Нет программ, по которым вы можете направлять запросы.")
        slug = values.get("program") or programs[0].program.slug
        loaded = next((p for p in programs if p.program.slug == slug), programs[0])
        passport = loaded.passport
        rows = _builder_rows(request.form) if request.method == "POST" else []
        errors: dict[str, list[str]] = form_errors()
        message = _refused_form(errors) if errors else None  # the input guard's: no further than here
        if request.method == "POST" and not errors and "add_row" not in request.form and "reload" not in request.form:
            form, where = _form_from_rows(rows, passport)
            try:
                days = int(request.form.get("working_days") or svc.settings.default_working_days)
            except ValueError:
                days = -1
            try:
                missing = {}
                if not request.form.get("subject", "").strip():
                    missing["subject"] = ["Укажите тему запроса."]
                if not request.form.getlist("addressees"):
                    missing["addressees"] = ["Отметьте хотя бы одно подразделение."]
                if missing:
                    raise Invalid("Запрос не создан.", fields=missing)
                thread, copies = ir.create_request(uow, svc, me, ir.NewRequest(
                    program=loaded.program.slug, subject=request.form.get("subject", "").strip(),
                    body=request.form.get("body", ""), addressees=request.form.getlist("addressees"),
                    working_days=days, form=form, send=request.form.get("send") == "1"))
                uow.commit()
            except Invalid as exc:
                uow.rollback()
                message = exc.message
                for name, problems in (exc.fields or {}).items():
                    m = re.match(r"form\[(\d+)\]\.(\w+)", name)
                    if m and int(m.group(1)) < len(where):
                        name = f"f-{where[int(m.group(1))]}-{m.group(2)}"
                    errors[name] = problems if isinstance(problems, list) else [str(problems)]
            except Refusal as exc:
                uow.rollback()
                message = exc.message
            else:
                sent = request.form.get("send") == "1"
                flash(("Запрос направлен: " if sent else "Черновик запроса сохранён: ")
                      + ", ".join(c.department.name for c in copies) + ".", "success")
                return redirect(url_for("webui.request_page", request_id=copies[0].id))
        if "add_row" in request.form or not rows:
            rows.append({"required": "on", "type": "decimal"})
        today = svc.now().astimezone(svc.tz).date()
        try:
            days = int(values.get("working_days") or svc.settings.default_working_days)
        except ValueError:
            days = svc.settings.default_working_days
        if "working_days" in errors:
            days = svc.settings.default_working_days
        preview = svc.calendar.add_working_days(today, days) if 1 <= days <= 60 else None
        addressees = [d for d in passport.departments if d.code != me.department]
        status = 422 if errors or message else 200
        return render_template(
            "webui/request_new.html", programs=programs, loaded=loaded, passport=passport, rows=rows,
            errors=errors, message=message, values=values, addressees=addressees,
            chosen=values.getlist("addressees") if hasattr(values, "getlist") else [],
            periods=_periods(passport), types=FIELD_TYPES, type_labels=TYPE_LABELS, days=days,
            today=today, preview=preview), status


# --- one request ---------------------------------------------------------------------------

_WHOLE = re.compile(r"[+-]?[0-9]{1,19}")
_FORM_NUMBER = Number()


def _answer_data(form_def: list[dict], formdata, problems: dict) -> dict:
    """Form strings to the JSON ``validate_answer`` expects; what cannot be converted stays as typed.

    A number no column holds goes to ``problems`` (keyed by the form's key) instead.
    """
    if not form_def:
        return {"text": formdata.get("text", "")}
    data = {}
    for item in form_def:
        key = item["key"]
        raw = (formdata.get(f"f_{key}") or "").strip()
        if raw == "":
            if not item.get("required", True):
                data[key] = None
            continue  # a required field left empty: "Обязательное поле."
        kind = item["type"]
        if kind in ("integer", "file"):
            problem = (ID if kind == "file" else _FORM_NUMBER).problem(raw)
            if problem:
                problems[key] = [problem]
                continue
            data[key] = int(raw) if _WHOLE.fullmatch(raw) else raw
        elif kind == "decimal":
            compact = raw.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
            data[key] = compact.replace(",", ".") if re.fullmatch(r"[+-]?\d+(,\d+)?", compact) else compact
        else:
            data[key] = raw
    return data


def _page(request_id: int, *, errors=None, submitted=None, message=None, upload_errors=None, action_errors=None,
          discussion_errors=None, discussion_submitted=None, status=200):
    svc = services()
    me = actor()
    with svc.uow() as uow:
        session = uow.session
        req = ir.get_visible(session, me, request_id)
        deadline = ir.deadline_of(svc, req)
        who = ir.parties(me, req)
        allowed = ir.WORKFLOW.allowed_events(req, who)
        siblings = lists.thread_copies(session, me, req.thread_id)
        history = ir.history(session, me, request_id)
        user_ids = {r.actor_id for r in history if r.actor_id} | {req.thread.created_by_id}
        answer = ir.latest_answer(session, req.id)
        if answer:
            user_ids.add(answer.author_id)
        users = {u.id: u for u in session.execute(select(User).where(User.id.in_(user_ids))).scalars()}
        attachments = session.execute(select(Attachment).where(Attachment.request_id == req.id)
                                      .order_by(Attachment.id)).scalars().all()
        colleagues = []
        if "delegate" in allowed:
            colleagues = session.execute(select(User).where(User.department_id == req.department_id,
                                                            User.active.is_(True)).order_by(User.name)).scalars().all()
        names = department_names(session)
        # The question the addressee is answering now, shown above the form that answers it.
        question = next((h for h in reversed(history) if h.event == "request_clarification"), None)
        if req.state != "clarification_requested":
            question = None
        if not submitted and answer is not None and "answer" in allowed:
            submitted = _prefilled(req.thread.form, answer)
        # The requester (and the admin) are told when an email about this copy could not go.
        mail_failures = (failed_emails(session, f"information_request:{req.id}")
                         if "requester" in who or me.has_role("admin") else [])
        talk = discussion_block.block(session, svc, me, "request", req.id, errors=discussion_errors,
                                      submitted=discussion_submitted)
        return render_template(
            "webui/request.html", req=req, deadline=deadline, allowed=allowed, siblings=siblings,
            history=history, users=users, answer=answer, attachments=attachments, colleagues=colleagues,
            names=names, labels=ir.WORKFLOW.event_labels, state_labels=ir.WORKFLOW.state_labels,
            diagram=svg.state_diagram(ir.WORKFLOW, req.state), is_overdue=ir.is_request_overdue(req),
            errors=errors or {}, submitted=submitted or {}, message=message, type_labels=TYPE_LABELS,
            may_upload=bool(who) and req.state not in ("accepted", "withdrawn"),
            upload_errors=upload_errors or {}, allowed_files=ALLOWED_FILES, mail_failures=mail_failures,
            action_errors=action_errors or {}, question=question, talk=talk,
            watch=watch_panel(session, me, "request", req.id),
        ), status


def _prefilled(form, answer) -> dict[str, str]:
    """The last answer as the answer form's submitted values: a clarification edits it, not a blank."""
    values: dict[str, str] = {"comment": answer.comment or ""}
    if not form:
        values["text"] = str(answer.data.get("text") or "")
        return values
    for f in form:
        value = answer.data.get(f["key"])
        if value is None:
            continue
        if f["type"] == "decimal":
            value = str(value).replace(".", ",")  # the form's own input convention (comma or point)
        values["f_" + f["key"]] = str(value)
    return values


@bp.route("/requests/<int:request_id>")
@login_required
def request_page(request_id: int):
    return _page(request_id)


@bp.route("/requests/<int:request_id>/answer", methods=["POST"])
@login_required
@shows_form_errors
def request_answer(request_id: int):
    svc = services()
    me = actor()
    with svc.uow() as uow:
        req = ir.get_visible(uow.session, me, request_id)
        problems = {name.removeprefix("f_"): reasons for name, reasons in form_errors().items()}
        data = _answer_data(req.thread.form, request.form, problems)
        if problems:
            uow.rollback()  # the page reads in a transaction of its own (SQLite: one writer at a time)
            return _page(request_id, errors=problems, submitted=request.form, status=422,
                         message="Ответ не отправлен: " + _refused_form(problems))
        try:
            ir.fire_transition(uow, svc, me, request_id, "answer", request.form.get("comment", ""), data)
            uow.commit()
        except Invalid as exc:
            uow.rollback()
            errors = {name.removeprefix("data."): problems for name, problems in (exc.fields or {}).items()}
            return _page(request_id, errors=errors, submitted=request.form, status=422,
                         message="Ответ не отправлен: исправьте отмеченные поля.")
        except Refusal as exc:
            uow.rollback()
            flash_refusal(exc)
            return redirect(url_for("webui.request_page", request_id=request_id))
    flash("Ответ отправлен. Срок приостановлен до решения запросившего подразделения.", "success")
    return redirect(url_for("webui.request_page", request_id=request_id))


EVENT_MESSAGES = {
    "send": "Запрос направлен.",
    "request_clarification": "Уточнение запрошено; срок адресата возобновлён.",
    "accept": "Ответ принят.",
    "withdraw": "Запрос отозван.",
    "extend_deadline": "Срок продлён.",
    "delegate": "Запрос передан сотруднику.",
}


@bp.route("/requests/<int:request_id>/action", methods=["POST"])
@login_required
def request_action(request_id: int):
    svc = services()
    event = request.form.get("event", "")
    data: dict = {}
    for key in ("working_days", "assignee_id"):
        raw = request.form.get(key, "").strip()
        if raw:
            data[key] = int(raw) if re.fullmatch(r"[0-9]{1,19}", raw) else raw
        elif key == "working_days" and event == "extend_deadline":
            data[key] = None

    def act():
        with svc.uow() as uow:
            ir.fire_transition(uow, svc, actor(), request_id, event, request.form.get("comment", ""), data)
            uow.commit()

    def at_the_fields(exc: Invalid):
        # Keyed by form and field ("request_clarification.comment"): several forms on the page have a comment.
        errors = {f"{event}.{name}": problems for name, problems in exc.fields.items()}
        return _page(request_id, action_errors=errors, status=422)

    return run_action(act, ok=EVENT_MESSAGES.get(event, "Готово."),
                      back_to=url_for("webui.request_page", request_id=request_id), on_invalid=at_the_fields)


# --- attachments ---------------------------------------------------------------------------

@bp.route("/requests/<int:request_id>/attachments", methods=["POST"])
@login_required
def request_upload(request_id: int):
    """The same use case as the API's upload, its refusals shown as a message."""
    svc = services()
    me = actor()
    back_to = url_for("webui.request_page", request_id=request_id) + "#attachments"
    sent = request.files.get("file")
    data = sent.read(svc.settings.max_upload_bytes + 1) if sent else b""
    try:
        with svc.uow() as uow:
            att = attachments.add_attachment(uow, svc, me, request_id, attachments.Upload(
                sent.filename if sent else None, sent.mimetype if sent else None, data))
            name = att.filename
            uow.commit()
    except Invalid as exc:  # the file itself: shown at the upload field, nothing stored
        return _page(request_id, upload_errors=exc.fields or {"file": [exc.message]}, status=422)
    except Refusal as exc:
        flash_refusal(exc)
    else:
        flash(f"Файл «{name}» приложен.", "success")
    return redirect(back_to)


@bp.route("/requests/<int:request_id>/attachments/<int:attachment_id>")
@login_required
def request_download(request_id: int, attachment_id: int):
    svc = services()
    with svc.uow() as uow:
        att, path = attachments.get_attachment(uow.session, svc, actor(), request_id, attachment_id)
        return send_file(path, mimetype=att.content_type, as_attachment=True, download_name=att.filename)


# --- discussion ----------------------------------------------------------------------------

@bp.route("/requests/<int:request_id>/comments", methods=["POST"])
@login_required
@shows_form_errors
def request_comment(request_id: int):
    return discussion_block.post_comment("request", request_id, lambda **kw: _page(request_id, **kw))
