"""Attached files: the one place their rules live (API and web pages), for requests here and for
reports and amendments through services.discussion.

Bytes are stored outside the database under the uploads folder, named by their
SHA-256, so the same file uploaded twice is kept once; the row keeps the
normalised name, the content type of its kind, size and checksum. Only the kinds in
ALLOWED are taken, each checked from its bytes, never from its name or declared type.
Every file taken is audited and announced (``attachment.added``) in the transaction that
stores its row.
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from services import information_requests as ir
from services.adapters import audit
from services.models.requests import Attachment
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor, Invalid, NotFound


# --- what may be attached: an allowlist, each kind checked from its bytes ----------------------
#
# A signature table and the standard library's zipfile, rather than a magic library: the zip-based
# formats (docx, xlsx, odt, ods, zip) differ only inside the archive, which the libraries at hand
# guess from the first few kilobytes (puremagic 1.30 scores a docx, an xlsx and a plain zip alike),
# and a text file has no signature at all.

Check = Callable[[bytes], "str | None"]  # None: the bytes are of the kind; else why not


def _signature(*prefixes: bytes) -> Check:
    return lambda data: None if data.startswith(prefixes) else "другой формат"


def _zip_names(data: bytes) -> list[str] | None:
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return None


def _zip_entry(data: bytes, name: str) -> bytes | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(name)
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return None


def _archive(data: bytes) -> str | None:
    return None if _zip_names(data) is not None else "не ZIP-архив или архив повреждён"


def _office_open_xml(folder: str) -> Check:
    def check(data: bytes) -> str | None:
        names = _zip_names(data)
        if names is None or "[Content_Types].xml" not in names or not any(n.startswith(folder) for n in names):
            return "другой формат"
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            return "документ содержит макросы; сохраните его без макросов"
        return None
    return check


def _open_document(mimetype: str) -> Check:
    def check(data: bytes) -> str | None:
        names = _zip_names(data)
        if names is None or _zip_entry(data, "mimetype") != mimetype.encode():
            return "другой формат"
        if any(n.startswith(("Basic/", "Scripts/")) for n in names):
            return "документ содержит макросы; сохраните его без макросов"
        return None
    return check


_TEXT_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _text(data: bytes) -> str | None:
    """UTF-8 (with or without a BOM), UTF-16 with a BOM, or Windows-1251; no binary controls."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    elif b"\x00" in data:
        return "это не текст"
    else:
        encodings = ("utf-8-sig", "cp1251")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return "это не текст" if _TEXT_CONTROLS.search(text) else None
    return "неизвестная кодировка текста"


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of .doc and .xls


@dataclass(frozen=True)
class FileKind:
    label: str
    content_type: str  # what is stored and served, whatever the client said
    check: Check
    also_declared_as: tuple[str, ...] = ()  # types browsers send for it besides content_type


ALLOWED: dict[str, FileKind] = {
    # documents
    "pdf": FileKind("документ PDF", "application/pdf", _signature(b"%PDF-"), ("application/x-pdf",)),
    "doc": FileKind("документ Word", "application/msword", _signature(OLE2)),
    "docx": FileKind("документ Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                     _office_open_xml("word/")),
    "odt": FileKind("документ OpenDocument", "application/vnd.oasis.opendocument.text",
                    _open_document("application/vnd.oasis.opendocument.text")),
    "rtf": FileKind("документ RTF", "application/rtf", _signature(b"{\\rtf"), ("text/rtf", "application/x-rtf")),
    "txt": FileKind("текст", "text/plain", _text),
    # spreadsheets
    "xls": FileKind("таблица Excel", "application/vnd.ms-excel", _signature(OLE2),
                    ("application/x-msexcel", "application/msexcel")),
    "xlsx": FileKind("таблица Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     _office_open_xml("xl/")),
    "ods": FileKind("таблица OpenDocument", "application/vnd.oasis.opendocument.spreadsheet",
                    _open_document("application/vnd.oasis.opendocument.spreadsheet")),
    "csv": FileKind("таблица CSV", "text/csv", _text,
                    ("application/csv", "text/comma-separated-values", "text/x-csv", "text/plain",
                     "application/vnd.ms-excel")),
    # images
    "png": FileKind("изображение PNG", "image/png", _signature(b"\x89PNG\r\n\x1a\n")),
    "jpg": FileKind("изображение JPEG", "image/jpeg", _signature(b"\xff\xd8\xff"), ("image/pjpeg",)),
    "jpeg": FileKind("изображение JPEG", "image/jpeg", _signature(b"\xff\xd8\xff"), ("image/pjpeg",)),
    "gif": FileKind("изображение GIF", "image/gif", _signature(b"GIF87a", b"GIF89a")),
    "tif": FileKind("изображение TIFF", "image/tiff", _signature(b"II*\x00", b"MM\x00*")),
    "tiff": FileKind("изображение TIFF", "image/tiff", _signature(b"II*\x00", b"MM\x00*")),
    # archives
    "zip": FileKind("архив ZIP", "application/zip", _archive,
                    ("application/x-zip-compressed", "application/x-zip", "multipart/x-zip")),
    "7z": FileKind("архив 7z", "application/x-7z-compressed", _signature(b"7z\xbc\xaf\x27\x1c")),
    "rar": FileKind("архив RAR", "application/vnd.rar", _signature(b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00"),
                    ("application/x-rar-compressed", "application/x-rar")),
}
ALLOWED_TEXT = ("документы (pdf, doc, docx, odt, rtf, txt), таблицы (xls, xlsx, ods, csv), "
                "изображения (png, jpg, jpeg, gif, tif, tiff), архивы (zip, 7z, rar)")
# What a client says when it does not know: the bytes decide.
UNDECLARED_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/x-download",
                    "application/force-download", "application/unknown"}
EXECUTABLE_SIGNATURES = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")


# --- names ----------------------------------------------------------------------------------

MAX_NAME = 150
_WINDOWS_RESERVED = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))}


