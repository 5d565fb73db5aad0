"""Comments on every item and files on reports and amendments, over HTTP, as the demo users.

Each refusal is checked to store nothing: no comment or file row, no audit entry, no outbox event,
no email.
"""
from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from services.models.audit import AuditEntry
from services.models.discussion import Comment, ItemAttachment
from services.models.mail import OutgoingEmail
from services.models.workflow import OutboxEvent

SLUG = "kotovsk-information-society"
PDF = b"%PDF-1.4 figures " + bytes(range(256))


@pytest.fixture
def items(as_user, services):
    """A request IT -> MFC, the 2016 annual report (a draft) and an amendment by IT."""
    from services.reports import run_schedule

    request_id = as_user("it").post("/api/v1/requests", json={
        "program": SLUG, "subject": "Посещаемость", "addressees": ["mfc"], "send": True,
        "form": [{"key": "visits", "label": "Посещений", "type": "integer", "indicator": "I2", "period": "2016"}],
    }).get_json()["requests"][0]["id"]
    run_schedule(services, date(2017, 6, 1), backlog=True)
    report = next(r["id"] for r in as_user("it").get(f"/api/v1/reports?program={SLUG}&page_size=200")
                  .get_json()["items"] if r["period"] == "2016")
    amendment = as_user("it").post("/api/v1/amendments", json={
        "program": SLUG, "justification": "Уточнение.",
        "changes": {"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]}}).get_json()["id"]
    return {"request": ("requests", request_id), "report": ("reports", report), "amendment": ("amendments", amendment)}


def stored(services) -> dict[str, int]:
    with services.uow() as uow:
        s = uow.session
        count = lambda model: s.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
        return {"comments": count(Comment), "files": count(ItemAttachment), "audit": count(AuditEntry),
                "outbox": count(OutboxEvent), "emails": count(OutgoingEmail)}


def upload(client, url, content=PDF, name="справка.pdf", content_type="application/pdf"):
    return client.post(url, data={"file": (io.BytesIO(content), name, content_type)}, content_type="multipart/form-data")


@pytest.mark.parametrize("kind,who,ref,label", [
    ("request", "mfc_staff", "form[visits]", "Поле «Посещений»"),
    ("request", "it", None, None),
    ("report", "econ", "indicators[I2].fact",
     "Показатель I2 «Количество посещений официального сайта администрации города Котовска в год»: факт"),
    ("report", "mfc", "financing[city]", "Финансирование: Средства бюджета города"),
    ("amendment", "finance", "indicators[I3].targets[2017]", None),
])
def test_a_party_comments_and_everyone_who_sees_the_item_reads_it(as_user, items, services, kind, who, ref, label):
    plural, item_id = items[kind]
    url = f"/api/v1/{plural}/{item_id}/comments"
    before = stored(services)
    r = as_user(who).post(url, json={"body": "Проверьте, пожалуйста.\nСпасибо.", "ref": ref})
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["item_kind"] == kind and made["item_id"] == item_id and made["ref"] == ref
    assert made["body"] == "Проверьте, пожалуйста.\nСпасибо."
    if label:
        assert made["ref_label"] == label
    elif ref:
        assert made["ref_label"].startswith("Показатель I3") and made["ref_label"].endswith("на 2017 год")
    assert made["author"]["department"] == {"mfc_staff": "mfc", "it": "it", "econ": "economic-policy",
                                            "mfc": "mfc", "finance": "finance"}[who]
    after = stored(services)
    assert (after["comments"], after["audit"], after["outbox"]) == (
        before["comments"] + 1, before["audit"] + 1, before["outbox"] + 1)
    assert after["emails"] > before["emails"]
    readers = {"request": ("it", "it_staff", "mfc", "mfc_staff", "admin")}.get(
        kind, ("it", "it_staff", "mfc", "mfc_staff", "econ", "finance", "admin"))
    for reader in readers:
        got = as_user(reader).get(url)
        assert got.status_code == 200
        assert [c["id"] for c in got.get_json()["items"]] == [made["id"]]
        assert got.get_json()["total"] == 1
    if kind == "request":
        for stranger in ("econ", "finance"):
            assert as_user(stranger).get(url).status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"body": ""}, "body"),
    ({"body": "   "}, "body"),
    ({}, "body"),
    ({"body": "x" * 20001}, "body"),
    ({"body": "Текст", "ref": "indicators[I99]"}, "ref"),
    ({"body": "Текст", "ref": "строка\nвторая"}, "ref"),
    ({"body": "Текст", "ref": "x" * 201}, "ref"),
    ({"body": "Текст", "extra": 1}, "extra"),
])
@pytest.mark.parametrize("kind", ["request", "report", "amendment"])
def test_bad_comment_is_422_at_its_field_and_stores_nothing(as_user, items, services, kind, body, field):
    plural, item_id = items[kind]
    before = stored(services)
    r = as_user("it").post(f"/api/v1/{plural}/{item_id}/comments", json=body)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert stored(services) == before


