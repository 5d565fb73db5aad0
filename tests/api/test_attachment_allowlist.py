"""Attachments by allowlist: kinds checked from their bytes, names normalised, refusals store nothing
(issue 13, 6 and finding 9)."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from services.models.requests import Attachment

SLUG = "kotovsk-information-society"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def _xlsx() -> bytes:
    out = io.BytesIO()
    Workbook().save(out)
    return out.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>",
             "word/document.xml": b"<w:document/>"})
ODT = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office:document/>"})
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64 + b"PE\x00\x00"


def _request(as_user) -> int:
    r = as_user("it").post("/api/v1/requests", json={"program": SLUG, "subject": "Сведения", "body": "-",
                                                     "addressees": ["mfc"], "send": True})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["requests"][0]["id"]


def _upload(client, request_id: int, data: bytes, name: str, content_type: str = "application/octet-stream"):
    return client.post(f"/api/v1/requests/{request_id}/attachments",
                       data={"file": (io.BytesIO(data), name, content_type)}, content_type="multipart/form-data")


def _nothing_stored(services) -> bool:
    with services.uow() as uow:
        rows = uow.session.execute(select(func.count()).select_from(Attachment)).scalar_one()
    files = [p for p in services.settings.uploads_dir.rglob("*") if p.is_file()]
    return rows == 0 and files == []


REFUSED_BY_CONTENT = [
    ("отчёт.pdf", EXE, "application/pdf", "Исполняемые файлы не принимаются"),
    ("отчёт.pdf", b"<html><script>alert(1)</script></html>", "application/pdf", "документ PDF"),
    ("письмо.docx", _zip({"a.txt": b"x"}), "", "документ Word"),  # a zip is not a document
    ("письмо.docx", _xlsx(), "", "документ Word"),  # a workbook is not a document either
    ("таблица.xlsx", DOCX, "", "таблица Excel"),
    ("скан.png", b"GIF89a" + b"\x00" * 32, "image/png", "изображение PNG"),
    ("данные.csv", b"a,b\x00\x01\x02", "text/csv", "это не текст"),
    ("архив.zip", b"PK\x03\x04 broken", "application/zip", "архив"),
    ("макрос.docx", _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>",
                          "word/vbaProject.bin": b"\x00"}), "", "макросы"),
    ("пусто.pdf", b"", "application/pdf", "Файл пуст"),
    ("отчёт.pdf", PDF, "text/html", "не соответствует расширению"),  # the declared type contradicts the name
]


def test_a_file_whose_bytes_are_not_of_its_kind_is_refused_and_nothing_stored(services, as_user):
    request_id = _request(as_user)
    for name, data, content_type, reason in REFUSED_BY_CONTENT:
        response = _upload(as_user("mfc"), request_id, data, name, content_type)
        assert response.status_code == 422, (name, reason, response.get_json())
        problems = response.get_json()["error"]["fields"]["file"]
        assert reason in " ".join(problems), (name, problems)
    assert _nothing_stored(services)


def test_an_extension_outside_the_allowlist_is_refused_naming_the_allowed_ones(services, as_user):
    request_id = _request(as_user)
    for name in ("x.xhtml", "a.mjs", "a.exe.", "a.exe ", "a.exe. . ", "page.svg", "run.bat", "README",
                 "архив.tar.gz", "a.pdf.exe"):
        response = _upload(as_user("mfc"), request_id, PDF, name, "application/pdf")
        assert response.status_code == 422, (name, response.get_json())
        text = " ".join(response.get_json()["error"]["fields"]["file"])
        assert ("не принимаются" in text or "нет расширения" in text) and "pdf, doc, docx" in text, (name, text)
    assert _nothing_stored(services)


ALLOWED = [
    ("Отчёт 2016.pdf", PDF, "application/pdf"),
    ("письмо.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("таблица.XLSX", _xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("текст.odt", ODT, "application/vnd.oasis.opendocument.text"),
    ("данные.csv", "код;значение\nI1;-5\n".encode("cp1251"), "text/csv"),
    ("заметка.txt", "Привет".encode("utf-8-sig"), "text/plain"),
    ("фото.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    ("архив.7z", b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
]


def test_allowed_kinds_are_taken_with_the_content_type_of_their_kind(as_user):
    request_id = _request(as_user)
    for name, data, stored_type in ALLOWED:
        response = _upload(as_user("mfc"), request_id, data, name, "application/octet-stream")
        assert response.status_code == 201, (name, response.get_json())
        assert response.get_json()["content_type"] == stored_type
        got = as_user("it").get(f"/api/v1/requests/{request_id}/attachments/{response.get_json()['id']}")
        assert got.status_code == 200 and got.data == data and got.mimetype == stored_type


NAMES = [
    ("отчёт.pdf. . ", "отчёт.pdf"),
    ("../../etc/отчёт.pdf", "отчёт.pdf"),
    ("a\u202efdp.pdf", "a_fdp.pdf"),  # a right-to-left override would show it as "apdf.pdf"
    ("что:где?*<>|.pdf", "что_где_____.pdf"),
    ("  итог\t  2016   .pdf", "итог 2016.pdf"),
    ("CON.pdf", "_CON.pdf"),
    (".pdf", "файл.pdf"),
    ("я" * 300 + ".pdf", "я" * 146 + ".pdf"),
]


def test_names_are_normalised_and_never_empty(services, as_user):
    request_id = _request(as_user)
    for raw, expected in NAMES:
        response = _upload(as_user("mfc"), request_id, PDF, raw, "application/pdf")
        assert response.status_code == 201, (raw, response.get_json())
        assert response.get_json()["filename"] == expected, raw
        with services.uow() as uow:
            stored = uow.session.get(Attachment, response.get_json()["id"]).filename
        assert stored == expected
    got = as_user("it").get(f"/api/v1/requests/{request_id}/attachments/{response.get_json()['id']}")
    assert "attachment" in got.headers["Content-Disposition"]


# --- the web form ---------------------------------------------------------------------------

def _signed_in(app, email: str):
    client = app.test_client()

    def token(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    r = client.post("/login", data={"email": email, "password": "demo-password-1",
                                    "csrf_token": token(client.get("/login").get_data(as_text=True))})
    assert r.status_code == 302, r.status_code
    return client, token(client.get("/").get_data(as_text=True))


def test_the_web_form_shows_why_a_file_was_refused_at_its_field_and_stores_nothing(services, app, as_user):
    request_id = _request(as_user)
    client, csrf = _signed_in(app, "mfc@kotovsk.example")
    r = client.post(f"/requests/{request_id}/attachments", content_type="multipart/form-data",
                    data={"csrf_token": csrf, "file": (io.BytesIO(EXE), "отчёт.pdf", "application/pdf")})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert re.search(r'<span class="field-error" id="err-file">[^<]*Исполняемые файлы не принимаются', page)
    assert 'aria-describedby="err-file"' in page
    r = client.post(f"/requests/{request_id}/attachments", content_type="multipart/form-data",
                    data={"csrf_token": csrf, "file": (io.BytesIO(PDF), "a.mjs", "text/javascript")})
    assert r.status_code == 422 and "Файлы .mjs не принимаются" in r.get_data(as_text=True)
    assert _nothing_stored(services)

    r = client.post(f"/requests/{request_id}/attachments", content_type="multipart/form-data",
                    data={"csrf_token": csrf, "file": (io.BytesIO(PDF), "отчёт.pdf. . ", "application/pdf")})
    assert r.status_code == 302
    with services.uow() as uow:
        assert uow.session.execute(select(Attachment.filename)).scalars().all() == ["отчёт.pdf"]
