"""People signing in with a password: Argon2id hashes, throttling per account and per address.

Every attempt is a row in ``login_attempts``. Five failures for one account
within 15 minutes lock that account for 15 minutes; twenty failures from one
address within 15 minutes throttle that address. Attempts refused because of a
lock are recorded but not counted, so a lock ends when it says it will. Unknown
addresses and wrong passwords get the same message and take the same time.
"""
from __future__ import annotations

import functools
import hashlib
import math
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update

from services.adapters import audit
from services.adapters.mail import queue_email
from services.models.base import utcnow
from services.adapters.mail import queue_email
from services.models.people import LoginAttempt, PasswordLink
from services.models.sessions import WebSession
from services.models.registry import ApiToken, User
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor, Invalid, NotFound, Refusal
from services.adapters.formatting import format_datetime

ACCOUNT_MAX_FAILURES = 5
ACCOUNT_WINDOW = timedelta(minutes=15)
ACCOUNT_LOCK = timedelta(minutes=15)
ADDRESS_MAX_FAILURES = 20
ADDRESS_WINDOW = timedelta(minutes=15)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # hashing a megabyte-long "password" is a cheap denial of service

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so both refusals take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-just-for-timing")


class WrongCredentials(Refusal):
    status = 401
    code = "wrong_credentials"


class TooManyAttempts(Refusal):
    """Lock-out of an account or throttling of an address; ``retry_after`` is in seconds."""

    status = 429
    code = "too_many_attempts"


class AccountDisabled(Refusal):
    status = 403
    code = "account_disabled"


WRONG_CREDENTIALS = "Неверный адрес электронной почты или пароль."


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    problems = []
    if len(password or "") < MIN_PASSWORD_LENGTH:
        problems.append(f"Не короче {MIN_PASSWORD_LENGTH} символов.")
    if len(password or "") > MAX_PASSWORD_LENGTH:
        problems.append(f"Не длиннее {MAX_PASSWORD_LENGTH} символов.")
    if password and password.strip() != password:
        problems.append("Без пробелов в начале и в конце.")
    if problems:
        raise Invalid("Пароль не подходит.", fields={"password": problems})


def set_password(uow: UnitOfWork, user: User, password: str, *, by: Actor | None = None,
                 keep_session_id: int | None = None) -> None:
    """Store a new Argon2id hash; the user's web sessions end, except ``keep_session_id`` (the
    browser in which that user changed their own password)."""
    check_password_rules(password)
    store_password_hash(uow, user, hash_password(password), by=by, keep_session_id=keep_session_id)


@functools.cache
def demo_password_hash(password: str) -> str:
    """One hash per process for the demo users' shared password (seeding stays fast in tests)."""
    check_password_rules(password)
    return hash_password(password)


def store_password_hash(uow: UnitOfWork, user: User, password_hash: str, *, by: Actor | None = None,
                        keep_session_id: int | None = None) -> None:
    had = user.password_hash is not None
    user.password_hash = password_hash
    end_sessions(uow, user.id, keep_session_id=keep_session_id)
    # A new password also lifts a lock-out of the account.
    uow.session.add(LoginAttempt(at=utcnow(), email=user.email, address="", outcome="reset", user_id=user.id))
    # The password itself is never recorded, nor its hash.
    audit.record(uow, action="user.password_set", object_type="user", object_id=user.id, actor=by,
                 before={"had_password": had}, after={"had_password": True})


CURRENT_PASSWORD_WRONG = "Текущий пароль указан неверно."


