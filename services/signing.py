"""Signed decisions: a department signs the canonical JSON of what it decided.

Signing goes through one interface, :class:`SigningScheme` (make a key pair,
sign, verify); :class:`Ed25519Scheme` is the one shipped. A GOST R 34.10-2012
scheme (a certified CSP) would be another implementation registered in
``SCHEMES`` and chosen with ``INTERDEPT_SIGNING_ALGORITHM``.

Private keys live in files under ``<var>/keys/<department>.pem`` (mode 0600),
never in the database; public keys are rows of ``department_keys`` and are
published at ``GET /api/v1/keys``. A signature row keeps the exact document
that was signed, so anyone can check it with the published key.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from services.adapters import audit
from services.models.base import utcnow
from services.models.people import DepartmentKey, Signature
from services.models.registry import Department
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor, Invalid, NotFound


class SigningScheme(Protocol):
    """What a signature algorithm must offer; keys travel as PEM text."""

    algorithm: str

    def generate(self) -> tuple[bytes, str]:
        """A new key pair: (private key PEM bytes, public key PEM text)."""

    def public_from_private(self, private_pem: bytes) -> str: ...

    def sign(self, private_pem: bytes, data: bytes) -> bytes: ...

    def verify(self, public_pem: str, data: bytes, signature: bytes) -> bool: ...


class Ed25519Scheme:
    algorithm = "Ed25519"

    def generate(self) -> tuple[bytes, str]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return private, self.public_from_private(private)

    def public_from_private(self, private_pem: bytes) -> str:
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(private_pem, password=None)
        return key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, private_pem: bytes, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return serialization.load_pem_private_key(private_pem, password=None).sign(data)

    def verify(self, public_pem: str, data: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            key = serialization.load_pem_public_key(public_pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                return False
            key.verify(signature, data)
            return True
        except (InvalidSignature, ValueError, TypeError):
            return False


SCHEMES: dict[str, SigningScheme] = {"Ed25519": Ed25519Scheme()}
DEFAULT_ALGORITHM = "Ed25519"
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def scheme(algorithm: str | None = None) -> SigningScheme:
    name = algorithm or os.environ.get("INTERDEPT_SIGNING_ALGORITHM") or DEFAULT_ALGORITHM
    try:
        return SCHEMES[name]
    except KeyError:
        raise Invalid(f"Неизвестный алгоритм подписи: {name}.") from None


def key_id_of(public_pem: str) -> str:
    return hashlib.sha256(public_pem.strip().encode()).hexdigest()[:32]


def keys_dir(services) -> Path:
    return Path(services.settings.var_dir) / "keys"


def private_key_path(services, department_code: str) -> Path:
    if not _CODE.match(department_code or ""):
        raise Invalid("Некорректный код подразделения.")
    return keys_dir(services) / f"{department_code}.pem"


def _write_private(path: Path, private_pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _department(session, department) -> Department:
    if isinstance(department, Department):
        return department
    dept = session.execute(select(Department).where(Department.code == department)).scalar_one_or_none()
    if dept is None:
        raise NotFound(f"Подразделение «{department}» не найдено.")
    return dept


def active_key(session, department_id: int) -> DepartmentKey | None:
    return session.execute(
        select(DepartmentKey).where(DepartmentKey.department_id == department_id, DepartmentKey.active.is_(True))
        .order_by(DepartmentKey.id.desc()).limit(1)
    ).scalar_one_or_none()


def generate_key(uow: UnitOfWork, services, department, *, rotate: bool = False,
                 algorithm: str | None = None, actor: Actor | None = None) -> DepartmentKey:
    """A new key pair for the department; an existing active key is kept unless ``rotate``.

    A rotated-out public key stays published (inactive), so older signatures still verify.
    """
    dept = _department(uow.session, department)
    uow.get_for_update(Department, dept.id)  # one generator at a time per department
    current = active_key(uow.session, dept.id)
    path = private_key_path(services, dept.code)
    if current is not None and not rotate and path.exists():
        raise Invalid(f"У подразделения «{dept.code}» уже есть ключ {current.key_id}; для замены укажите --rotate.")
    chosen = scheme(algorithm)
    private_pem, public_pem = chosen.generate()
    if current is not None:
        current.active, current.retired_at = False, utcnow()
    row = DepartmentKey(department_id=dept.id, key_id=key_id_of(public_pem), algorithm=chosen.algorithm,
                        public_key=public_pem, active=True, created_at=utcnow())
    uow.session.add(row)
    uow.session.flush()
    audit.record(uow, action="signing_key.generated", object_type="department_key", object_id=row.key_id,
                 actor=actor, before={"key_id": current.key_id} if current else None,
                 after={"department": dept.code, "key_id": row.key_id, "algorithm": row.algorithm})
    # The file is written before commit: a key row without its private file would be useless,
    # a file without its row is simply replaced next time.
    _write_private(path, private_pem)
    return row


def _signing_key(uow: UnitOfWork, services, dept: Department) -> tuple[DepartmentKey, bytes]:
    """The department's active key and its private half, generated on first use."""
    path = private_key_path(services, dept.code)

    def usable():
        row = active_key(uow.session, dept.id)
        if row is not None and path.exists():
            private_pem = path.read_bytes()
            if scheme(row.algorithm).public_from_private(private_pem).strip() == row.public_key.strip():
                return row, private_pem
        return None

    found = usable()
    if found is None:
        uow.get_for_update(Department, dept.id)
        found = usable()  # another process may have made it while we waited for the lock
    if found is None:
        row = generate_key(uow, services, dept, rotate=True)
        found = row, path.read_bytes()
    return found


