"""The tamper-evident record: an append-only log chained by SHA-256.

Each entry's hash covers its canonical JSON and the previous entry's hash, so
changing or removing any row breaks every hash after it; ``verify`` names the
first entry that no longer fits. Appends are serialised per database (a
PostgreSQL advisory lock held to the end of the writing transaction; SQLite
already serialises writers), so the chain never forks.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text

from services.models.audit import AuditEntry
from services.models.base import utcnow
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor

GENESIS = "0" * 64
_LOCK_KEY = 0x1D_A0D17  # any constant: the advisory lock that orders appends


def canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _digest(entry: AuditEntry) -> str:
    body = {
        "at": entry.at.isoformat(), "actor_id": entry.actor_id, "actor_department": entry.actor_department,
        "actor_role": entry.actor_role, "address": entry.address, "action": entry.action,
        "object_type": entry.object_type, "object_id": entry.object_id, "before": entry.before,
        "after": entry.after, "note": entry.note or "", "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def record(uow: UnitOfWork, *, action: str, object_type: str, object_id: Any = None, actor: Actor | None = None,
           role: str | None = None, before: dict | None = None, after: dict | None = None,
           address: str | None = None, note: str = "") -> AuditEntry:
    """Append one entry in the caller's transaction (it commits or rolls back with the change).

    The address is the actor's unless given: the entrypoint puts it on the Actor it builds.
    """
    if address is None and actor is not None:
        address = actor.address
    session = uow.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar_one_or_none()
    entry = AuditEntry(
        at=utcnow(), actor_id=actor.user_id if actor else None,
        actor_department=actor.department if actor else None,
        actor_role=role or (",".join(sorted(actor.roles)) if actor else None),
        address=address[:64] if address else address,  # its column's length: a long X-Forwarded-For is no 500
        action=action, object_type=object_type, object_id=None if object_id is None else str(object_id),
        before=_plain(before), after=_plain(after), note=note, prev_hash=last or GENESIS,
    )
    entry.hash = _digest(entry)
    session.add(entry)
    session.flush()
    return entry


def _plain(value):
    return None if value is None else json.loads(canonical(value))


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""


def verify(session, batch: int = 5000) -> VerifyResult:
    """Recompute the chain from the start; the first entry that does not fit is named."""
    prev, checked, last_id = GENESIS, 0, 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).scalars().all()
        if not rows:
            return VerifyResult(True, checked)
        for entry in rows:
            if entry.prev_hash != prev:
                return VerifyResult(False, checked, entry.id,
                                    "предыдущая запись изменена или удалена (prev_hash не совпадает)")
            if _digest(entry) != entry.hash:
                return VerifyResult(False, checked, entry.id, "содержимое записи изменено (hash не совпадает)")
            prev, last_id, checked = entry.hash, entry.id, checked + 1
        session.expunge_all()