def change_own_password(uow: UnitOfWork, services, user_id: int, current: str, new: str, confirm: str, *,
                        keep_session_id: int | None, by: Actor | None = None, address: str | None = None,
                        now: datetime | None = None) -> User:
    """A signed-in person sets a new password, proving they know the current one.

    Their other web sessions end (``keep_session_id`` is this browser's); they get an email saying
    so, in case it was not them. A wrong current password is a failed sign-in attempt (recorded and
    committed at once, so guessing through this form is throttled like the sign-in form); a refusal
    otherwise changes nothing. API tokens stay valid: revoke them on the same page if needed.
    """
    now = now or utcnow()
    address = address if address is not None else (by.address if by is not None else None)
    user = uow.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("Пользователь не найден.")
    locked = _locked_until(uow.session, user.email, now)
    if locked is not None:
        wait = int((locked - now).total_seconds()) + 1
        raise TooManyAttempts("Слишком много неверных паролей подряд. "
                              f"Повторите через {_minutes(wait)} мин.", retry_after=wait,
                              fields={"current_password": [f"Повторите через {_minutes(wait)} мин."]})
    ok = False
    if current and len(current) <= MAX_PASSWORD_LENGTH and user.password_hash:
        try:
            ok = _hasher.verify(user.password_hash, current)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    if not ok:
        _attempt(uow, user.email, address or "", "failed", user.id, now)
        raise Invalid("Пароль не изменён.", fields={"current_password": [CURRENT_PASSWORD_WRONG]})
    problems: dict[str, list[str]] = {}
    try:
        check_password_rules(new)
    except Invalid as exc:
        problems["new_password"] = list(exc.fields["password"])
    if not problems and new == current:
        problems["new_password"] = ["Новый пароль совпадает с текущим."]
    if new != confirm:
        problems["new_password_confirm"] = ["Пароли не совпадают."]
    if problems:
        raise Invalid("Пароль не изменён.", fields=problems)
    store_password_hash(uow, user, hash_password(new), by=by, keep_session_id=keep_session_id)
    when = now.astimezone(services.tz)
    queue_email(uow, services, dedupe_key=f"password_changed:{user.id}:{secrets.token_hex(8)}",
                recipient=user.email, template="password_changed", item=f"user:{user.id}",
                context={"name": user.name or user.email, "at": format_datetime(when, services.tz),
                         "address": address or ""})
    return user


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def _locked_until(session, email: str, now: datetime) -> datetime | None:
    """The end of the account's current lock, if any: five counted failures less than 15 min apart."""
    since = now - ACCOUNT_WINDOW - ACCOUNT_LOCK
    rows = session.execute(
        select(LoginAttempt.at, LoginAttempt.outcome)
        .where(LoginAttempt.email == email, LoginAttempt.at >= since, LoginAttempt.outcome.in_(("ok", "reset", "failed")))
        .order_by(LoginAttempt.at, LoginAttempt.id)
    ).all()
    failures: list[datetime] = []
    for at, outcome in rows:
        if outcome in ("ok", "reset"):
            failures = []  # a successful sign-in or an administrator's password reset ends the count
        else:
            failures.append(at)
    until = None
    # Failures never happen while locked (those attempts are refused unchecked), so windows do not overlap.
    for i in range(ACCOUNT_MAX_FAILURES - 1, len(failures)):
        if failures[i] - failures[i - ACCOUNT_MAX_FAILURES + 1] < ACCOUNT_WINDOW:
            until = failures[i] + ACCOUNT_LOCK
    return until if until is not None and until > now else None


def _address_free_at(session, address: str, now: datetime) -> datetime | None:
    if not address:
        return None
    failures = session.execute(
        select(LoginAttempt.at).where(LoginAttempt.address == address, LoginAttempt.outcome == "failed",
                                      LoginAttempt.at > now - ADDRESS_WINDOW)
        .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc()).limit(ADDRESS_MAX_FAILURES)
    ).scalars().all()
    if len(failures) < ADDRESS_MAX_FAILURES:
        return None
    return failures[-1] + ADDRESS_WINDOW


def _attempt(uow: UnitOfWork, email: str, address: str, outcome: str, user_id: int | None, now: datetime) -> None:
    uow.session.add(LoginAttempt(at=now, email=email[:320], address=address[:64], outcome=outcome, user_id=user_id))
    uow.commit()


