"""Attachments of information requests: the one place their rules live (API and web pages).

Bytes are stored outside the database under the uploads folder, named by their
SHA-256, so the same file uploaded twice is kept once; the row keeps the
original name, content type, size and checksum.
"""
from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from services import information_requests as ir
from services.models.requests import Attachment
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor, Invalid, NotFound

DANGEROUS_EXTENSIONS = {
    ".exe", ".bat", ".cmd", ".com", ".scr", ".msi", ".ps1", ".vbs", ".vbe", ".js", ".jse", ".jar",
    ".sh", ".dll", ".cpl", ".hta", ".lnk", ".reg", ".wsf", ".pif", ".html", ".htm", ".svg",
}
DANGEROUS_TYPES = {"application/x-msdownload", "application/x-dosexec", "application/x-sh",
                   "application/javascript", "text/html", "image/svg+xml", "application/java-archive"}
_SAFE_NAME = re.compile(r"[^\w.\- ()]+", re.UNICODE)


@dataclass(frozen=True)
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes


def checked_upload(upload: Upload, max_bytes: int) -> tuple[str, str]:
    """(safe name, content type), or a 422 naming the ``file`` field with the reason."""
    if not upload.filename:
        raise Invalid("Файл не передан.", fields={"file": ["Передайте файл в поле file (multipart/form-data)."]})
    name = _SAFE_NAME.sub("_", Path(upload.filename).name)[:200] or "file"
    suffix = Path(name).suffix.lower()
    content_type = (upload.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream").lower()
    if suffix in DANGEROUS_EXTENSIONS or content_type in DANGEROUS_TYPES:
        raise Invalid("Недопустимый тип файла.", fields={"file": [f"Файлы {suffix or content_type} не принимаются."]})
    if len(upload.data) > max_bytes:
        raise Invalid("Файл слишком большой.", fields={"file": [f"Не более {max_bytes // (1024 * 1024)} МБ."]})
    if upload.data[:2] == b"MZ" or upload.data[:4] == b"\x7fELF":
        raise Invalid("Недопустимый тип файла.", fields={"file": ["Исполняемые файлы не принимаются."]})
    return name, content_type


def add_attachment(uow: UnitOfWork, services, actor: Actor, request_id: int, upload: Upload) -> Attachment:
    """Either side of a request may attach files; an onlooker (an admin) may not."""
    name, content_type = checked_upload(upload, services.settings.max_upload_bytes)
    req = ir.get_visible(uow.session, actor, request_id)
    if not ir.parties(actor, req):
        raise NotFound(f"Запрос {request_id} не найден.")
    digest = hashlib.sha256(upload.data).hexdigest()
    path = stored_path(services, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(upload.data)
        tmp.replace(path)
    attachment = Attachment(request_id=req.id, filename=name, content_type=content_type, size=len(upload.data),
                            sha256=digest, uploaded_by_id=actor.user_id)
    uow.session.add(attachment)
    uow.session.flush()
    return attachment


def get_attachment(session, services, actor: Actor, request_id: int, attachment_id: int) -> tuple[Attachment, Path]:
    ir.get_visible(session, actor, request_id)
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.request_id != request_id:
        raise NotFound("Вложение не найдено.")
    return attachment, stored_path(services, attachment.sha256)


def stored_path(services, digest: str) -> Path:
    return services.settings.uploads_dir / digest[:2] / digest
