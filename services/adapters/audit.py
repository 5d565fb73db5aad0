"""The tamper-evident record: entries appended without a lock, chained after commit.

``record`` only inserts a row in the caller's transaction (no chain hash, no
lock), so transitions never wait on each other for the audit. ``seal`` chains
committed entries in order with an HMAC keyed outside the database; on
PostgreSQL it seals only entries whose transaction id is below the oldest
running transaction (``pg_snapshot_xmin``): no entry before that point can
still commit, so entries that commit out of id order are never skipped.
``verify`` recomputes every seal and names each changed or removed entry.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Text, cast, func, select, text, tuple_

from services.models.audit import AuditEntry, AuditSeal
from services.models.base import utcnow
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def body(entry: AuditEntry) -> dict:
    return {
        "id": entry.id, "at": entry.at.isoformat(), "actor_id": entry.actor_id,
        "actor_department": entry.actor_department, "actor_role": entry.actor_role, "address": entry.address,
        "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
        "before": entry.before, "after": entry.after, "note": entry.note or "",
    }


def link(key: bytes, prev_hash: str, entry: AuditEntry) -> str:
    """One link of the chain: HMAC-SHA256 over the previous hash and the entry."""
    return hmac.new(key, (prev_hash + "\n" + canonical(body(entry))).encode(), hashlib.sha256).hexdigest()


def _pg(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def record(uow: UnitOfWork, *, action: str, object_type: str, object_id: Any = None, actor: Actor | None = None,
           role: str | None = None, before: dict | None = None, after: dict | None = None,
           address: str | None = None, note: str = "") -> AuditEntry:
    """Append one entry in the caller's transaction (it commits or rolls back with the change).

    The address is the actor's unless given: the entrypoint puts it on the Actor it builds.
    """
    if address is None and actor is not None:
        address = actor.address
    session = uow.session
    entry = AuditEntry(
        at=utcnow(), actor_id=actor.user_id if actor else None,
        actor_department=actor.department if actor else None,
        actor_role=role or (",".join(sorted(actor.roles)) if actor else None),
        address=address[:64] if address else address,  # its column's length: a long X-Forwarded-For is no 500
        action=action, object_type=object_type, object_id=None if object_id is None else str(object_id),
        before=_plain(before), after=_plain(after), note=note,
    )
    if _pg(session):
        entry.xact = cast(cast(func.pg_current_xact_id(), Text), BigInteger)
    session.add(entry)
    session.flush()
    return entry


def _plain(value):
    return None if value is None else json.loads(canonical(value))


@dataclass(frozen=True)
class Head:
    position: int
    entry_id: int
    hash: str


def head(session) -> Head | None:
    seal = session.execute(select(AuditSeal).order_by(AuditSeal.position.desc()).limit(1)).scalar_one_or_none()
    return None if seal is None else Head(seal.position, seal.entry_id, seal.hash)


def seal_at(session, position: int) -> AuditSeal | None:
    return session.get(AuditSeal, position)


def take_sealer_lock(session) -> None:
    """One sealer at a time (PostgreSQL; SQLite writers are serialised already). Never taken by writers."""
    if _pg(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x5EA1_A0D17})


def seal_batch(session, key: bytes, limit: int = 1000) -> int:
    """Chain the next committed entries after the head; returns how many were sealed."""
    last = session.execute(select(AuditSeal).order_by(AuditSeal.position.desc()).limit(1)).scalar_one_or_none()
    query = select(AuditEntry)
    if _pg(session):
        horizon = text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        query = query.where(AuditEntry.xact < horizon)
        if last is not None:
            query = query.where(tuple_(AuditEntry.xact, AuditEntry.id) > tuple_(last.entry_xact, last.entry_id))
        query = query.order_by(AuditEntry.xact, AuditEntry.id)
    else:
        if last is not None:
            query = query.where(AuditEntry.id > last.entry_id)
        query = query.order_by(AuditEntry.id)
    rows = session.execute(query.limit(limit)).scalars().all()
    prev, position = (last.hash, last.position) if last is not None else (GENESIS, 0)
    now = utcnow()
    for entry in rows:
        position += 1
        prev = link(key, prev, entry)
        session.add(AuditSeal(position=position, entry_id=entry.id, entry_xact=entry.xact, hash=prev,
                              sealed_at=now))
    session.flush()
    return len(rows)


@dataclass(frozen=True)
class Problem:
    entry_id: int | None
    reason: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    unsealed: int = 0
    head: Head | None = None
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def first_bad_id(self) -> int | None:
        return self.problems[0].entry_id if self.problems else None

    @property
    def reason(self) -> str:
        return self.problems[0].reason if self.problems else ""


def verify(session, key: bytes, batch: int = 5000, max_problems: int = 50) -> VerifyResult:
    """Recompute every seal in order; name each entry changed, removed or missing from the chain."""
    problems: list[Problem] = []
    prev, expected, checked, last = GENESIS, 1, 0, None
    while len(problems) < max_problems:
        rows = session.execute(
            select(AuditSeal, AuditEntry).outerjoin(AuditEntry, AuditEntry.id == AuditSeal.entry_id)
            .where(AuditSeal.position >= expected).order_by(AuditSeal.position).limit(batch)
        ).all()
        if not rows:
            break
        for seal, entry in rows:
            if seal.position != expected:
                problems.append(Problem(seal.entry_id, f"печати {expected}–{seal.position - 1} перед записью "
                                                       f"{seal.entry_id} удалены"))
            if entry is None:
                problems.append(Problem(seal.entry_id, "запись удалена (печать есть, записи нет)"))
            elif link(key, prev, entry) != seal.hash:
                problems.append(Problem(seal.entry_id, "содержимое записи изменено (hash не совпадает)"))
            prev, expected, checked = seal.hash, seal.position + 1, checked + 1
            last = seal
        session.expunge_all()
    top = None if last is None else Head(last.position, last.entry_id, last.hash)
    unsealed = session.execute(
        select(AuditEntry.id, AuditEntry.xact).where(~select(AuditSeal.entry_id)
                                                     .where(AuditSeal.entry_id == AuditEntry.id).exists())
        .order_by(AuditEntry.id)
    ).all()
    pending = 0
    for entry_id, xact in unsealed:
        below = last is not None and ((xact, entry_id) < (last.entry_xact, last.entry_id) if xact is not None
                                      and last.entry_xact is not None else entry_id < last.entry_id)
        if below:
            problems.append(Problem(entry_id, "запись вне цепочки ниже запечатанной вершины "
                                              "(печать удалена или запись вставлена)"))
        else:
            pending += 1
    return VerifyResult(not problems, checked, pending, top, tuple(problems))