def authenticate_password(uow: UnitOfWork, email: str, password: str, address: str | None, *,
                          now: datetime | None = None) -> User:
    """The user whose password this is, or a Refusal; the attempt is recorded either way.

    Commits ``uow`` before returning or raising: a refused attempt must stay
    recorded, or throttling would count nothing. Open a fresh uow for it.
    """
    now = now or utcnow()
    email = (email or "").strip().lower()
    address = (address or "").strip()
    session = uow.session

    free_at = _address_free_at(session, address, now)
    if free_at is not None:
        _attempt(uow, email, address, "throttled", None, now)
        wait = int((free_at - now).total_seconds()) + 1
        raise TooManyAttempts(
            f"Слишком много неудачных попыток входа с вашего адреса. Повторите через {_minutes(wait)} мин.",
            retry_after=wait)
    locked = _locked_until(session, email, now)
    if locked is not None:
        _attempt(uow, email, address, "locked", None, now)
        wait = int((locked - now).total_seconds()) + 1
        raise TooManyAttempts(
            "Учётная запись временно заблокирована после нескольких неудачных попыток входа. "
            f"Повторите через {_minutes(wait)} мин. или обратитесь к администратору.",
            retry_after=wait)

    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none() if email else None
    ok = False
    if password and len(password) <= MAX_PASSWORD_LENGTH:
        try:
            ok = _hasher.verify(user.password_hash if user is not None and user.password_hash else _DUMMY_HASH,
                                password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        ok = ok and user is not None and user.password_hash is not None
    if not ok:
        _attempt(uow, email, address, "failed", user.id if user else None, now)
        raise WrongCredentials(WRONG_CREDENTIALS)
    if not user.active:
        _attempt(uow, email, address, "failed", user.id, now)
        raise AccountDisabled("Учётная запись отключена. Обратитесь к администратору.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    _attempt(uow, email, address, "ok", user.id, now)
    return detached(uow.session, user)


def detached(session, user: User) -> User:
    """The user (and department) loaded and out of the session, usable after the uow closes."""
    _ = user.department.code, user.email, user.password_hash
    session.expunge(user.department)
    session.expunge(user)
    return user


def sign_in(services, email: str, password: str, address: str | None) -> User:
    """authenticate_password in a transaction of its own."""
    with services.uow() as uow:
        return authenticate_password(uow, email, password, address)


def deactivate(uow: UnitOfWork, user: User, *, by: Actor | None = None) -> None:
    """Tokens and sessions stop working at the next request: every check reads ``active``, and
    the web sessions are revoked too (reactivation does not bring them back)."""
    if not user.active:
        return
    user.active, user.deactivated_at = False, utcnow()
    end_sessions(uow, user.id)
    audit.record(uow, action="user.deactivated", object_type="user", object_id=user.id, actor=by,
                 before={"active": True}, after={"active": False})


def reactivate(uow: UnitOfWork, user: User, *, by: Actor | None = None) -> None:
    if user.active:
        return
    user.active, user.deactivated_at = True, None
    audit.record(uow, action="user.reactivated", object_type="user", object_id=user.id, actor=by,
                 before={"active": False}, after={"active": True})


# --- web sessions: a random id in the signed cookie, its SHA-256 in web_sessions ----

SESSION_IDLE = timedelta(hours=8)
SESSION_ABSOLUTE = timedelta(days=7)
_SEEN_GRANULARITY = timedelta(minutes=1)


def start_session(uow: UnitOfWork, user_id: int, *, now: datetime | None = None) -> str:
    """A new session for ``user_id``; the returned id goes into the cookie and nowhere else."""
    now = now or utcnow()
    sid = secrets.token_urlsafe(32)
    uow.session.add(WebSession(token_hash=hash_token(sid), user_id=user_id, created_at=now, last_seen_at=now,
                               expires_at=now + SESSION_ABSOLUTE))
    return sid


def session_user(uow: UnitOfWork, sid: str, *, now: datetime | None = None) -> tuple[WebSession, User] | None:
    """The live session of this cookie id and its active user (one indexed query, user joined), or None.

    Refreshes ``last_seen_at`` at most once a minute (then commits ``uow``)."""
    if not sid:
        return None
    now = now or utcnow()
    row = uow.session.execute(select(WebSession).where(WebSession.token_hash == hash_token(sid))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.user.active:
        return None
    if now - row.last_seen_at > SESSION_IDLE:
        return None
    if now - row.last_seen_at >= _SEEN_GRANULARITY:
        row.last_seen_at = now
        uow.commit()
    return row, row.user


def end_session(uow: UnitOfWork, sid: str) -> None:
    """Logout: this browser's session only (the user's other devices stay signed in)."""
    if sid:
        uow.session.execute(update(WebSession).where(WebSession.token_hash == hash_token(sid),
                                                     WebSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


def end_sessions(uow: UnitOfWork, user_id: int, *, keep_session_id: int | None = None) -> None:
    """Every live session of the user (password change, deactivation), but ``keep_session_id``."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep_session_id is not None:
        query = query.where(WebSession.id != keep_session_id)
    uow.session.execute(query.values(revoked_at=utcnow()), execution_options={"synchronize_session": False})


# --- API tokens ----------------------------------------------------------------

MAX_TOKEN_DAYS = 366
DEFAULT_TOKEN_DAYS = 90


def token_status(row: ApiToken, now: datetime | None = None) -> str:
    now = now or utcnow()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def token_view(row: ApiToken) -> dict:
    """What may be shown about a token: never the token or its hash."""
    return {"id": row.id, "user_id": row.user_id, "name": row.name, "prefix": row.prefix or "",
            "created_at": row.created_at, "expires_at": row.expires_at, "last_used_at": row.last_used_at,
            "revoked_at": row.revoked_at, "status": token_status(row)}


def create_token(uow: UnitOfWork, user: User, name: str, days: int | None, *,
                 by: Actor | None = None) -> tuple[ApiToken, str]:
    """A named token expiring in ``days`` (1..366, default 90); the token is returned once."""
    name = (name or "").strip()
    errors = {}
    if not name or len(name) > 200:
        errors["name"] = ["Название от 1 до 200 символов."]
    days = DEFAULT_TOKEN_DAYS if days is None else days
    if not 1 <= days <= MAX_TOKEN_DAYS:
        errors["expires_in_days"] = [f"От 1 до {MAX_TOKEN_DAYS} дней."]
    if errors:
        raise Invalid("Токен не создан.", fields=errors)
    return issue_token_row(uow, user, name, expires_at=utcnow() + timedelta(days=days), by=by)


def create_own_token(uow: UnitOfWork, user_id: int, name: str, days: int | None, *,
                     by: Actor | None = None) -> tuple[ApiToken, str]:
    """A person's own new token (the profile page and ``POST /api/v1/me/tokens``)."""
    user = uow.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("Пользователь не найден.")
    return create_token(uow, user, name, days, by=by)


def list_tokens(session, user_id: int | None = None, *, limit: int = 100, offset: int = 0) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id.desc()).limit(limit).offset(offset)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.execute(query).scalars())


def revoke_token(uow: UnitOfWork, token_id: int, *, owner_id: int | None, by: Actor | None = None) -> ApiToken:
    """Revoke one token; with ``owner_id`` only that user's (anyone else's is 'not found')."""
    row = uow.session.get(ApiToken, token_id)
    if row is None or (owner_id is not None and row.user_id != owner_id):
        raise NotFound("Токен не найден.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(uow, action="token.revoked", object_type="api_token", object_id=row.id, actor=by,
                     before={"revoked": False, "user_id": row.user_id, "name": row.name},
                     after={"revoked": True})
    return row


# --- API tokens: issued once, stored only as their SHA-256 ------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(uow: UnitOfWork, user: User, name: str = "", *, expires_at=None, by: Actor | None = None) -> str:
    return issue_token_row(uow, user, name, expires_at=expires_at, by=by)[1]


def issue_token_row(uow: UnitOfWork, user: User, name: str = "", *, expires_at=None,
                    by: Actor | None = None) -> tuple[ApiToken, str]:
    """A new token (returned once, stored only as its SHA-256) and its row."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), prefix=token[:6],
                   expires_at=expires_at)
    uow.session.add(row)
    uow.session.flush()
    # The token itself is never recorded anywhere but as its hash.
    audit.record(uow, action="token.issued", object_type="api_token", object_id=row.id, actor=by,
                 after={"user_id": user.id, "name": name,
                        "expires_at": expires_at.isoformat() if expires_at else None})
    return row, token


def token_row(session, token: str) -> ApiToken | None:
    """The live token row: not revoked, not expired, its user active."""
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    if not row.user.active:
        return None
    return row


# --- one-time password links: emailed (or printed by the CLI), single use, expiring ----------

class PasswordLinkInvalid(Refusal):
    """A password link that is unknown (404), or used, expired, or of a disabled account (410)."""

    status = 404
    code = "password_link_invalid"


class PasswordLinkGone(PasswordLinkInvalid):
    status = 410
    code = "password_link_gone"


LINK_UNKNOWN = ("Ссылка для установки пароля не найдена. Проверьте, что адрес скопирован из письма целиком, "
                "или попросите администратора выслать новую ссылку.")
LINK_USED = ("По этой ссылке пароль уже установлен: ссылка действует один раз. Войдите с установленным паролем "
             "или попросите администратора выслать новую ссылку.")
LINK_EXPIRED = ("Ссылка больше не действует: её срок истёк {until} (или администратор выслал новую). "
                "Попросите администратора выслать новую ссылку.")
LINK_DISABLED = "Учётная запись отключена. Обратитесь к администратору."


def password_link_url(services, token: str) -> str:
    return f"{services.settings.base_url.rstrip('/')}/password/set/{token}"


def _local(services, when: datetime) -> str:
    return format_datetime(when, services.tz)


def issue_password_link(uow: UnitOfWork, services, user: User, *, by: Actor | None = None, send: bool = True,
                        now: datetime | None = None) -> tuple[PasswordLink, str]:
    """A new single-use link for ``user`` valid ``password_link_hours`` (72 by default); the user's
    earlier unused links stop working. With ``send`` it is emailed (queued in this transaction);
    the URL is returned either way (the CLI prints it), and only the token's SHA-256 is stored."""
    if not user.active:
        raise Invalid("Ссылка не выслана: учётная запись отключена. Сначала включите её.")
    now = now or services.now()
    uow.session.execute(
        update(PasswordLink).where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None),
                                   PasswordLink.expires_at > now).values(expires_at=now),
        execution_options={"synchronize_session": False})
    token = secrets.token_urlsafe(32)
    hours = services.settings.password_link_hours
    row = PasswordLink(token_hash=hash_token(token), user_id=user.id, created_at=now,
                       expires_at=now + timedelta(hours=hours), created_by_id=by.user_id if by else None)
    uow.session.add(row)
    uow.session.flush()
    url = password_link_url(services, token)
    # The token is never recorded but as its hash (and in the email itself).
    audit.record(uow, action="user.password_link_issued", object_type="user", object_id=user.id, actor=by,
                 after={"link_id": row.id, "expires_at": row.expires_at.isoformat(), "emailed": send})
    if send:
        queue_email(uow, services, dedupe_key=f"password_link:{row.id}", recipient=user.email,
                    template="password_link", item=f"user:{user.id}",
                    context={"user": user, "url": url, "until": _local(services, row.expires_at), "hours": hours})
    return row, url


def password_link(session, services, token: str, *, now: datetime | None = None) -> PasswordLink:
    """The live link of ``token``, or a PasswordLinkInvalid saying in Russian why it does not work."""
    now = now or services.now()
    row = None
    if token and len(token) <= 200:
        row = session.execute(select(PasswordLink).where(PasswordLink.token_hash == hash_token(token))
                              ).scalar_one_or_none()
    if row is None:
        raise PasswordLinkInvalid(LINK_UNKNOWN)
    if row.used_at is not None:
        raise PasswordLinkGone(LINK_USED)
    if row.expires_at <= now:
        raise PasswordLinkGone(LINK_EXPIRED.format(until=_local(services, row.expires_at)))
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise PasswordLinkGone(LINK_DISABLED)
    return row


def use_password_link(uow: UnitOfWork, services, token: str, password: str, *, address: str | None = None,
                      now: datetime | None = None) -> User:
    """Set the password through the link, once: the row is marked used by a conditional UPDATE, so of
    two requests racing with the same link only one sets a password. The user's sessions end."""
    now = now or services.now()
    row = password_link(uow.session, services, token, now=now)
    check_password_rules(password)
    taken = uow.session.execute(
        update(PasswordLink).where(PasswordLink.id == row.id, PasswordLink.used_at.is_(None))
        .values(used_at=now), execution_options={"synchronize_session": False})
    if taken.rowcount != 1:
        raise PasswordLinkGone(LINK_USED)
    user = uow.session.get(User, row.user_id)
    by = Actor(user_id=user.id, department=user.department.code, roles=frozenset(user.roles or ()),
               is_head=bool(user.is_head), name=user.name or user.email, address=address)
    set_password(uow, user, password, by=by)
    audit.record(uow, action="user.password_link_used", object_type="user", object_id=user.id, actor=by,
                 after={"link_id": row.id})
    return user
