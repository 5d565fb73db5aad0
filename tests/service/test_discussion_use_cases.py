"""Discussion on every item through its use cases (services.discussion), without HTTP.

Who is told is written here by hand from the demo users (services.registry.DEMO_USERS): IT has
it@ (head, the requester here), it.staff@ and the admin; the MFC mfc@ and mfc.staff@; economic
policy econ@; finance finance@.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from services import amendments as am
from services import discussion
from services import information_requests as ir
from services import reports as rp
from services.attachments import Upload
from services.models.audit import AuditEntry
from services.models.discussion import Comment, ItemAttachment
from services.models.registry import User
from services.models.workflow import OutboxEvent
from services.registry import actor_for, create_user, ensure_department
from workflows.core import Forbidden, Invalid, NotFound

PROGRAM = "kotovsk-information-society"
IT = "it@kotovsk.example"
IT_STAFF = "it.staff@kotovsk.example"
ADMIN = "admin@kotovsk.example"
MFC = "mfc@kotovsk.example"
MFC_STAFF = "mfc.staff@kotovsk.example"
ECON = "econ@kotovsk.example"
FINANCE = "finance@kotovsk.example"
PDF = b"%PDF-1.4 supporting figures"


def _request(svc, actor, to="mfc") -> int:
    with svc.uow() as uow:
        _, (copy,) = ir.create_request(uow, svc, actor, ir.NewRequest(
            program=PROGRAM, subject="Посещаемость сайта", body="Просим представить.", addressees=[to],
            send=True, form=[{"key": "visits", "label": "Посещений за 2016 год", "type": "integer",
                              "required": True, "indicator": "I2", "period": "2016"}]))
        uow.commit()
        return copy.id


def _report(svc) -> int:
    rp.run_schedule(svc, date(2017, 6, 1), backlog=True)
    with svc.uow() as uow:
        return uow.session.execute(select(rp.Report.id).where(rp.Report.period == "2016")).scalar_one()


def _amendment(svc, actor) -> int:
    with svc.uow() as uow:
        a = am.create_amendment(uow, svc, actor, am.NewAmendment(
            program=PROGRAM, justification="Уточнение целей.",
            changes={"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}],
                     "financing": [{"year": 2017, "source": "city", "amount": "3300.0"}]}))
        uow.commit()
        return a.id


def comment(svc, actor, kind, item_id, body, ref=None) -> int:
    with svc.uow() as uow:
        c = discussion.add_comment(uow, svc, actor, kind, item_id, body, ref)
        uow.commit()
        return c.id


def attach(svc, actor, kind, item_id, name="справка.pdf", data=PDF, content_type="application/pdf") -> int:
    with svc.uow() as uow:
        row = discussion.add_file(uow, svc, actor, kind, item_id, Upload(name, content_type, data))
        uow.commit()
        return row.id


def rows(svc):
    with svc.uow() as uow:
        s = uow.session
        return {"comments": s.execute(select(func.count()).select_from(Comment)).scalar_one(),
                "files": s.execute(select(func.count()).select_from(ItemAttachment)).scalar_one()}


def audit_of(svc, action):
    with svc.uow() as uow:
        return [(e.object_type, e.object_id, e.actor_department, e.after) for e in uow.session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).scalars()]


def recipients(emails_of, event_type) -> list[str]:
    return [address for address, state in emails_of(event_type) if state == "sent"]


# --- comments on a request ------------------------------------------------------------------------

def test_addressee_comments_on_a_request_field_and_the_other_people_are_told_once(svc, actors, emails_of, user_ids):
    rid = _request(svc, actors["it"])
    cid = comment(svc, actors["mfc"], "request", rid, "  Считать ли мобильную версию сайта?  ", "form[visits]")
    with svc.uow() as uow:
        c = uow.session.get(Comment, cid)
        assert (c.item_kind, c.item_id, c.author_id, c.body, c.ref, c.ref_label) == (
            "request", rid, user_ids["mfc"], "Считать ли мобильную версию сайта?", "form[visits]",
            "Поле «Посещений за 2016 год»")
    assert audit_of(svc, "comment.added") == [("information_request", str(rid), "mfc", {
        "comment_id": cid, "ref": "form[visits]", "ref_label": "Поле «Посещений за 2016 год»",
        "text": "Считать ли мобильную версию сайта?"})]
    # The requester who wrote the request, and the MFC's other person; never the author.
    assert recipients(emails_of, "comment.added") == sorted([IT, MFC_STAFF])
    with svc.uow() as uow:
        (event,) = uow.session.execute(select(OutboxEvent).where(OutboxEvent.type == "comment.added")).scalars()
        assert event.payload == {"item_kind": "request", "item_id": rid, "comment_id": cid,
                                 "actor_id": user_ids["mfc"], "ref": "form[visits]"}


def test_a_request_thread_reads_down_and_anyone_who_sees_it_reads_it(svc, actors):
    rid = _request(svc, actors["it"])
    first = comment(svc, actors["it"], "request", rid, "Просим поторопиться.")
    second = comment(svc, actors["mfc_staff"], "request", rid, "Готовим.", "subject")
    with svc.uow() as uow:
        for who in ("it", "mfc", "admin"):
            assert [c.id for c in discussion.list_comments(uow.session, actors[who], "request", rid)] == [first, second]
        with pytest.raises(NotFound):
            discussion.list_comments(uow.session, actors["finance"], "request", rid)


def test_a_refused_comment_stores_nothing(svc, actors, snapshot):
    rid = _request(svc, actors["it"])
    before, counts = snapshot(), rows(svc)
    for body, ref, field in (("", None, "body"), ("   \n ", None, "body"),
                             ("x" * (discussion.COMMENT_MAX + 1), None, "body"),
                             ("По полю", "form[nope]", "ref"), ("По ячейке", "indicators[I2].fact", "ref")):
        with svc.uow() as uow, pytest.raises(Invalid) as refused:
            discussion.add_comment(uow, svc, actors["mfc"], "request", rid, body, ref)
        assert list(refused.value.fields) == [field], (body[:10], ref)
    assert snapshot() == before and rows(svc) == counts


def test_only_the_requests_parties_write_the_admin_reads_and_others_do_not_see_it(svc, actors, snapshot):
    rid = _request(svc, actors["econ"], to="finance")
    before = snapshot()
    with svc.uow() as uow, pytest.raises(Forbidden):  # the admin sees every request, writes in none of others'
        discussion.add_comment(uow, svc, actors["admin"], "request", rid, "Проверка")
    for who in ("mfc", "it"):
        with svc.uow() as uow, pytest.raises(NotFound):
            discussion.add_comment(uow, svc, actors[who], "request", rid, "Проверка")
    assert snapshot() == before
    comment(svc, actors["finance"], "request", rid, "Принято в работу.")


def test_comments_are_taken_in_a_final_state(svc, actors, emails_of):
    rid = _request(svc, actors["it"])
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["it"], rid, "withdraw", "Не нужно")
        uow.commit()
    comment(svc, actors["mfc"], "request", rid, "Жаль: данные уже собраны.")
    assert recipients(emails_of, "comment.added") == sorted([IT, MFC_STAFF])


# --- comments on a report -------------------------------------------------------------------------

def test_economic_policy_comments_on_a_report_cell_and_the_executor_is_told(svc, actors, emails_of):
    report = _report(svc)
    cid = comment(svc, actors["econ"], "report", report, "Откуда такая цифра?", "indicators[I2].fact")
    with svc.uow() as uow:
        c = uow.session.get(Comment, cid)
        assert c.ref_label == ("Показатель I2 «Количество посещений официального сайта администрации города "
                               "Котовска в год»: факт")
    # The executor department (its admin belongs to it) and economic policy, less the author.
    assert recipients(emails_of, "comment.added") == sorted([ADMIN, IT, IT_STAFF])


def test_report_references_are_its_lines_cells_activities_and_note(svc, actors):
    report = _report(svc)
    with svc.uow() as uow:
        points = discussion.reference_points(uow.session, svc, discussion.open_item(
            uow.session, actors["it"], "report", report))
    assert points["financing[city]"] == "Финансирование: Средства бюджета города"
    assert points["financing[city].spent"] == "Финансирование: Средства бюджета города, кассовые расходы"
    assert points["indicators[I11].plan"].endswith(": план")
    assert points["note"] == "Пояснительная записка"
    assert any(key.startswith("activities[") for key in points)
    for unknown in ("indicators[I99]", "financing[city].total", "indicators", "form[visits]"):
        assert unknown not in points


def test_a_co_executor_takes_part_and_then_hears_the_replies(svc, actors, emails_of):
    report = _report(svc)
    comment(svc, actors["mfc"], "report", report, "Наши данные по I12 уточняются.", "indicators[I12]")
    assert recipients(emails_of, "comment.added") == sorted([ADMIN, ECON, IT, IT_STAFF])
    comment(svc, actors["econ"], "report", report, "Ждём до пятницы.", "indicators[I12]")
    # The reply reaches the executor's people and the MFC's author, a participant now.
    assert recipients(emails_of, "comment.added") == sorted([ADMIN, ECON, IT, IT_STAFF, ADMIN, IT, IT_STAFF, MFC])


def test_an_outsider_sees_no_report_and_nobody_edits_a_comment(svc, actors):
    report = _report(svc)
    with svc.uow() as uow:
        ensure_department(uow, "culture", "Управление культуры")
        outsider, _ = create_user(uow, email="outsider@kotovsk.example", department="culture", roles=["executor"])
        uow.commit()
        stranger = actor_for(outsider)
    with svc.uow() as uow, pytest.raises(NotFound):
        discussion.add_comment(uow, svc, stranger, "report", report, "Интересно")
    assert not hasattr(discussion, "edit_comment") and not hasattr(discussion, "delete_comment")


# --- comments on an amendment -------------------------------------------------------------------

def test_finance_comments_on_a_change_set_line(svc, actors, emails_of):
    aid = _amendment(svc, actors["it"])
    cid = comment(svc, actors["finance"], "amendment", aid, "Источник не указан.", "financing[2017].city")
    with svc.uow() as uow:
        assert uow.session.get(Comment, cid).ref_label == "Финансирование 2017, средства бюджета города"
        points = discussion.reference_points(uow.session, svc, discussion.open_item(
            uow.session, actors["it"], "amendment", aid))
    assert points == {"indicators[I3].targets[2017]": points["indicators[I3].targets[2017]"],
                      "financing[2017].city": "Финансирование 2017, средства бюджета города"}
    assert points["indicators[I3].targets[2017]"].endswith("целевое значение на 2017 год")
    # The executor department and both reviewers, less the author.
    assert recipients(emails_of, "comment.added") == sorted([ADMIN, ECON, IT, IT_STAFF])
    with svc.uow() as uow, pytest.raises(Invalid) as refused:  # a cell the change set does not touch
        discussion.add_comment(uow, svc, actors["econ"], "amendment", aid, "А это?", "financing[2018].city")
    assert list(refused.value.fields) == ["ref"]


# --- files ----------------------------------------------------------------------------------------

def test_a_file_on_an_amendment_is_stored_audited_and_announced(svc, actors, emails_of, user_ids):
    aid = _amendment(svc, actors["it"])
    fid = attach(svc, actors["econ"], "amendment", aid, name="расчёт.pdf")
    with svc.uow() as uow:
        row = uow.session.get(ItemAttachment, fid)
        assert (row.item_kind, row.item_id, row.filename, row.content_type, row.size, row.uploaded_by_id) == (
            "amendment", aid, "расчёт.pdf", "application/pdf", len(PDF), user_ids["econ"])
        got, path = discussion.get_file(uow.session, svc, actors["finance"], "amendment", aid, fid)
        assert got.id == fid and path.read_bytes() == PDF
    ((object_type, object_id, dept, after),) = audit_of(svc, "attachment.added")
    assert (object_type, object_id, dept, after["filename"], after["size"]) == (
        "amendment", str(aid), "economic-policy", "расчёт.pdf", len(PDF))
    assert recipients(emails_of, "attachment.added") == sorted([ADMIN, FINANCE, IT, IT_STAFF])


def test_a_refused_file_stores_nothing(svc, actors, snapshot):
    report = _report(svc)
    before, counts = snapshot(), rows(svc)
    for name, data, kind in (("run.exe", b"MZ\x90\x00", "application/octet-stream"),
                             ("отчёт.pdf", b"not a pdf", "application/pdf"),
                             ("пусто.txt", b"", "text/plain"),
                             ("big.pdf", b"%PDF-" + b"0" * svc.settings.max_upload_bytes, "application/pdf")):
        with svc.uow() as uow, pytest.raises(Invalid) as refused:
            discussion.add_file(uow, svc, actors["it"], "report", report, Upload(name, kind, data))
        assert list(refused.value.fields) == ["file"], name
    assert snapshot() == before and rows(svc) == counts
    uploads = svc.settings.uploads_dir
    assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))


def test_a_file_is_found_only_under_its_own_item(svc, actors):
    report, aid = _report(svc), _amendment(svc, actors["it"])
    fid = attach(svc, actors["it"], "report", report)
    with svc.uow() as uow:
        for kind, item_id in (("amendment", aid), ("report", report + 1000)):
            with pytest.raises(NotFound):
                discussion.get_file(uow.session, svc, actors["it"], kind, item_id, fid)


def test_a_requests_file_is_now_audited_and_announced_too(svc, actors, emails_of):
    rid = _request(svc, actors["it"])
    fid = attach(svc, actors["mfc_staff"], "request", rid, name="журнал.pdf")
    ((object_type, object_id, dept, after),) = audit_of(svc, "attachment.added")
    assert (object_type, object_id, dept, after["attachment_id"]) == ("information_request", str(rid), "mfc", fid)
    assert recipients(emails_of, "attachment.added") == sorted([IT, MFC])


def test_nobody_inactive_or_unseeing_is_told(svc, actors):
    rid = _request(svc, actors["it"])
    comment(svc, actors["finance"], "request", _request(svc, actors["it"], to="finance"), "Чужой запрос.")
    with svc.uow() as uow:
        uow.session.execute(select(User).where(User.email == MFC_STAFF)).scalar_one().active = False
        uow.commit()
    with svc.uow() as uow:
        names = [u.email for u in discussion.discussion_recipients(uow.session, "request", rid, None)]
    assert names == [IT, MFC]  # finance wrote on another request: no participant of this one