def normalised_name(raw: str) -> tuple[str, str]:
    """(name, lower-case extension): the last path part, NFC, control and format characters (bidi
    overrides too) and the characters Windows reserves replaced, runs of spaces made one, dots and
    spaces trimmed at both ends, a device name (CON, NUL…) escaped, at most MAX_NAME characters,
    never empty. The extension is what follows the last dot ("" when none)."""
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", raw))[-1]
    name = "".join(" " if ch.isspace() else "_" if unicodedata.category(ch)[0] == "C" else ch for ch in name)
    name = re.sub(" +", " ", _WINDOWS_RESERVED.sub("_", name)).rstrip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem, ext = stem.strip(" ."), ext.strip(" ").lower()
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = "_" + stem
    stem = stem[:MAX_NAME - len(ext) - 1].rstrip(" .") or "файл"
    return (f"{stem}.{ext}" if ext else stem), ext


@dataclass(frozen=True)
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes


def _refuse(reason: str) -> Invalid:
    return Invalid("Файл не принят.", fields={"file": [reason]})


def checked_upload(upload: Upload, max_bytes: int) -> tuple[str, str]:
    """(normalised name, content type of its kind), or a 422 naming the ``file`` field with the
    reason; nothing is stored before this passes."""
    if not upload.filename:
        raise Invalid("Файл не передан.", fields={"file": ["Передайте файл в поле file (multipart/form-data)."]})
    name, ext = normalised_name(upload.filename)
    kind = ALLOWED.get(ext)
    if kind is None:
        what = f"Файлы .{ext[:20]} не принимаются." if ext else "У файла нет расширения."
        raise _refuse(f"{what} Допустимы {ALLOWED_TEXT}.")
    if len(upload.data) > max_bytes:
        raise Invalid("Файл слишком большой.", fields={"file": [f"Не более {max_bytes // (1024 * 1024)} МБ."]})
    if not upload.data:
        raise _refuse("Файл пуст.")
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared not in UNDECLARED_TYPES and declared not in (kind.content_type, *kind.also_declared_as):
        raise _refuse(f"Тип содержимого {declared[:100]} не соответствует расширению .{ext}.")
    if upload.data.startswith(EXECUTABLE_SIGNATURES):
        raise _refuse("Исполняемые файлы не принимаются.")
    problem = kind.check(upload.data)
    if problem is not None:
        raise _refuse(f"Содержимое не соответствует расширению .{ext} ({kind.label}): {problem}.")
    return name, kind.content_type


@dataclass(frozen=True)
class StoredFile:
    filename: str
    content_type: str
    size: int
    sha256: str


def store_upload(services, upload: Upload) -> StoredFile:
    """Check the upload (a 422 naming ``file`` when refused, nothing written), then keep its bytes."""
    name, content_type = checked_upload(upload, services.settings.max_upload_bytes)
    digest = hashlib.sha256(upload.data).hexdigest()
    path = stored_path(services, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(upload.data)
        tmp.replace(path)
    return StoredFile(name, content_type, len(upload.data), digest)


# The audit's name for each kind of item (a request is a workflow item "information_request").
OBJECT_TYPES = {"request": "information_request", "report": "report", "amendment": "amendment"}


def announce_file(uow: UnitOfWork, actor: Actor, item_kind: str, item_id: int, row) -> None:
    """The audit entry and the ``attachment.added`` event of a file just added (row flushed)."""
    audit.record(uow, action="attachment.added", object_type=OBJECT_TYPES[item_kind], object_id=item_id,
                 actor=actor, after={"attachment_id": row.id, "filename": row.filename,
                                     "content_type": row.content_type, "size": row.size, "sha256": row.sha256})
    uow.emit("attachment.added", {"item_kind": item_kind, "item_id": item_id, "attachment_id": row.id,
                                  "filename": row.filename, "actor_id": actor.user_id})


def add_attachment(uow: UnitOfWork, services, actor: Actor, request_id: int, upload: Upload) -> Attachment:
    """Either side of a request may attach files; an onlooker (an admin) may not."""
    req = ir.get_visible(uow.session, actor, request_id)
    if not ir.parties(actor, req):
        raise NotFound(f"Запрос {request_id} не найден.")
    stored = store_upload(services, upload)
    attachment = Attachment(request_id=req.id, filename=stored.filename, content_type=stored.content_type,
                            size=stored.size, sha256=stored.sha256, uploaded_by_id=actor.user_id)
    uow.session.add(attachment)
    uow.session.flush()
    announce_file(uow, actor, "request", req.id, attachment)
    return attachment


def get_attachment(session, services, actor: Actor, request_id: int, attachment_id: int) -> tuple[Attachment, Path]:
    ir.get_visible(session, actor, request_id)
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.request_id != request_id:
        raise NotFound("Вложение не найдено.")
    return attachment, stored_path(services, attachment.sha256)


def stored_path(services, digest: str) -> Path:
    return services.settings.uploads_dir / digest[:2] / digest
