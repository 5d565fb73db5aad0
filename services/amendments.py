"""Use cases of program amendments: draft, review in parallel, revise, rebase, adopt.

The amendment row is locked (``SELECT ... FOR UPDATE``) for every decision, so
two reviewers approving at the same instant are serialised: the second sees the
first one's review row and completes the approval. The unique key on
(amendment, revision, department) is the last line of defence, and the
version column turns an unlocked lost update into a 409 instead of a silent
overwrite.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services import registration, reminders, transitions
from workflows.registration import label as registration_label
from services.models.amendments import Amendment, AmendmentReview, AmendmentRevision
from services.models.base import utcnow
from services.models.registry import Program, ProgramVersion, User
from services.models.workflow import TransitionRecord
from services.registry import get_program, load_version
from services.signing import sign_decision
from services.adapters.unit_of_work import UnitOfWork
from services.adapters.formatting import format_date, format_datetime
from services.registry import users_of
from services.reminders import ItemReminder
from workflows.amendment import ADMIN, AMENDMENT, EXECUTOR, parse_resolution, parties_for, required_reviewers
from workflows.change_sets import apply_changes, conflicts, diff_changesets, diff_passports, validate_changes
from workflows.core import Actor, Conflict, Forbidden, Invalid, NotFound
from workflows.passport import Passport
from workflows.passport_parser import parse_passport
from workflows.passport import passport_to_dict

WORKFLOW = AMENDMENT
DEFAULT_REVIEW_WORKING_DAYS = 10


# --- who is who -------------------------------------------------------------

def parties(actor: Actor, passport: Passport) -> set[str]:
    return parties_for(department=actor.department, is_admin=actor.has_role("admin"), passport=passport)


def can_see(actor: Actor, passport: Passport) -> bool:
    return actor.has_role("admin") or actor.department in {d.code for d in passport.departments}


def current_passport(session, amendment: Amendment) -> Passport:
    return load_version(session, amendment.program.slug).passport


def version_passport(session, program: Program, number: int) -> Passport:
    row = session.execute(
        select(ProgramVersion).where(ProgramVersion.program_id == program.id, ProgramVersion.number == number)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"У программы «{program.slug}» нет редакции {number}.")
    return parse_passport(row.passport)


def review_working_days_default(services) -> int:
    value = (services.settings.extra or {}).get("amendment_review_working_days")
    return int(value) if value else DEFAULT_REVIEW_WORKING_DAYS


# --- reviews ----------------------------------------------------------------------

def reviews_of(session, amendment_id: int) -> list[AmendmentReview]:
    return list(session.execute(
        select(AmendmentReview).where(AmendmentReview.amendment_id == amendment_id).order_by(AmendmentReview.id)
    ).scalars())


def review_status(session, amendment: Amendment, passport: Passport) -> dict[str, dict]:
    """Per reviewing department: its decision on the current revision, or pending."""
    current = {r.department: r for r in reviews_of(session, amendment.id) if r.revision == amendment.revision}
    status = {}
    for dept in sorted(required_reviewers(passport)):
        r = current.get(dept)
        status[dept] = ({"decision": r.decision, "revision": r.revision, "remarks": r.remarks, "user_id": r.user_id,
                         "at": r.at.isoformat()} if r else {"decision": "pending", "revision": amendment.revision})
    return status


# --- creating -----------------------------------------------------------------

@dataclass
class NewAmendment:
    program: str
    justification: str
    changes: dict
    base_version: int | None = None
    review_working_days: int | None = None


def create_amendment(uow: UnitOfWork, services, actor: Actor, new: NewAmendment) -> Amendment:
    program = get_program(uow.session, new.program)
    current = load_version(uow.session, new.program).passport
    if not can_see(actor, current):
        raise NotFound(f"Программа «{new.program}» не найдена.")
    if not parties(actor, current) & {EXECUTOR, ADMIN}:
        raise Forbidden("Проект изменений готовит ответственный исполнитель программы.")
    errors: dict[str, list[str]] = {}
    base = program.current_version if new.base_version is None else new.base_version
    if not (new.justification or "").strip():
        errors["justification"] = ["Обоснование обязательно."]
    days = new.review_working_days if new.review_working_days is not None else review_working_days_default(services)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
        errors["review_working_days"] = ["Целое число рабочих дней от 1 до 60."]
    try:
        base_passport = version_passport(uow.session, program, base)
    except NotFound:
        errors["base_version"] = [f"Нет редакции {base}; текущая — {program.current_version}."]
        base_passport = None
    if errors:
        raise Invalid("Проект изменений не создан.", fields=errors)
    changes = validate_changes(base_passport, new.changes)
    amendment = Amendment(program_id=program.id, base_version=base, state="draft", revision=1,
                          justification=new.justification.strip(), changes=changes, review_working_days=days,
                          created_by_id=actor.user_id)
    uow.session.add(amendment)
    uow.session.flush()
    _record_revision(uow, amendment, actor)
    uow.emit("amendment.created", {"item_id": amendment.id, "program": program.slug, "actor_id": actor.user_id})
    return amendment


def _record_revision(uow: UnitOfWork, amendment: Amendment, actor: Actor) -> None:
    uow.session.add(AmendmentRevision(
        amendment_id=amendment.id, revision=amendment.revision, base_version=amendment.base_version,
        justification=amendment.justification, changes=amendment.changes, created_by_id=actor.user_id,
    ))


# --- loading --------------------------------------------------------------------

def get_visible(session, actor: Actor, amendment_id: int, *, for_update: bool = False) -> Amendment:
    query = select(Amendment).where(Amendment.id == amendment_id)
    if for_update:
        query = query.with_for_update(of=Amendment)
    amendment = session.execute(query).unique().scalar_one_or_none()
    if amendment is None or not can_see(actor, current_passport(session, amendment)):
        raise NotFound(f"Проект изменений {amendment_id} не найден.")
    return amendment


# --- transitions ----------------------------------------------------------------

def revise(uow: UnitOfWork, services, actor: Actor, amendment_id: int, *, changes: dict | None = None,
           justification: str | None = None, expected_version: int | None = None, comment: str = "") -> Amendment:
    """PUT: a new revision of the change set (earlier approvals lapse)."""
    data = {}
    if changes is not None:
        data["changes"] = changes
    if justification is not None:
        data["justification"] = justification
    amendment, _ = fire_transition(uow, services, actor, amendment_id, "revise", comment, data,
                                   expected_version=expected_version)
    return amendment


def fire_transition(uow: UnitOfWork, services, actor: Actor, amendment_id: int, event: str, comment: str = "",
                    data: dict | None = None, *, expected_version: int | None = None) -> tuple[Amendment, dict]:
    """Returns the amendment and what the event reports back (e.g. a rebase's conflicting cells)."""
    amendment = get_visible(uow.session, actor, amendment_id, for_update=True)
    if expected_version is not None and expected_version != amendment.version:
        raise Conflict("Проект изменён другим пользователем; обновите и повторите.",
                       version=amendment.version)
    return amendment, _fire(uow, services, actor, amendment, event, comment=comment or "", data=dict(data or {}))


def _no_data(data: dict, allowed: tuple[str, ...] = ()) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise Invalid("Лишние данные для этого действия.", fields={f"data.{k}": ["Лишнее поле."] for k in extra})


def _fire(uow: UnitOfWork, services, actor: Actor, amendment: Amendment, event: str, *, comment: str,
          data: dict) -> dict:
    session = uow.session
    program = amendment.program
    passport = current_passport(session, amendment)
    who = parties(actor, passport)
    WORKFLOW.check(amendment, event, who)  # who and when before the data: a refused caller learns nothing more
    clock_before = (amendment.revision, amendment.due_date, amendment.state == "under_review")
    now = utcnow()
    machine_data: dict = {}
    payload: dict = {"program": program.slug, "revision": amendment.revision}
    report: dict = {}

    if event == "submit_for_review":
        _no_data(data)
        validate_changes(version_passport(session, program, amendment.base_version), amendment.changes)
    elif event in ("approve", "return"):
        allowed = ("remarks",) if event == "return" else ()
        _no_data(data, allowed)
        dept = actor.department
        earlier = session.execute(select(AmendmentReview).where(
            AmendmentReview.amendment_id == amendment.id, AmendmentReview.revision == amendment.revision,
            AmendmentReview.department == dept)).scalar_one_or_none()
        if earlier is not None:
            raise Conflict(f"Ваше подразделение уже приняло решение по редакции {amendment.revision} "
                           f"({'согласовано' if earlier.decision == 'approve' else 'возвращено'}).")
        remarks = (data.get("remarks") or comment or "").strip()
        if event == "approve":
            approved = {r.department for r in reviews_of(session, amendment.id)
                        if r.revision == amendment.revision and r.decision == "approve"}
            machine_data = {"approved_by": approved | {dept}, "required": required_reviewers(passport)}
        else:
            machine_data = {"remarks": remarks}
        payload.update({"department": dept, "decision": event, "remarks": remarks})
    elif event == "revise":
        _no_data(data, ("changes", "justification"))
        if "changes" not in data and "justification" not in data:
            raise Invalid("Укажите новые изменения или обоснование.", fields={"changes": ["Обязательное поле."]})
        base = version_passport(session, program, amendment.base_version)
        new_changes = validate_changes(base, data["changes"]) if "changes" in data else amendment.changes
        new_just = data.get("justification", amendment.justification)
        if not isinstance(new_just, str) or not new_just.strip():
            raise Invalid("Обоснование обязательно.", fields={"justification": ["Обязательное поле."]})
        payload["previous_revision"] = amendment.revision
        payload["revision"] = amendment.revision + 1
    elif event == "rebase":
        _no_data(data)
        if amendment.base_version == program.current_version:
            raise Conflict(f"Проект уже основан на текущей редакции {program.current_version}.")
        old_base = version_passport(session, program, amendment.base_version)
        current = version_passport(session, program, program.current_version)
        found = conflicts(amendment.changes, old_base, current)
        rebased = validate_changes(current, amendment.changes)
        machine_data = {"conflicts": found}
        report = {"rebase": {"from": amendment.base_version, "to": program.current_version, "conflicts": found}}
        payload.update({"from_version": amendment.base_version, "to_version": program.current_version,
                        "conflicts": len(found), "revision_bumped": bool(found)})
    elif event == "adopt":
        _no_data(data, ("resolution_number", "resolution_date"))
        number, date = parse_resolution(data.get("resolution_number"), data.get("resolution_date"))
        locked = uow.get_for_update(Program, program.id)
        if amendment.base_version != locked.current_version:
            found = conflicts(amendment.changes, version_passport(session, program, amendment.base_version),
                              version_passport(session, program, locked.current_version))
            raise Conflict(
                f"Проект основан на редакции {amendment.base_version}, а действует редакция "
                f"{locked.current_version}: перенесите его на текущую редакцию (rebase).",
                base_version=amendment.base_version, current_version=locked.current_version, conflicts=found,
            )
        base = version_passport(session, program, amendment.base_version)
        adopted = apply_changes(base, amendment.changes, resolution=(number, date))
        machine_data = {"resolution_number": number, "resolution_date": date}
        payload.update({"resolution_number": number, "resolution_date": date.isoformat(),
                        "version": locked.current_version + 1})
    elif event == "withdraw":
        _no_data(data)

    result = transitions.fire(uow, WORKFLOW, amendment, actor, who, event, comment=comment, data=machine_data,
                              payload=payload)
    amendment.updated_at = now  # a self-transition still bumps the row version

    if event in ("approve", "return"):
        session.add(AmendmentReview(amendment_id=amendment.id, department=actor.department,
                                    revision=amendment.revision, decision=event,
                                    remarks=payload["remarks"], user_id=actor.user_id, at=now))
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("Решение вашего подразделения по этой редакции уже записано.") from None
        if event == "approve":
            sign_decision(uow, services, actor.department, "amendment", amendment.id, "approve", {
                "program": program.slug, "revision": amendment.revision, "base_version": amendment.base_version,
                "changes": amendment.changes, "remarks": payload["remarks"]}, actor=actor)
    elif event == "submit_for_review":
        _start_review_clock(services, amendment, now)
        registration.register_item(uow, services, amendment, passport.executor, now)
    elif event == "revise":
        amendment.changes, amendment.justification = new_changes, new_just.strip()
        amendment.revision += 1
        _record_revision(uow, amendment, actor)
        if result.target == "under_review":
            _start_review_clock(services, amendment, now)
    elif event == "rebase":
        amendment.base_version = program.current_version
        amendment.changes = rebased
        if found:
            amendment.revision += 1
            _record_revision(uow, amendment, actor)
            if amendment.state == "under_review":
                _start_review_clock(services, amendment, now)
    elif event == "adopt":
        new_number = locked.current_version + 1
        session.add(ProgramVersion(
            program_id=program.id, number=new_number, passport=_passport_dict(adopted),
            resolution_number=number, resolution_date=date, created_by_id=actor.user_id,
            note=_version_note(session, services, amendment, adopted, number, date),
        ))
        locked.current_version = new_number
        amendment.adopted_version = new_number
        amendment.sequence = len(adopted.amendments)
        amendment.resolution_number, amendment.resolution_date = number, date
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("Одновременно принята другая редакция программы; повторите после переноса.") from None
        sign_decision(uow, services, actor.department, "amendment", amendment.id, "adopt", {
            "program": program.slug, "version": new_number, "resolution_number": number,
            "resolution_date": date.isoformat(), "changes": amendment.changes}, actor=actor)
    if result.target in ("adopted", "withdrawn"):
        amendment.closed_at = now
        amendment.due_date = amendment.due_at = None
    if (amendment.revision, amendment.due_date, amendment.state == "under_review") != clock_before:
        reminders.reschedule(uow, services, "amendment_review", amendment.id,
                             amendment.due_date if amendment.state == "under_review" else None,
                             amendment.revision, program.slug)
    return report


def _passport_dict(p: Passport) -> dict:
    return passport_to_dict(p)


def _version_note(session, services, amendment: Amendment, passport: Passport, number: str, date) -> str:
    """The version's provenance in words, as the program page shows it: department names, local time."""
    names = {d.code: d.name for d in passport.departments}
    approvals = [r for r in reviews_of(session, amendment.id)
                 if r.revision == amendment.revision and r.decision == "approve"]
    who = "; ".join(f"{names.get(r.department, r.department)} ({format_datetime(r.at, services.tz)})"
                    for r in approvals)
    return (f"Изменения {registration_label(amendment)} (редакция проекта {amendment.revision}), постановление "
            f"№{number} от {format_date(date)}. Согласовано: {who or '—'}.")


def _start_review_clock(services, amendment: Amendment, now: datetime) -> None:
    """The review deadline: N working days from the (local) submission date, due at the end of that day."""
    local = now.astimezone(services.tz).date()
    due = services.calendar.add_working_days(local, amendment.review_working_days)
    amendment.submitted_at = now
    amendment.due_date = due
    amendment.due_at = datetime.combine(due, time(23, 59, 59), tzinfo=services.tz).astimezone(timezone.utc)


# --- reading --------------------------------------------------------------------

def revisions_of(session, amendment_id: int) -> list[AmendmentRevision]:
    return list(session.execute(
        select(AmendmentRevision).where(AmendmentRevision.amendment_id == amendment_id)
        .order_by(AmendmentRevision.revision)
    ).scalars())


def revision_diff(session, actor: Actor, amendment_id: int, a: int, b: int) -> list[dict]:
    """What changed in the change set between two revisions (reviewers compare what they saw)."""
    get_visible(session, actor, amendment_id)
    by_number = {r.revision: r for r in revisions_of(session, amendment_id)}
    missing = [n for n in (a, b) if n not in by_number]
    if missing:
        raise NotFound(f"Нет редакции проекта {missing[0]}.")
    return diff_changesets(by_number[a].changes, by_number[b].changes)


def effect_of(session, amendment: Amendment) -> dict | None:
    """What adopting would change against the base version (None if the change set no longer applies)."""
    try:
        base = version_passport(session, amendment.program, amendment.base_version)
        return diff_passports(base, apply_changes(base, amendment.changes))
    except (Invalid, NotFound):
        return None


def history(session, actor: Actor, amendment_id: int) -> list[TransitionRecord]:
    get_visible(session, actor, amendment_id)
    return list(session.execute(
        select(TransitionRecord).where(TransitionRecord.workflow == WORKFLOW.name,
                                       TransitionRecord.item_id == amendment_id).order_by(TransitionRecord.id)
    ).scalars())


def version_diff(session, actor: Actor, slug: str, a: int, b: int) -> dict:
    program = get_program(session, slug)
    current = load_version(session, slug).passport
    if not can_see(actor, current):
        raise NotFound(f"Программа «{slug}» не найдена.")
    pa, pb = version_passport(session, program, a), version_passport(session, program, b)
    return {"program": slug, "from": a, "to": b, "changes": diff_passports(pa, pb),
            "adopted_by": [version_provenance(session, program, n) for n in sorted({a, b}) if n > min(a, b)]}


def version_provenance(session, program: Program, number: int) -> dict:
    """Who approved a version and when: the adopting amendment's reviews, or the seed's resolution."""
    version = session.execute(select(ProgramVersion).where(
        ProgramVersion.program_id == program.id, ProgramVersion.number == number)).scalar_one_or_none()
    if version is None:
        raise NotFound(f"У программы «{program.slug}» нет редакции {number}.")
    amendment = session.execute(select(Amendment).where(
        Amendment.program_id == program.id, Amendment.adopted_version == number)).scalar_one_or_none()
    view = {
        "version": number,
        "resolution_number": version.resolution_number,
        "resolution_date": version.resolution_date.isoformat() if version.resolution_date else None,
        "created_at": version.created_at.isoformat(),
        "created_by_id": version.created_by_id,
        "note": version.note,
        "amendment": None,
        "approvals": [],
    }
    if amendment is not None:
        view["amendment"] = amendment.id
        view["approvals"] = [
            {"department": r.department, "user_id": r.user_id, "at": r.at.isoformat(), "revision": r.revision}
            for r in reviews_of(session, amendment.id)
            if r.revision == amendment.revision and r.decision == "approve"
        ]
    return view


def adopted_history(session, actor: Actor, slug: str) -> list[dict]:
    """Every adopted amendment of the program, oldest first: the seeded history, then the workflow's."""
    loaded = load_version(session, slug)
    if not can_see(actor, loaded.passport):
        raise NotFound(f"Программа «{slug}» не найдена.")
    by_sequence = {a.sequence: a for a in session.execute(select(Amendment).where(
        Amendment.program_id == loaded.program.id, Amendment.state == "adopted")).scalars()}
    items = []
    for n, record in enumerate(loaded.passport.amendments, start=1):
        a = by_sequence.get(n)
        items.append({"sequence": n, "date": record.date.isoformat(), "number": record.number,
                      "state": "adopted", "seeded": a is None, "amendment": a.id if a else None,
                      "version": a.adopted_version if a else None})
    return items


# --- what this workflow's reminders say (registered per kind in services.bootstrap) ----

def describe_reminder(session, services, item_id: int) -> ItemReminder | None:
    """The reviewing departments that have not yet decided on the current revision owe the review."""
    amendment = session.get(Amendment, item_id)
    if amendment is None or amendment.state != "under_review" or amendment.due_date is None:
        return None
    passport = current_passport(session, amendment)
    pending = [d for d, s in review_status(session, amendment, passport).items() if s["decision"] == "pending"]
    if not pending:
        return None
    names = {d.code: d.name for d in passport.departments}
    author = session.get(User, amendment.created_by_id) if amendment.created_by_id else None
    return ItemReminder(
        title=f"Согласование проекта изменений {registration_label(amendment)} (редакция {amendment.revision}) "
              f"программы «{amendment.program.title[:80]}»",
        url=f"{services.settings.base_url}/amendments/{amendment.id}",
        due_date=amendment.due_date,
        explanation=f"Срок согласования — {amendment.review_working_days} рабочих дней с даты направления "
                    f"({format_date(amendment.submitted_at, services.tz)}); ожидается решение: "
                    f"{', '.join(names.get(code, code) for code in pending)}.",
        audiences={
            "assignee": [u for code in pending for u in users_of(session, code=code)],
            "assignee_head": [u for code in pending for u in users_of(session, code=code, heads_only=True)],
            "requester": [author] if author else users_of(session, code=passport.executor),
            "executor": users_of(session, code=passport.executor),
            "economic_policy": users_of(session, code="economic-policy"),
        },
    )