def document_for(object_type: str, object_id: Any, decision: str, department: str, key: DepartmentKey,
                 signed_at, content: dict) -> str:
    """The canonical JSON that is signed: what was decided, by whom, with which key, when."""
    return audit.canonical({
        "object_type": object_type, "object_id": str(object_id), "decision": decision,
        "department": department, "key_id": key.key_id, "algorithm": key.algorithm,
        "signed_at": signed_at.isoformat(), "content": content,
    })


def sign_decision(uow: UnitOfWork, services, department, object_type: str, object_id: Any, decision: str,
                  content: dict, *, actor: Actor | None = None) -> Signature:
    """Sign in the caller's transaction (the signature commits or rolls back with the decision)."""
    dept = _department(uow.session, department)
    key, private_pem = _signing_key(uow, services, dept)
    signed_at = utcnow()
    document = document_for(object_type, object_id, decision, dept.code, key, signed_at, content)
    raw = scheme(key.algorithm).sign(private_pem, document.encode())
    row = Signature(object_type=object_type, object_id=str(object_id), decision=decision, department_id=dept.id,
                    key_id=key.key_id, algorithm=key.algorithm, document=document,
                    signature=base64.b64encode(raw).decode(), signed_at=signed_at,
                    signed_by_id=actor.user_id if actor else None)
    uow.session.add(row)
    uow.session.flush()
    audit.record(uow, action="decision.signed", object_type=object_type, object_id=object_id, actor=actor,
                 after={"decision": decision, "department": dept.code, "key_id": key.key_id,
                        "signature_id": row.id,
                        "document_sha256": hashlib.sha256(document.encode()).hexdigest()})
    return row


def verify_document(algorithm: str, public_pem: str, document: str, signature_b64: str) -> bool:
    """What anyone can do with the published key: check a signature over the exact document text."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except (ValueError, TypeError):
        return False
    chosen = SCHEMES.get(algorithm)
    return chosen is not None and chosen.verify(public_pem, document.encode(), raw)


def verify_signature(session, signature: Signature, document: str | None = None) -> bool:
    """Check a stored signature (or ``document`` in its place) against its department's published key."""
    key = session.execute(select(DepartmentKey).where(DepartmentKey.key_id == signature.key_id)).scalar_one_or_none()
    if key is None or key.department_id != signature.department_id or key.algorithm != signature.algorithm:
        return False
    return verify_document(key.algorithm, key.public_key, signature.document if document is None else document,
                           signature.signature)


def signatures_for(session, object_type: str, object_id: Any) -> list[Signature]:
    return list(session.execute(
        select(Signature).where(Signature.object_type == object_type, Signature.object_id == str(object_id))
        .order_by(Signature.id)
    ).scalars())


@dataclass(frozen=True)
class KeyView:
    department: str
    key_id: str
    algorithm: str
    public_key: str
    created_at: Any
    active: bool
    retired_at: Any


def published_keys(session) -> list[KeyView]:
    rows = session.execute(
        select(DepartmentKey, Department.code).join(Department, Department.id == DepartmentKey.department_id)
        .order_by(Department.code, DepartmentKey.id)
    ).all()
    return [KeyView(code, k.key_id, k.algorithm, k.public_key, k.created_at, k.active, k.retired_at)
            for k, code in rows]


AUDIT_ALGORITHM = DEFAULT_ALGORITHM


def audit_key_path(services) -> Path:
    """The audit checkpoints' key: beside the departments' keys, a name no department code can take."""
    return keys_dir(services) / "_audit.pem"


def audit_private_key(services, *, create: bool) -> bytes | None:
    """The audit key's private PEM; made once (never replaced: a new key would orphan old checkpoints)."""
    path = audit_key_path(services)
    if not path.exists() and create:
        private_pem, _ = SCHEMES[AUDIT_ALGORITHM].generate()
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        _write_private(tmp, private_pem)
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes() if path.exists() else None


def sign_with(private_pem: bytes, data: bytes) -> str:
    return base64.b64encode(SCHEMES[AUDIT_ALGORITHM].sign(private_pem, data)).decode()


def public_of(private_pem: bytes) -> str:
    return SCHEMES[AUDIT_ALGORITHM].public_from_private(private_pem)