def test_the_admin_reads_a_request_of_others_but_does_not_write_and_strangers_get_404(as_user, services):
    econ_fin = as_user("econ").post("/api/v1/requests", json={
        "program": SLUG, "subject": "Кассовые расходы", "addressees": ["finance"], "send": True,
    }).get_json()["requests"][0]["id"]
    url = f"/api/v1/requests/{econ_fin}/comments"
    before = stored(services)
    refused = as_user("admin").post(url, json={"body": "Проверка"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    for who in ("it", "mfc"):
        assert as_user(who).post(url, json={"body": "Проверка"}).status_code == 404
    assert as_user(None).post(url, json={"body": "Проверка"}).status_code == 401
    assert stored(services) == before
    assert as_user("admin").get(url).status_code == 200


@pytest.mark.parametrize("kind", ["report", "amendment"])
def test_files_on_reports_and_amendments_as_on_requests(as_user, items, services, kind):
    plural, item_id = items[kind]
    url = f"/api/v1/{plural}/{item_id}/attachments"
    r = upload(as_user("econ"), url, name="Расчёт 2016.pdf")
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert (made["filename"], made["size"], made["content_type"], made["sha256"]) == (
        "Расчёт 2016.pdf", len(PDF), "application/pdf", hashlib.sha256(PDF).hexdigest())
    listed = as_user("mfc").get(url).get_json()
    assert [f["id"] for f in listed["items"]] == [made["id"]]
    got = as_user("finance").get(f"{url}/{made['id']}")
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Type"].startswith("application/pdf")
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    with services.uow() as uow:
        (entry,) = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "attachment.added")).scalars()
        assert (entry.object_type, entry.object_id, entry.after["filename"]) == (kind, str(item_id), "Расчёт 2016.pdf")


@pytest.mark.parametrize("name,content,content_type", [
    ("setup.exe", b"MZ\x90\x00 not really", "application/octet-stream"),
    ("report.pdf", b"MZ\x90\x00", "application/pdf"),
    ("page.html", b"<script></script>", "text/html"),
    ("scan.pdf", b"PK\x03\x04 not a pdf", "application/pdf"),
    ("note.txt", b"", "text/plain"),
])
@pytest.mark.parametrize("kind", ["report", "amendment"])
def test_a_refused_file_is_422_at_file_and_stores_nothing(as_user, items, services, kind, name, content, content_type):
    plural, item_id = items[kind]
    before = stored(services)
    r = upload(as_user("it"), f"/api/v1/{plural}/{item_id}/attachments", content, name, content_type)
    assert r.status_code == 422, r.get_json()
    assert "file" in r.get_json()["error"]["fields"]
    assert stored(services) == before
    assert as_user("it").get(f"/api/v1/{plural}/{item_id}/attachments").get_json()["items"] == []


def test_upload_without_a_file_is_422(as_user, items):
    plural, item_id = items["report"]
    r = as_user("it").post(f"/api/v1/{plural}/{item_id}/attachments", data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.get_json()["error"]["fields"]


def test_a_file_over_the_limit_is_refused(as_user, items, services, tokens, tmp_path):
    from services.web.app import create_app
    from tests.conftest import ApiClient, make_services, make_settings

    small = make_services(make_settings(tmp_path / "small", services.settings.database_url,
                                        INTERDEPT_MAX_UPLOAD_BYTES="1024"))
    try:
        client = ApiClient(create_app(services=small, test_config={"TESTING": True}).test_client(), tokens["it"])
        plural, item_id = items["amendment"]
        url = f"/api/v1/{plural}/{item_id}/attachments"
        assert upload(client, url, b"%PDF-" + b"a" * 1019, "ok.pdf").status_code == 201
        r = upload(client, url, b"%PDF-" + b"a" * 1020, "big.pdf")
        assert r.status_code == 422 and "file" in r.get_json()["error"]["fields"]
        assert len(client.get(url).get_json()["items"]) == 1
    finally:
        small.dispose()


def test_a_file_of_one_item_is_not_found_under_another(as_user, items):
    _, report = items["report"]
    _, amendment = items["amendment"]
    fid = upload(as_user("it"), f"/api/v1/reports/{report}/attachments").get_json()["id"]
    assert as_user("it").get(f"/api/v1/amendments/{amendment}/attachments/{fid}").status_code == 404
    assert as_user("it").get(f"/api/v1/reports/{report}/attachments/{fid + 1}").status_code == 404
    assert as_user("it").get(f"/api/v1/reports/{report}/attachments/{fid}").status_code == 200


def test_comments_are_taken_after_the_item_is_closed(as_user, items):
    _, request_id = items["request"]
    r = as_user("it").post(f"/api/v1/requests/{request_id}/transitions", json={"event": "withdraw"})
    assert r.status_code == 200
    r = as_user("mfc").post(f"/api/v1/requests/{request_id}/comments", json={"body": "Принято к сведению."})
    assert r.status_code == 201


def test_comments_and_files_are_in_the_openapi_spec(app):
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    for plural, param in (("requests", "request_id"), ("reports", "report_id"), ("amendments", "amendment_id")):
        assert {"get", "post"} <= set(paths[f"/api/v1/{plural}/{{{param}}}/comments"])
    for plural, param in (("reports", "report_id"), ("amendments", "amendment_id")):
        assert {"get", "post"} <= set(paths[f"/api/v1/{plural}/{{{param}}}/attachments"])
        assert "get" in paths[f"/api/v1/{plural}/{{{param}}}/attachments/{{attachment_id}}"]
