"""Use cases of progress reports: scheduling cycles, collecting, assembling, reviewing, publishing.

The report's figures are never typed into the report: they are assembled from
the program version in force for the period (plans), indicator actuals and the
accepted answers of the information requests the report sent (facts), and the
executor's own inputs. At ``submit`` the assembled content is frozen into a
revision, so a returned and resubmitted report keeps each version it was sent in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from services import registration, reminders, transitions
from services.information_requests import NewRequest, create_request, is_request_overdue, latest_answer
from services.models.base import utcnow
from services.models.registry import IndicatorActual, Program, ProgramVersion
from services.models.reports import Report, ReportRevision
from services.models.requests import InformationRequest, RequestThread
from services.models.workflow import TransitionRecord
from services.registry import LoadedVersion, get_program, record_actual
from services.signing import sign_decision
from services.adapters.unit_of_work import UnitOfWork
from services.registry import users_of
from services.reminders import ItemReminder
from workflows.core import SYSTEM, Actor, Forbidden, Invalid, NotAllowedNow, NotFound
from workflows.deadlines import due_date_for_rule
from workflows.computed_indicators import REQUESTS_PER_MONTH, requests_per_month
from workflows.passport import Passport
from workflows.passport_parser import parse_passport
from config.report_rules import evaluation_rules, schedule_rules
from workflows.report_content import (
    Actual, Answer, activity_key, assemble_content, dec, indicator_key, spent_key,
)
from workflows.report import (
    ECONOMIC_POLICY, EXECUTOR, NOT_SUBMITTED, REPORT, SYSTEM_PARTY, cycles_due_now, cycles_for_year,
)
from services.adapters.formatting import format_date

WORKFLOW = REPORT
ECONOMIC_POLICY_DEPARTMENT = "economic-policy"
EDITABLE_STATES = frozenset({"draft", "collecting", "ready", "returned"})
_LAST_SECOND = time(23, 59, 59)


# --- who is who -------------------------------------------------------------------

def parties(actor: Actor, passport: Passport) -> set[str]:
    found = set()
    # The executor role too: start_collection sends information requests, which only
    # executor-role users may create (an admin of the executor department may not).
    if actor.department and actor.department == passport.executor and actor.has_role("executor"):
        found.add(EXECUTOR)
    if actor.department == ECONOMIC_POLICY_DEPARTMENT:
        found.add(ECONOMIC_POLICY)
    if actor is SYSTEM or "system" in actor.roles:
        found.add(SYSTEM_PARTY)
    return found


def can_see(actor: Actor, passport: Passport) -> bool:
    """Departments named in the passport and admins; reports are internal until published."""
    return actor.has_role("admin") or actor.department in {d.code for d in passport.departments}


# --- periods and versions -----------------------------------------------------------

def period_bounds(report: Report) -> tuple[date, date]:
    if report.quarter:
        start = date(report.year, 3 * report.quarter - 2, 1)
        end_month = 3 * report.quarter
        end = date(report.year + (end_month == 12), end_month % 12 + 1, 1)
        return start, date.fromordinal(end.toordinal() - 1)
    return date(report.year, 1, 1), date(report.year, 12, 31)


def period_label(report: Report) -> str:
    return f"{report.quarter} квартал {report.year} г." if report.quarter else f"{report.year} год"


def version_in_force(session, program: Program, on: date) -> LoadedVersion:
    """The latest version adopted by the end of the period; the first one if none was yet."""
    versions = list(session.execute(
        select(ProgramVersion).where(ProgramVersion.program_id == program.id).order_by(ProgramVersion.number)
    ).scalars())
    if not versions:
        raise NotFound(f"У программы «{program.slug}» нет ни одной редакции.")
    adopted = [v for v in versions if v.resolution_date is not None and v.resolution_date <= on]
    version = adopted[-1] if adopted else versions[0]
    return LoadedVersion(program, version, parse_passport(version.passport))


def _passport(session, report: Report) -> LoadedVersion:
    return version_in_force(session, report.program, period_bounds(report)[1])


# --- scheduling ----------------------------------------------------------------------

def due_at_for(services, due: date) -> datetime:
    return datetime.combine(due, _LAST_SECOND, tzinfo=services.tz).astimezone(timezone.utc)


def schedule_cycles(uow: UnitOfWork, services, today: date, *, year: int | None = None,
                    program: str | None = None, backlog: bool = False) -> list[Report]:
    """Create the cycles due now (``workflows.report.cycles_due_now``) for active programs; idempotent.

    The hourly beat task, ``interdept seed`` and ``interdept reports schedule`` all call this with
    the same rule, so whichever runs first creates the cycles and the others create none. With
    ``year`` (or ``backlog``) every cycle of that year (of every year) whose period has begun is
    created instead: an operator filling in the past on purpose. Existing cycles are skipped; a
    concurrent run loses on the unique constraint (program, kind, period) inside a savepoint, so
    running twice creates nothing twice.
    """
    query = select(Program).where(Program.active.is_(True)).order_by(Program.id)
    if program:
        query = query.where(Program.slug == program)
    created: list[Report] = []
    for prog in uow.session.execute(query).scalars().all():
        current = version_in_force(uow.session, prog, today)
        passport = current.passport
        rules = schedule_rules(prog.slug)
        existing = set(uow.session.execute(
            select(Report.kind, Report.period).where(Report.program_id == prog.id)).all())
        if year is not None or backlog:
            years = [y for y in range(passport.period_start, passport.period_end + 1) if year in (None, y)]
            due_now = [c for y in years for c in cycles_for_year(rules, y) if c.period_start <= today]
        else:
            due_now = cycles_due_now(rules, today, passport.period_start, passport.period_end)
        for cycle in due_now:
            if (cycle.kind, cycle.period) in existing:
                continue
            due = due_date_for_rule(services.calendar, cycle.nominal_due)
            report = Report(
                program_id=prog.id, kind=cycle.kind, period=cycle.period, year=cycle.year,
                quarter=cycle.quarter, state="draft", due_date=due, due_at=due_at_for(services, due),
                co_executor_due_date=due_date_for_rule(services.calendar, cycle.nominal_co_executor_due),
                inputs={}, note="",
            )
            try:
                with uow.session.begin_nested():
                    uow.session.add(report)
                    uow.session.flush()
            except IntegrityError:
                continue  # another run created it first
            uow.emit("report.created", {"item_id": report.id, "program": prog.slug, "kind": report.kind,
                                        "period": report.period, "due_date": due.isoformat()})
            reminders.reschedule(uow, services, "report", report.id, due, 1, prog.slug)
            created.append(report)
    return created


def run_schedule(services, today: date | None = None, **kw) -> int:
    """The beat task, ``seed`` and the CLI: one transaction, returns how many cycles were created."""
    today = today or services.now().astimezone(services.tz).date()
    with services.uow() as uow:
        created = schedule_cycles(uow, services, today, **kw)
        uow.commit()
        return len(created)


# --- reading ------------------------------------------------------------------------

def is_overdue(report: Report, now: datetime | None = None) -> bool:
    return report.state in NOT_SUBMITTED and report.due_at < (now or utcnow())


def get_visible(session, actor: Actor, report_id: int, *, for_update: bool = False) -> Report:
    query = select(Report).where(Report.id == report_id)
    if for_update:
        query = query.with_for_update(of=Report)
    report = session.execute(query).unique().scalar_one_or_none()
    if report is None or not can_see(actor, _passport(session, report).passport):
        raise NotFound(f"Отчёт {report_id} не найден.")
    return report


@dataclass
class ReportFilter:
    program: str | None = None
    period: str | None = None
    kind: str | None = None
    state: str | None = None
    overdue: bool | None = None


def list_reports(session, actor: Actor, f: ReportFilter, now: datetime | None = None) -> list[Report]:
    now = now or utcnow()
    query = select(Report).join(Program)
    if f.program:
        query = query.where(Program.slug == f.program)
    if f.period:
        query = query.where(Report.period == f.period)
    if f.kind:
        query = query.where(Report.kind == f.kind)
    if f.state:
        query = query.where(Report.state == f.state)
    overdue = and_(Report.state.in_(NOT_SUBMITTED), Report.due_at < now)
    if f.overdue is True:
        query = query.where(overdue)
    elif f.overdue is False:
        query = query.where(~overdue)
    rows = session.execute(query.order_by(Report.due_date, Report.id)).unique().scalars().all()
    seen: dict[int, bool] = {}
    visible = []
    for r in rows:
        if r.program_id not in seen:
            seen[r.program_id] = can_see(actor, _passport(session, r).passport)
        if seen[r.program_id]:
            visible.append(r)
    return visible


def report_requests(session, report_id: int) -> list[InformationRequest]:
    return list(session.execute(
        select(InformationRequest).join(RequestThread)
        .where(RequestThread.origin == origin_of(report_id)).order_by(InformationRequest.id)
    ).unique().scalars())


def origin_of(report_id: int) -> str:
    return f"report:{report_id}"


def report_id_from_origin(origin: str | None) -> int | None:
    if origin and origin.startswith("report:"):
        try:
            return int(origin.split(":", 1)[1])
        except ValueError:
            return None
    return None


def collection_status(session, report: Report, now: datetime | None = None) -> list[dict]:
    """One line per co-executor request: who is late is visible at a glance."""
    now = now or utcnow()
    return [{
        "request_id": r.id, "registration_number": r.registration_number, "department": r.department.code, "department_name": r.department.name,
        "state": r.state, "due_date": r.due_date.isoformat() if r.due_date else None,
        "overdue": is_request_overdue(r, now), "accepted": r.state == "accepted",
    } for r in report_requests(session, report.id)]


def revisions(session, report_id: int) -> list[ReportRevision]:
    return list(session.execute(
        select(ReportRevision).where(ReportRevision.report_id == report_id).order_by(ReportRevision.number)
    ).scalars())


def history(session, actor: Actor, report_id: int) -> list[TransitionRecord]:
    get_visible(session, actor, report_id)
    return list(session.execute(
        select(TransitionRecord).where(TransitionRecord.workflow == WORKFLOW.name,
                                       TransitionRecord.item_id == report_id).order_by(TransitionRecord.id)
    ).scalars())


def _clock(services) -> dict:
    """The zone and local date the computed figures are counted by."""
    return {"tz": services.tz, "today": services.now().astimezone(services.tz).date()}


def content_of(session, report: Report, *, tz: tzinfo, today: date) -> dict:
    """What the report says now: the latest frozen revision once submitted, else assembled live
    (``tz`` and ``today`` date the figures the service computes itself)."""
    if report.state not in NOT_SUBMITTED:
        revs = revisions(session, report.id)
        if revs:
            return revs[-1].content
    return assemble(session, report, tz=tz, today=today)


# --- assembling -----------------------------------------------------------------------

def _accepted_answers(session, report: Report) -> list[tuple[InformationRequest, dict]]:
    found = []
    for req in report_requests(session, report.id):
        if req.state != "accepted":
            continue
        answer = latest_answer(session, req.id)
        if answer is not None:
            found.append((req, answer.data))
    return found


def computed_actuals(session, report: Report, slug: str, *, tz: tzinfo, today: date) -> dict[str, Actual]:
    """The indicators the service computes from its own records (config: computed_indicators).

    I11: the requests of this program sent in the period (each addressee's copy), by the local
    date of sending, averaged over the period's months begun so far.
    """
    rules = schedule_rules(slug).computed_indicators
    if not rules:
        return {}
    start, end = period_bounds(report)
    since = datetime.combine(start, time.min, tzinfo=tz).astimezone(timezone.utc)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz).astimezone(timezone.utc)
    sent = [moment.astimezone(tz).date() for moment in session.execute(
        select(InformationRequest.sent_at).join(RequestThread)
        .where(RequestThread.program_id == report.program_id, InformationRequest.sent_at.is_not(None),
               InformationRequest.sent_at >= since, InformationRequest.sent_at < until)).scalars()]
    out = {}
    for code, rule in rules.items():
        if rule == REQUESTS_PER_MONTH:
            figure = requests_per_month(sent, start, end, today)
            out[code] = Actual(figure.value, computed=figure.provenance())
    return out


def assemble(session, report: Report, *, tz: tzinfo, today: date) -> dict:
    """The report's content from the data it rests on; every figure names its source."""
    loaded = _passport(session, report)
    actuals = {row.indicator: Actual(row.value, row.source_request_id, row.source_answer_id)
               for row in session.execute(
                   select(IndicatorActual).where(IndicatorActual.program_id == report.program_id,
                                                 IndicatorActual.period == report.period)).scalars()}
    actuals.update(computed_actuals(session, report, loaded.passport.slug, tz=tz, today=today))
    return assemble_content(
        loaded.passport, version=loaded.version.number, kind=report.kind, year=report.year,
        period=report.period, period_label=period_label(report), note=report.note or "",
        inputs=report.inputs or {}, actuals=actuals, eval_rules=evaluation_rules(),
        answers=[Answer(req.department.code, req.id, data) for req, data in _accepted_answers(session, report)],
    )

# --- the executor's own figures ---------------------------------------------------------

def set_inputs(uow: UnitOfWork, actor: Actor, report_id: int, body: dict) -> Report:
    """Spent per source, its own activities' completion, its indicators' actuals for the period."""
    report = get_visible(uow.session, actor, report_id, for_update=True)
    passport = _passport(uow.session, report).passport
    if EXECUTOR not in parties(actor, passport):
        raise Forbidden("Сведения отчёта вносит ответственный исполнитель.")
    if report.state not in EDITABLE_STATES:
        raise NotAllowedNow(f"Отчёт в состоянии «{WORKFLOW.state_labels[report.state]}» не изменяется.")
    errors: dict[str, list[str]] = {}
    unknown = set(body) - {"spent", "activities", "actuals"}
    for key in unknown:
        errors[key] = ["Неизвестное поле."]
    spent = dict((report.inputs or {}).get("spent") or {})
    for source, value in (body.get("spent") or {}).items():
        if source not in passport.sources:
            errors[f"spent.{source}"] = [f"Нет источника; известны: {', '.join(passport.sources)}."]
        elif dec(value) is None or dec(value) < 0:
            errors[f"spent.{source}"] = ["Неотрицательное число: до 16 цифр до запятой и 4 после."]
        else:
            spent[source] = format(dec(value), "f")
    own = {a.code for a in passport.activities if a.executor == passport.executor and report.year in a.years}
    activities = dict((report.inputs or {}).get("activities") or {})
    for code, done in (body.get("activities") or {}).items():
        if code not in own:
            errors[f"activities.{code}"] = ["Не мероприятие исполнителя в этом году."]
        elif not isinstance(done, bool):
            errors[f"activities.{code}"] = ["true или false."]
        else:
            activities[code] = done
    codes = {i.code for i in passport.indicators}
    actuals = {}
    computed = schedule_rules(passport.slug).computed_indicators
    for code, value in (body.get("actuals") or {}).items():
        if code not in codes:
            errors[f"actuals.{code}"] = ["Нет такого показателя."]
        elif code in computed:
            errors[f"actuals.{code}"] = ["Этот показатель вычисляет сервис по своим запросам; вводить его не нужно."]
        elif dec(value) is None:
            errors[f"actuals.{code}"] = ["Число: до 16 цифр до запятой и 4 после."]
        else:
            actuals[code] = dec(value)
    if errors:
        raise Invalid("Сведения не приняты.", fields=errors)
    for code, value in actuals.items():
        record_actual(uow, report.program_id, code, report.period, value, request_id=None, answer_id=None,
                      user_id=actor.user_id)
    report.inputs = {**(report.inputs or {}), "spent": spent, "activities": activities}
    report.updated_at = utcnow()
    return report


# --- transitions ---------------------------------------------------------------------------

def fire_transition(uow: UnitOfWork, services, actor: Actor, report_id: int, event: str,
                    comment: str = "", data: dict | None = None) -> Report:
    report = get_visible(uow.session, actor, report_id, for_update=True)
    _fire(uow, services, actor, report, event, comment=comment, data=data or {})
    if event == "accept":
        # What economic policy accepted: the last submitted revision (a report put in 'submitted'
        # by other means than submit has none; then the content as assembled now).
        revs = revisions(uow.session, report.id)
        sign_decision(uow, services, actor.department, "report", report.id, "accept", {
            "program": report.program.slug, "kind": report.kind, "period": report.period,
            "revision": revs[-1].number if revs else None,
            "content": revs[-1].content if revs else assemble(uow.session, report, **_clock(services)),
            "comment": comment},
            actor=actor)
    return report


def _fire(uow: UnitOfWork, services, actor: Actor, report: Report, event: str, comment: str = "",
          data: dict | None = None) -> None:
    data = dict(data or {})
    loaded = _passport(uow.session, report)
    who = parties(actor, loaded.passport)
    WORKFLOW.check(report, event, who)  # who and when before the data: a refused caller learns nothing more
    now = utcnow()
    payload: dict = {"program": report.program.slug, "kind": report.kind, "period": report.period}
    machine_data: dict = {}
    allowed_data = {"submit": {"note"}, "resubmit": {"note"}}.get(event, set())
    extra = set(data) - allowed_data
    if extra:
        raise Invalid("Это действие не принимает таких данных.", fields={f"data.{k}": ["Лишнее поле."] for k in extra})

    if event == "start_collection":
        forms = collection_forms(uow.session, report, loaded)
        machine_data = {"needs_collection": bool(forms)}
        if forms:  # who and when are checked; a later failure rolls the requests back too
            payload["requests"] = [r.id for r in _send_requests(uow, services, actor, report, loaded, forms)]
    elif event in ("submit", "resubmit"):
        note = data.get("note")
        if note is not None and not isinstance(note, str):
            raise Invalid("Пояснительная записка — текст.", fields={"data.note": ["Ожидается строка."]})
        if event == "resubmit" and not (note or "").strip():
            note = report.note  # resubmitting may keep the previous note
        machine_data = {"note": note}

    result = transitions.fire(uow, WORKFLOW, report, actor, who, event, comment=comment, data=machine_data,
                              payload=payload)

    if event in ("submit", "resubmit"):
        report.note = machine_data["note"].strip()
        report.submitted_at = now
        registration.register_item(uow, services, report, loaded.passport.executor, now)
        number = (uow.session.execute(select(func.max(ReportRevision.number))
                                      .where(ReportRevision.report_id == report.id)).scalar() or 0) + 1
        uow.session.add(ReportRevision(report_id=report.id, number=number, content=assemble(uow.session, report, **_clock(services)),
                                       note=report.note, submitted_at=now, submitted_by_id=actor.user_id))
    elif event == "publish":
        report.published_at = now
    report.updated_at = now
    if result.source in NOT_SUBMITTED and report.state not in NOT_SUBMITTED:  # submitted: no more reminders
        reminders.reschedule(uow, services, "report", report.id, None, 1, report.program.slug)


def collection_forms(session, report: Report, loaded: LoadedVersion) -> dict[str, list[dict]]:
    """Per co-executor, the fields the report needs from it that the executor does not yet have."""
    p = loaded.passport
    rules = schedule_rules(p.slug)
    have = set(session.execute(
        select(IndicatorActual.indicator).where(IndicatorActual.program_id == report.program_id,
                                                IndicatorActual.period == report.period)).scalars())
    label = period_label(report)
    forms: dict[str, list[dict]] = {}
    for dept in p.co_executors:
        form = []
        for code in rules.indicator_sources.get(dept, ()):
            if code in have:
                continue
            ind = p.indicator(code)
            form.append({"key": indicator_key(code), "label": f"{code}. {ind.name}, {ind.unit}: факт за {label}",
                         "type": "decimal", "required": True, "indicator": code, "period": report.period})
        for act in p.activities:
            if act.executor == dept and report.year in act.years:
                form.append({"key": activity_key(act.code),
                             "label": f"{act.code}. {act.title}: выполнено за {label} (1 — да, 0 — нет)",
                             "type": "integer", "required": True})
        for source, name in p.sources.items():
            form.append({"key": spent_key(source),
                         "label": f"Кассовые расходы соисполнителя за {label} нарастающим итогом: {name}, "
                                  f"{p.financing_unit}",
                         "type": "decimal", "required": True})
        forms[dept] = form
    return forms


def _send_requests(uow: UnitOfWork, services, actor: Actor, report: Report, loaded: LoadedVersion,
                   forms: dict[str, list[dict]]) -> list[InformationRequest]:
    today = services.now().astimezone(services.tz).date()
    if report.co_executor_due_date > today:
        working_days = services.calendar.working_days_between(today, report.co_executor_due_date)
    else:
        working_days = services.settings.default_working_days
    working_days = max(1, min(60, working_days))
    # The date the request itself will be due (sent today): the text states that one, not the rule's
    # co-executor date, which may have passed already (then the default term applies).
    due = services.calendar.add_working_days(today, working_days)
    sent = []
    for dept, form in forms.items():
        _, copies = create_request(uow, services, actor, NewRequest(
            program=loaded.program.slug,
            subject=f"Сведения для отчёта о ходе реализации программы за {period_label(report)}",
            body=(f"Для {'годового' if report.kind == 'annual' else 'ежеквартального'} отчёта о ходе реализации "
                  f"программы «{loaded.passport.title}» за {period_label(report)} просим представить сведения "
                  f"до {format_date(due)}."),
            addressees=[dept], working_days=working_days, form=form, send=True, origin=origin_of(report.id),
        ))
        sent += copies
    return sent


def on_request_accepted(uow: UnitOfWork, services, request_id: int) -> Report | None:
    """When the report's last request is accepted, the report is ready by itself."""
    req = uow.session.get(InformationRequest, request_id)
    if req is None:
        return None
    report_id = report_id_from_origin(req.thread.origin)
    if report_id is None:
        return None
    report = uow.get_for_update(Report, report_id)
    if report is None or report.state != "collecting":
        return None
    requests = [r for r in report_requests(uow.session, report_id) if r.state != "withdrawn"]
    if not requests or any(r.state != "accepted" for r in requests):
        return None
    transitions.fire(uow, WORKFLOW, report, SYSTEM, {SYSTEM_PARTY}, "collection_complete",
                     payload={"program": report.program.slug, "kind": report.kind, "period": report.period,
                              "requests": [r.id for r in requests]})
    report.updated_at = utcnow()
    return report


# --- public ------------------------------------------------------------------------------------

PUBLIC_SECTIONS = ("program", "kind", "period", "period_label", "financing_unit", "indicators", "financing",
                   "financing_total", "activities", "note", "evaluation")


def _public_content(content: dict) -> dict:
    out = {k: content[k] for k in PUBLIC_SECTIONS if k in content}
    # Provenance inside the administration (request ids) stays internal.
    out["indicators"] = [{k: v for k, v in i.items() if k != "source"} for i in out.get("indicators", [])]
    out["financing"] = [{k: v for k, v in f.items() if k != "parts"} for f in out.get("financing", [])]
    out["activities"] = [{k: v for k, v in a.items() if k != "source"} for a in out.get("activities", [])]
    return out


def public_program(session, slug: str) -> dict:
    """Only published reports, as last submitted; nothing else about the program's reports."""
    program = get_program(session, slug)
    rows = session.execute(
        select(Report).where(Report.program_id == program.id, Report.state == "published")
        .order_by(Report.year, Report.quarter.is_(None), Report.quarter)
    ).unique().scalars().all()
    reports = []
    for report in rows:
        revs = revisions(session, report.id)
        if not revs:
            continue
        reports.append({
            "id": report.id, "kind": report.kind, "period": report.period,
            "published_at": report.published_at.isoformat() if report.published_at else None,
            "content": _public_content(revs[-1].content),
        })
    return {"program": {"slug": program.slug, "title": program.title}, "reports": reports}


CSV_COLUMNS = ("period", "kind", "section", "code", "name", "unit", "plan", "fact", "ratio")


def public_rows(view: dict) -> list[dict]:
    rows = []
    for rep in view["reports"]:
        c = rep["content"]
        for i in c.get("indicators", []):
            rows.append({"period": rep["period"], "kind": rep["kind"], "section": "indicator", "code": i["code"],
                         "name": i["name"], "unit": i["unit"], "plan": i["plan"], "fact": i["fact"],
                         "ratio": i["achievement"]})
        for f in c.get("financing", []):
            rows.append({"period": rep["period"], "kind": rep["kind"], "section": "financing", "code": f["source"],
                         "name": f["source_name"], "unit": c.get("financing_unit"), "plan": f["plan"],
                         "fact": f["spent"], "ratio": f["execution"]})
        for a in c.get("activities", []):
            rows.append({"period": rep["period"], "kind": rep["kind"], "section": "activity", "code": a["code"],
                         "name": a["title"], "unit": "", "plan": "1", "fact": (None if a["done"] is None else
                                                                            "1" if a["done"] else "0"),
                         "ratio": None})
    return rows


# --- what this workflow's reminders say (registered per kind in services.bootstrap) ----

def describe_reminder(session, services, item_id: int) -> ItemReminder | None:
    report = session.get(Report, item_id)
    if report is None or report.state not in NOT_SUBMITTED:
        return None
    executor = _passport(session, report).passport.executor
    kind = "Годовой отчёт" if report.kind == "annual" else "Ежеквартальный отчёт"
    return ItemReminder(
        title=f"{kind} за {period_label(report)}{' ' + report.registration_number if report.registration_number else ''}"
              f" ({report.program.title[:80]})",
        url=f"{services.settings.base_url}/reports/{report.id}",
        due_date=report.due_date,
        explanation=f"Срок представления отчёта в отдел экономической политики — {format_date(report.due_date)} "
                    f"(если срок по правилу выпал на нерабочий день, он перенесён на следующий рабочий).",
        audiences={
            "assignee": users_of(session, code=executor),
            "assignee_head": users_of(session, code=executor, heads_only=True),
            "requester": users_of(session, code="economic-policy"),
            "executor": users_of(session, code=executor),
            "economic_policy": users_of(session, code="economic-policy"),
        },
    )
