"""Use cases of the program registry: seeding, users and tokens, reading programs."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from config.reference import load_program_file, program_files
from services.models.base import utcnow
from services.models.registry import (
    ROLES, Department, IndicatorActual, Program, ProgramVersion, User,
)
from services.adapters import audit
from services.people import demo_password_hash, issue_token, store_password_hash
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor, Invalid, NotFound
from workflows.passport import Passport, passport_to_dict
from workflows.passport_parser import parse_passport


def actor_for(user: User, address: str | None = None) -> Actor:
    return Actor(user_id=user.id, department=user.department.code, roles=frozenset(user.roles or ()),
                 is_head=bool(user.is_head), name=user.name or user.email, address=address)


# --- seeding ---------------------------------------------------------------

def ensure_department(uow: UnitOfWork, code: str, name: str) -> Department:
    dept = uow.session.execute(select(Department).where(Department.code == code)).scalar_one_or_none()
    if dept is None:
        dept = Department(code=code, name=name)
        uow.session.add(dept)
        uow.session.flush()
    return dept


def seed_program(uow: UnitOfWork, passport: Passport) -> tuple[Program, bool]:
    """Create the program at version 1 unless it exists; returns (program, created)."""
    for dept in passport.departments:
        ensure_department(uow, dept.code, dept.name)
    program = uow.session.execute(select(Program).where(Program.slug == passport.slug)).scalar_one_or_none()
    if program is not None:
        return program, False
    program = Program(slug=passport.slug, title=passport.title, current_version=1)
    uow.session.add(program)
    uow.session.flush()
    last = passport.amendments[-1] if passport.amendments else None
    audit.record(uow, action="program.seeded", object_type="program", object_id=passport.slug,
                 after={"title": passport.title, "version": 1, "financing_total": str(passport.financing_total())})
    uow.session.add(ProgramVersion(
        program_id=program.id, number=1, passport=passport_to_dict(passport),
        resolution_number=(last.number if last else passport.approved_number),
        resolution_date=(last.date if last else passport.approved_date),
        note="Редакция, действующая на дату загрузки (с изменениями по истории поправок).",
    ))
    return program, True


def seed_reference(uow: UnitOfWork) -> list[str]:
    created = []
    for path in program_files():
        passport = parse_passport(load_program_file(path))
        _, was_created = seed_program(uow, passport)
        if was_created:
            created.append(passport.slug)
    return created


DEMO_USERS = (
    ("it@kotovsk.example", "it", ("executor",), True, "Иванов И. И."),
    ("it.staff@kotovsk.example", "it", ("executor",), False, "Петрова А. С."),
    ("mfc@kotovsk.example", "mfc", ("co_executor",), True, "Сидоров П. П."),
    ("mfc.staff@kotovsk.example", "mfc", ("co_executor",), False, "Кузнецова Е. В."),
    ("econ@kotovsk.example", "economic-policy", ("economic_policy",), True, "Смирнова О. Н."),
    ("finance@kotovsk.example", "finance", ("finance",), True, "Волков Д. А."),
    ("admin@kotovsk.example", "it", ("admin",), False, "Администратор"),
)


DEMO_PASSWORD = "demo-password-1"


def seed_demo_users(uow: UnitOfWork) -> list[tuple[str, str]]:
    """Demo users with fresh tokens and the password DEMO_PASSWORD; existing ones get a new token."""

    issued = []
    for email, dept, roles, head, name in DEMO_USERS:
        user = uow.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if user is None:
            user, token = create_user(uow, email=email, department=dept, roles=list(roles), is_head=head, name=name)
        else:
            token = issue_token(uow, user, name="demo")
        if user.password_hash is None:
            store_password_hash(uow, user, demo_password_hash(DEMO_PASSWORD))
        issued.append((email, token))
    return issued


# --- users and tokens --------------------------------------------------------

def create_user(uow: UnitOfWork, *, email: str, department: str, roles: list[str], name: str = "",
                is_head: bool = False, by: Actor | None = None, with_token: bool = True) -> tuple[User, str | None]:
    errors = {}
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 320:
        errors["email"] = ["Некорректный адрес электронной почты."]
    bad_roles = [r for r in roles if r not in ROLES]
    if not roles or bad_roles:
        errors["role"] = [f"Допустимые роли: {', '.join(ROLES)}."]
    dept = uow.session.execute(select(Department).where(Department.code == department)).scalar_one_or_none()
    if dept is None:
        known = uow.session.execute(select(Department.code).order_by(Department.code)).scalars().all()
        errors["department"] = [f"Нет такого подразделения; известны: {', '.join(known) or '—'}."]
    if not errors and uow.session.execute(select(User.id).where(User.email == email)).first():
        errors["email"] = ["Пользователь с таким адресом уже есть."]
    if errors:
        raise Invalid("Пользователь не создан.", fields=errors)
    user = User(email=email, department_id=dept.id, roles=list(roles), name=name, is_head=is_head)
    uow.session.add(user)
    uow.session.flush()
    audit.record(uow, action="user.created", object_type="user", object_id=user.id, actor=by,
                 after={"email": email, "department": department, "roles": list(roles), "is_head": is_head})
    return user, (issue_token(uow, user, name="default", by=by) if with_token else None)


# --- reading programs -------------------------------------------------------

@dataclass(frozen=True)
class LoadedVersion:
    program: Program
    version: ProgramVersion
    passport: Passport


def get_program(session, slug: str) -> Program:
    program = session.execute(select(Program).where(Program.slug == slug)).scalar_one_or_none()
    if program is None:
        raise NotFound(f"Программа «{slug}» не найдена.")
    return program


# Parsed passports by version row: a version is never updated once written, so parsing it once per
# process is enough. The key includes created_at so a recreated database's reused ids never collide.
_PASSPORTS: dict[tuple, Passport] = {}
_PASSPORTS_MAX = 256


def _parsed_passport(version: ProgramVersion) -> Passport:
    key = (version.id, version.program_id, version.number, version.created_at)
    passport = _PASSPORTS.get(key)
    if passport is None:
        passport = parse_passport(version.passport)
        if len(_PASSPORTS) >= _PASSPORTS_MAX:
            _PASSPORTS.clear()
        _PASSPORTS[key] = passport
    return passport


def load_version(session, slug: str, number: int | None = None) -> LoadedVersion:
    # One query for the program and its version (the current one unless a number is given).
    wanted = Program.current_version if number is None else number
    row = session.execute(
        select(Program, ProgramVersion)
        .join(ProgramVersion, ProgramVersion.program_id == Program.id)
        .where(Program.slug == slug, ProgramVersion.number == wanted)
    ).first()
    if row is None:
        program = get_program(session, slug)  # NotFound when there is no such program
        number = program.current_version if number is None else number
        raise NotFound(f"У программы «{slug}» нет редакции {number}.")
    program, version = row
    return LoadedVersion(program, version, _parsed_passport(version))


def list_versions(session, slug: str) -> list[ProgramVersion]:
    program = get_program(session, slug)
    return list(session.execute(
        select(ProgramVersion).where(ProgramVersion.program_id == program.id).order_by(ProgramVersion.number)
    ).scalars())


def indicator_actuals(session, program_id: int) -> dict[str, dict[str, Decimal]]:
    rows = session.execute(
        select(IndicatorActual).where(IndicatorActual.program_id == program_id)
        .order_by(IndicatorActual.indicator, IndicatorActual.period)
    ).scalars()
    actuals: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        actuals.setdefault(row.indicator, {})[row.period] = row.value
    return actuals


def record_actual(uow: UnitOfWork, program_id: int, indicator: str, period: str, value: Decimal, *,
                  request_id: int | None, answer_id: int | None, user_id: int | None) -> IndicatorActual:
    """The latest accepted value wins; provenance says which request and answer."""
    row = uow.session.execute(
        select(IndicatorActual).where(IndicatorActual.program_id == program_id,
                                      IndicatorActual.indicator == indicator,
                                      IndicatorActual.period == period)
    ).scalar_one_or_none()
    before = None if row is None else {"value": str(row.value), "request_id": row.source_request_id}
    if row is None:
        row = IndicatorActual(program_id=program_id, indicator=indicator, period=period, value=value)
        uow.session.add(row)
    row.value = value
    row.source_request_id, row.source_answer_id = request_id, answer_id
    audit.record(uow, action="indicator_actual.recorded", object_type="indicator_actual",
                 object_id=f"{program_id}:{indicator}:{period}", before=before,
                 after={"value": str(value), "request_id": request_id, "answer_id": answer_id, "user_id": user_id})
    row.recorded_at, row.recorded_by_id = utcnow(), user_id
    return row


# --- who is behind a department: the one recipient lookup -----------------

def users_of(session, department_id: int | None = None, code: str | None = None, heads_only: bool = False) -> list[User]:
    """Active users of a department (by id or code), oldest first; its heads only if asked."""
    query = select(User).where(User.active.is_(True))
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    if code is not None:
        query = query.join(Department).where(Department.code == code)
    if heads_only:
        query = query.where(User.is_head.is_(True))
    return list(session.execute(query.order_by(User.id)).scalars())
