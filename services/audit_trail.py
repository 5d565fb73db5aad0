"""Sealing the audit log and checking it against signed checkpoints kept outside the database.

A checkpoint is one JSON line appended to ``<var>/audit/checkpoints.jsonl`` (and
logged): the chain head's position, entry id and hash, signed with the audit key
in ``<var>/keys``. Someone who can write the database can rewind the chain but
not the file, so removing the last entries or rewriting with recomputed hashes
no longer matches the latest checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from services import signing
from services.adapters import audit
from services.models.base import utcnow

log = logging.getLogger("interdept.audit")


class AuditKeyMissing(Exception):
    pass


def chain_key(private_pem: bytes) -> bytes:
    return hashlib.sha256(b"interdept audit chain v1\0" + private_pem).digest()


def checkpoints_path(services) -> Path:
    return Path(services.settings.var_dir) / "audit" / "checkpoints.jsonl"


def _signed_part(cp: dict) -> bytes:
    return audit.canonical({k: v for k, v in cp.items() if k != "signature"}).encode()


def read_checkpoints(services) -> list[dict]:
    path = checkpoints_path(services)
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                cp = json.loads(line)
            except ValueError:
                cp = {"invalid": True}
            cp["_line"] = n
            out.append(cp)
    return out


def _write_checkpoint(services, private_pem: bytes, top: audit.Head) -> dict:
    cp = {"position": top.position, "count": top.position, "head_id": top.entry_id, "head_hash": top.hash,
          "at": utcnow().isoformat(), "key_id": signing.key_id_of(signing.public_of(private_pem)),
          "algorithm": signing.AUDIT_ALGORITHM}
    cp["signature"] = signing.sign_with(private_pem, _signed_part(cp))
    line = audit.canonical(cp) + "\n"
    path = checkpoints_path(services)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("audit checkpoint %s", line.strip())
    return cp


def _valid(cp: dict, public_pem: str) -> bool:
    sig = cp.get("signature")
    body = {k: v for k, v in cp.items() if k != "_line"}
    return isinstance(sig, str) and signing.verify_document(signing.AUDIT_ALGORITHM, public_pem,
                                                             _signed_part(body).decode(), sig)


def latest_checkpoint(services, public_pem: str) -> dict | None:
    valid = [cp for cp in read_checkpoints(services) if _valid(cp, public_pem)]
    return max(valid, key=lambda cp: cp["position"]) if valid else None


@dataclass
class SealReport:
    sealed: int = 0
    head: audit.Head | None = None
    checkpoint: dict | None = None
    refused: str = ""


def seal(services, batch: int = 1000) -> SealReport:
    """Chain committed entries in batches, then append a signed checkpoint if the head moved.

    Refuses to extend a chain whose head no longer matches the latest checkpoint
    (it would bury the evidence).
    """
    report = SealReport()
    with services.uow() as uow:
        audit.take_sealer_lock(uow.session)
        has_seals = audit.head(uow.session) is not None
        private_pem = signing.audit_private_key(services, create=not has_seals)
        if private_pem is None:
            report.refused = "ключ аудита отсутствует: цепочку нельзя продолжить"
            log.error("audit sealing refused: %s", report.refused)
            return report
        cp = latest_checkpoint(services, signing.public_of(private_pem))
        if cp is not None:
            at = audit.seal_at(uow.session, cp["position"])
            if at is None or at.hash != cp["head_hash"]:
                report.refused = (f"вершина контрольной точки (позиция {cp['position']}, запись {cp['head_id']}) "
                                  "не совпадает с базой данных")
                log.error("audit sealing refused: %s", report.refused)
                return report
        key = chain_key(private_pem)
        while True:
            n = audit.seal_batch(uow.session, key, batch)
            report.sealed += n
            if n < batch:
                break
        uow.session.commit()
        report.head = audit.head(uow.session)
    # The checkpoint is written after commit, so it never names a head the database rolled back.
    if report.head is not None and (cp is None or cp["position"] != report.head.position):
        report.checkpoint = _write_checkpoint(services, private_pem, report.head)
    return report


@dataclass
class AuditReport:
    ok: bool
    checked: int = 0
    unsealed: int = 0
    problems: list[audit.Problem] = field(default_factory=list)
    checkpoint: dict | None = None


def verify(services) -> AuditReport:
    """Recompute the chain, then hold its head against the latest signed checkpoint."""
    private_pem = signing.audit_private_key(services, create=False)
    with services.uow() as uow:
        if private_pem is None:
            if audit.head(uow.session) is None and not read_checkpoints(services):
                return AuditReport(True, unsealed=audit.verify(uow.session, b"").unsealed)
            return AuditReport(False, problems=[audit.Problem(None, "ключ аудита отсутствует в var/keys")])
        public = signing.public_of(private_pem)
        result = audit.verify(uow.session, chain_key(private_pem))
        problems = list(result.problems)
        for cp in read_checkpoints(services):
            if not _valid(cp, public):
                problems.append(audit.Problem(None, f"контрольная точка в строке {cp['_line']}: подпись неверна"))
        cp = latest_checkpoint(services, public)
        if cp is not None:
            at = audit.seal_at(uow.session, cp["position"])
            if at is None:
                problems.append(audit.Problem(cp["head_id"], (
                    f"последние записи удалены: контрольная точка {cp['at']} называет вершину — запись "
                    f"{cp['head_id']} (позиция {cp['position']}), в базе цепочка кончается на позиции "
                    f"{result.head.position if result.head else 0}")))
            elif at.hash != cp["head_hash"] or at.entry_id != cp["head_id"]:
                problems.append(audit.Problem(cp["head_id"], (
                    f"цепочка переписана: вершина записи {cp['head_id']} не совпадает с подписанной "
                    f"контрольной точкой {cp['at']}")))
        elif result.head is not None:
            problems.append(audit.Problem(None, "нет подписанной контрольной точки для запечатанной цепочки"))
    return AuditReport(not problems, result.checked, result.unsealed, problems, cp)
