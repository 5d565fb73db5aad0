"""Amendment pages: the change-set editor, both departments' approvals, diffs, adoption."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask import flash, redirect, render_template, request, url_for

from services import amendments as am, list_export, lists
from services.web.api import amendments as amendments_api
from services.registry import get_program, list_versions, load_version
from services.web.pages import discussion as discussion_block, svg
from services.web.pages.common import (
    actor, as_int, bp, form_errors, login_required, refusal_text, run_action, services, shows_form_errors,
)
from services.web.pages.lists import (
    LIST_VIEWS, department_names, export_response, list_context, list_page, list_query, programs_visible,
    users_by_id,
)
from services.web.pages.watchers import panel as watch_panel
from workflows.change_sets import apply_changes
from workflows.core import Invalid, NotFound, Refusal

STATE_CHOICES = [("", "Все состояния")] + [(s, am.WORKFLOW.state_labels[s]) for s in am.WORKFLOW.states]
DECISION_LABELS = {"approve": "согласовано", "return": "возвращено с замечаниями", "pending": "ожидается решение"}


@bp.route("/amendments")
@login_required
def amendments_list():
    return _amendments_list(request.args)


def _amendments_list(args, *, save_errors=None, save_name: str = ""):
    me = actor()
    svc = services()
    with svc.uow() as uow:
        session = uow.session
        query, errors, kept = list_query(session, "amendments", args)
        page = list_page(lambda f: lists.amendment_page(session, me, f, now=svc.now()), query)
        items = []
        for a in page.items:
            passport = am.current_passport(session, a)
            items.append({"a": a, "reviews": am.review_status(session, a, passport)})
        programs = programs_visible(session, me)
        return render_template("webui/amendments_list.html", page=page, items=items, q=query.q or "",
                               program=query.program or "", state=query.state or "", number=query.number or "",
                               due_from=kept.get("due_from", ""), due_to=kept.get("due_to", ""),
                               overdue=bool(query.overdue), states=STATE_CHOICES, programs=programs,
                               decision_labels=DECISION_LABELS, names=department_names(session), errors=errors,
                               may_create=any(am.parties(me, p.passport) & {"executor", "admin"} for p in programs),
                               **list_context(session, "amendments", query, kept, save_errors=save_errors,
                                              save_name=save_name),
                               ), 422 if errors or save_errors else 200


LIST_VIEWS["amendments"] = _amendments_list

AMENDMENT_COLUMNS = (
    list_export.Column("№", lambda a: a.id, 8),
    list_export.Column("Рег. номер", lambda a: a.registration_number, 18),
    list_export.Column("Обоснование", lambda a: a.justification, 60),
    list_export.Column("Программа", lambda a: a.program.title, 50),
    list_export.Column("Состояние", lambda a: am.WORKFLOW.state_labels.get(a.state, a.state), 22),
    list_export.Column("Срок согласования", lambda a: a.due_date, 14),
)


@bp.route("/amendments/export.<fmt>")
@login_required
def amendments_export(fmt: str):
    """Exactly the rows of the filtered list, every page of it (``requests_export``'s rule)."""
    svc = services()
    return export_response("amendments", fmt, lambda session, f: lists.amendment_page(
        session, actor(), f, now=svc.now(), count_limit=0), name="izmeneniya", title="Изменения",
        columns=AMENDMENT_COLUMNS) or amendments_list()


# --- the change-set editor --------------------------------------------------------------

def _dec(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def _normal(raw: str) -> str:
    compact = raw.strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    return compact.replace(",", ".") if re.fullmatch(r"-?\d+(,\d+)?", compact) else compact


def _changes_from_form(base, form) -> tuple[dict, dict[str, str]]:
    """Cells that differ from the base version become changes; returns them and each change's input name."""
    changes: dict[str, list] = {"financing": [], "indicator_targets": [], "sections": []}
    where: dict[str, str] = {}
    cells = {(c.year, c.source): c.amount for c in base.financing}
    for (year, source), amount in sorted(cells.items()):
        name = f"fin-{year}-{source}"
        raw = _normal(form.get(name, ""))
        if raw == "" or (_dec(raw) is not None and _dec(raw) == amount):
            continue
        where[f"changes.financing[{len(changes['financing'])}]"] = name
        changes["financing"].append({"year": year, "source": source, "amount": raw})
    for ind in base.indicators:
        for year in range(base.period_start, base.period_end + 1):
            name = f"tgt-{ind.code}-{year}"
            if name not in form:
                continue
            raw = _normal(form.get(name, ""))
            old = ind.targets.get(year)
            if raw == "" and old is None:
                continue
            if raw != "" and old is not None and _dec(raw) == old:
                continue
            where[f"changes.indicator_targets[{len(changes['indicator_targets'])}]"] = name
            changes["indicator_targets"].append({"indicator": ind.code, "year": year,
                                                 "value": None if raw == "" else raw})
    key = form.get("section_key", "")
    text = form.get("section_text", "").strip()
    current = {s.key: s for s in base.sections}
    if key in current and text and text != current[key].text.strip():
        where["changes.sections[0]"] = "section_text"
        changes["sections"].append({"op": "change", "key": key, "text": text})
    return {k: v for k, v in changes.items() if v}, where


def _field_errors(exc: Invalid, where: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, problems in (exc.fields or {}).items():
        target = name
        for prefix, input_name in where.items():
            if name == prefix or name.startswith(prefix + "."):
                target = input_name
                break
        out.setdefault(target, []).extend(problems if isinstance(problems, list) else [str(problems)])
    return out


def _editor(*, slug: str, amendment_id: int | None = None):
    svc = services()
    me = actor()
    with svc.uow() as uow:
        session = uow.session
        program = get_program(session, slug)
        amendment = None if amendment_id is None else am.get_visible(session, me, amendment_id)
        if amendment is None:
            base_number = program.current_version
        else:
            base_number = amendment.base_version
        base = am.version_passport(session, program, base_number)
        if not am.can_see(me, load_version(session, slug).passport):
            raise NotFound(f"Программа «{slug}» не найдена.")
        errors: dict[str, list[str]] = form_errors()  # the input guard's: no further than here
        message = refusal_text(Invalid("Форма не принята: исправьте отмеченные поля.", fields=errors)) if errors else None
        values = request.form
        if request.method == "POST" and not errors:
            changes, where = _changes_from_form(base, request.form)
            justification = request.form.get("justification", "")
            try:
                if amendment is None:
                    days_raw = request.form.get("review_working_days", "").strip()
                    days = as_int(days_raw)  # not a number: -1, which the use case refuses with its message
                    a = am.create_amendment(uow, svc, me, am.NewAmendment(
                        program=slug, justification=justification, changes=changes, base_version=base_number,
                        review_working_days=days if days is not None else (None if not days_raw else -1)))
                else:
                    # Like the action form: a version that is not a number is no version (a crafted
                    # "abc" was a 500 before the use case could refuse the caller).
                    a = am.revise(uow, svc, me, amendment.id, changes=changes, justification=justification,
                                  expected_version=as_int(request.form.get("version")) or None,
                                  comment=request.form.get("comment", ""))
                uow.commit()
            except Invalid as exc:
                uow.rollback()
                errors = _field_errors(exc, where)
                # The domain's message lists field paths (for the API); a person reads the cells marked.
                placed = set(request.form) | {"changes"}
                stray = [p for name, problems in errors.items() if name not in placed for p in problems]
                if stray:
                    errors = {k: v for k, v in errors.items() if k in placed}
                    errors.setdefault("changes", []).extend(stray)
                message = ("Изменения не прошли проверку: исправьте отмеченные поля." if exc.fields
                           else exc.message)
            except Refusal as exc:
                uow.rollback()
                message = exc.message
            else:
                flash("Проект изменений сохранён (редакция проекта %d)." % a.revision, "success")
                return redirect(url_for("webui.amendment_page", amendment_id=a.id))
        shown = base
        if amendment is not None and request.method == "GET":
            try:
                shown = apply_changes(base, amendment.changes)
            except Invalid:
                shown = base
        fin_cells = {(c.year, c.source): c.amount for c in shown.financing}
        base_cells = {(c.year, c.source): c.amount for c in base.financing}
        return render_template(
            "webui/amendment_edit.html", program=program, base=base, shown=shown, base_number=base_number,
            amendment=amendment, errors=errors, message=message, values=values,
            years=sorted({c.year for c in base.financing}), fin_cells=fin_cells, base_cells=base_cells,
            target_years=list(range(base.period_start, base.period_end + 1)),
            shown_targets={i.code: i.targets for i in shown.indicators},
            default_days=am.review_working_days_default(svc),
        ), (422 if errors or message else 200)


@bp.route("/amendments/new", methods=["GET", "POST"])
@login_required
@shows_form_errors
def amendment_new():
    slug = request.values.get("program", "")
    if not slug:
        with services().uow() as uow:
            programs = [p for p in programs_visible(uow.session, actor())
                        if am.parties(actor(), p.passport) & {"executor", "admin"}]
            if not programs:
                raise NotFound("Нет программ, изменения в которые вы можете готовить.")
            slug = programs[0].program.slug
    return _editor(slug=slug)


@bp.route("/amendments/<int:amendment_id>/edit", methods=["GET", "POST"])
@login_required
@shows_form_errors
def amendment_edit(amendment_id: int):
    with services().uow() as uow:
        slug = am.get_visible(uow.session, actor(), amendment_id).program.slug
    return _editor(slug=slug, amendment_id=amendment_id)


# --- the amendment page ----------------------------------------------------------------

@bp.route("/amendments/<int:amendment_id>")
@login_required
def amendment_page(amendment_id: int):
    return _page(amendment_id)


def _page(amendment_id: int, *, discussion_errors=None, discussion_submitted=None, discussion_file_errors=None,
          status=200):
    me = actor()
    with services().uow() as uow:
        session = uow.session
        a = am.get_visible(session, me, amendment_id)
        view = amendments_api.amendment_view(session, me, a)
        passport = am.current_passport(session, a)
        revisions = view["revisions"]
        pair = None
        try:
            ra, rb = int(request.args.get("from", 0)), int(request.args.get("to", 0))
        except ValueError:
            ra = rb = 0
        if ra and rb:
            pair = {"from": ra, "to": rb, "changes": am.revision_diff(session, me, amendment_id, ra, rb)}
        elif len(revisions) > 1:
            pair = {"from": revisions[-2]["revision"], "to": revisions[-1]["revision"],
                    "changes": view["revision_diff"]}
        allowed = view["allowed_events"]
        history = am.history(session, me, amendment_id)
        mine = view["reviews"].get(me.department)
        if mine and mine["decision"] != "pending":
            allowed = [e for e in allowed if e not in ("approve", "return")]
        return render_template(
            "webui/amendment.html", a=a, view=view, p=passport, allowed=allowed, pair=pair,
            labels=am.WORKFLOW.event_labels, state_labels=am.WORKFLOW.state_labels,
            decision_labels=DECISION_LABELS, names=department_names(session),
            history=history,
            users=users_by_id(session, [h.actor_id for h in history]),
            diagram=svg.state_diagram(am.WORKFLOW, a.state), versions=list_versions(session, a.program.slug),
            talk=discussion_block.block(session, services(), me, "amendment", a.id, errors=discussion_errors,
                                     submitted=discussion_submitted, file_errors=discussion_file_errors),
            watch=watch_panel(session, me, "amendment", a.id),
        ), status


EVENT_MESSAGES = {
    "submit_for_review": "Проект направлен на согласование в отдел экономической политики и финансовый отдел.",
    "approve": "Вы согласовали проект изменений.",
    "return": "Проект возвращён на доработку с замечаниями.",
    "rebase": "Проект перенесён на текущую редакцию программы.",
    "adopt": "Изменения утверждены: создана новая редакция программы.",
    "withdraw": "Проект отозван.",
}


@bp.route("/amendments/<int:amendment_id>/action", methods=["POST"])
@login_required
def amendment_action(amendment_id: int):
    svc = services()
    event = request.form.get("event", "")
    data: dict = {}
    if event == "return":
        data["remarks"] = request.form.get("remarks", "")
    elif event == "adopt":
        data = {"resolution_number": request.form.get("resolution_number", ""),
                "resolution_date": request.form.get("resolution_date", "")}
    version = request.form.get("version", "")

    def act():
        with svc.uow() as uow:
            _, report = am.fire_transition(uow, svc, actor(), amendment_id, event, request.form.get("comment", ""),
                                           data, expected_version=as_int(version))
            uow.commit()
        conflicts = (report or {}).get("rebase", {}).get("conflicts")
        if conflicts:
            flash("При переносе найдены ячейки, изменённые с тех пор другими редакциями: "
                  + "; ".join(c["cell"] for c in conflicts) + ". Согласование начнётся заново.", "warning")

    return run_action(act, ok=EVENT_MESSAGES.get(event, "Готово."),
                      back_to=url_for("webui.amendment_page", amendment_id=amendment_id))


# --- discussion ----------------------------------------------------------------------------

@bp.route("/amendments/<int:amendment_id>/comments", methods=["POST"])
@login_required
@shows_form_errors
def amendment_comment(amendment_id: int):
    return discussion_block.post_comment("amendment", amendment_id, lambda **kw: _page(amendment_id, **kw))


@bp.route("/amendments/<int:amendment_id>/attachments", methods=["POST"])
@login_required
def amendment_upload(amendment_id: int):
    return discussion_block.post_file("amendment", amendment_id, lambda **kw: _page(amendment_id, **kw))


@bp.route("/amendments/<int:amendment_id>/attachments/<int:attachment_id>")
@login_required
def amendment_download(amendment_id: int, attachment_id: int):
    return discussion_block.download("amendment", amendment_id, attachment_id)
