"""Following items (services.watchers) and the watchers' emails, through the use cases, without HTTP.

An it -> mfc request is seen by it, it_staff, mfc, mfc_staff and the admin; economic policy and
finance take no part in it, so for them it does not exist.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from services import amendments as am, information_requests as ir, reports as rp, watchers
from services.events.outbox import handle_event
from services.models.audit import AuditEntry
from services.models.discussion import Watcher
from services.models.mail import OutgoingEmail
from services.models.registry import Department, User
from services.models.reports import Report
from services.models.workflow import HandledEvent, OutboxEvent
from workflows.core import NotFound

PROGRAM = "kotovsk-information-society"


def create_request(svc, actor) -> int:
    with svc.uow() as uow:
        _, copies = ir.create_request(uow, svc, actor, ir.NewRequest(
            program=PROGRAM, subject="Сведения о заявлениях", body="Просим представить.", addressees=["mfc"],
            send=True))
        uow.commit()
        return copies[0].id


def follow(svc, actor, kind, item_id):
    with svc.uow() as uow:
        watchers.follow(uow, actor, kind, item_id)
        uow.commit()


def unfollow(svc, actor, kind, item_id) -> bool:
    with svc.uow() as uow:
        was = watchers.unfollow(uow, actor, kind, item_id)
        uow.commit()
        return was


def rows(svc) -> list[tuple[str, int, int]]:
    with svc.uow() as uow:
        return [(w.item_kind, w.item_id, w.user_id) for w in uow.session.execute(
            select(Watcher).order_by(Watcher.id)).scalars()]


def audit_of(svc, action) -> list[tuple]:
    with svc.uow() as uow:
        return [(e.object_type, e.object_id, e.actor_id, e.before, e.after) for e in uow.session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).scalars()]


def watcher_names(svc, kind, item_id) -> list[str]:
    with svc.uow() as uow:
        return [u.email for u in watchers.watchers_of(uow.session, kind, item_id)]


def emails_for(svc, event_type) -> list[tuple[str, str]]:
    """(recipient, subject) of the emails queued for events of ``event_type``."""
    with svc.uow() as uow:
        ids = set(uow.session.execute(select(OutboxEvent.id).where(OutboxEvent.type == event_type)).scalars())
        return sorted((e.recipient, e.subject) for e in uow.session.execute(select(OutgoingEmail)).scalars()
                      if e.dedupe_key.split(":", 1)[0] in ids)


def email_to(svc, event_type, recipient) -> OutgoingEmail:
    with svc.uow() as uow:
        ids = set(uow.session.execute(select(OutboxEvent.id).where(OutboxEvent.type == event_type)).scalars())
        found = [e for e in uow.session.execute(select(OutgoingEmail).where(OutgoingEmail.recipient == recipient))
                 .scalars() if e.dedupe_key.split(":", 1)[0] in ids]
        assert len(found) == 1, found
        uow.session.expunge(found[0])
        return found[0]


# --- following and unfollowing -------------------------------------------------------------

def test_following_stores_one_row_and_one_audit_entry_however_often_it_is_asked(svc, actors, user_ids):
    rid = create_request(svc, actors["it"])
    follow(svc, actors["it_staff"], "request", rid)
    follow(svc, actors["it_staff"], "request", rid)
    assert rows(svc) == [("request", rid, user_ids["it_staff"])]
    assert audit_of(svc, "watcher.followed") == [
        ("request", str(rid), user_ids["it_staff"], {"following": False},
         {"following": True, "user_id": user_ids["it_staff"]})]
    with svc.uow() as uow:
        assert watchers.is_following(uow.session, user_ids["it_staff"], "request", rid)
        assert not watchers.is_following(uow.session, user_ids["mfc"], "request", rid)


def test_unfollowing_removes_the_row_and_is_audited_and_unfollowing_again_is_fine(svc, actors, user_ids):
    rid = create_request(svc, actors["it"])
    follow(svc, actors["mfc_staff"], "request", rid)
    assert unfollow(svc, actors["mfc_staff"], "request", rid) is True
    assert unfollow(svc, actors["mfc_staff"], "request", rid) is False
    assert rows(svc) == []
    assert audit_of(svc, "watcher.unfollowed") == [
        ("request", str(rid), user_ids["mfc_staff"], {"following": True, "user_id": user_ids["mfc_staff"]},
         {"following": False})]


def test_someone_who_may_not_see_the_request_cannot_follow_it_and_learns_it_does_not_exist(svc, actors):
    rid = create_request(svc, actors["it"])
    before = len(audit_of(svc, "watcher.followed"))
    for who in ("econ", "finance"):
        with pytest.raises(NotFound) as refused:
            follow(svc, actors[who], "request", rid)
        assert refused.value.message == f"Запрос {rid} не найден."
        with pytest.raises(NotFound):
            unfollow(svc, actors[who], "request", rid)
        with svc.uow() as uow, pytest.raises(NotFound):
            watchers.list_watchers(uow.session, actors[who], "request", rid)
    assert rows(svc) == []
    assert len(audit_of(svc, "watcher.followed")) == before


def test_an_unknown_item_or_kind_is_not_found(svc, actors):
    with pytest.raises(NotFound):
        follow(svc, actors["admin"], "request", 999_999)
    with pytest.raises(NotFound):
        follow(svc, actors["admin"], "discussion", 1)
    assert rows(svc) == []


def test_the_watchers_listed_are_the_active_ones_who_may_still_see_the_item(svc, actors, user_ids):
    rid = create_request(svc, actors["it"])
    for who in ("it_staff", "mfc_staff", "admin"):
        follow(svc, actors[who], "request", rid)
    assert watcher_names(svc, "request", rid) == [
        "admin@kotovsk.example", "mfc.staff@kotovsk.example", "it.staff@kotovsk.example"]  # by name
    with svc.uow() as uow:
        uow.session.get(User, user_ids["admin"]).active = False
        moved = uow.session.get(User, user_ids["it_staff"])
        moved.department_id = uow.session.execute(
            select(Department.id).where(Department.code == "finance")).scalar_one()
        uow.commit()
    assert watcher_names(svc, "request", rid) == ["mfc.staff@kotovsk.example"]
    assert len(rows(svc)) == 3  # kept: harmless, and live again if the access comes back


def test_following_a_report_and_an_amendment_is_open_to_every_program_party(svc, actors, user_ids):
    rp.run_schedule(svc, date(2017, 6, 1), backlog=True)
    with svc.uow() as uow:
        report_id = uow.session.execute(select(Report.id).order_by(Report.id)).scalars().first()
        a = am.create_amendment(uow, svc, actors["it"], am.NewAmendment(
            program=PROGRAM, justification="Матрица.",
            changes={"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]}))
        uow.commit()
        amendment_id = a.id
    follow(svc, actors["mfc_staff"], "report", report_id)
    follow(svc, actors["finance"], "amendment", amendment_id)
    assert watcher_names(svc, "report", report_id) == ["mfc.staff@kotovsk.example"]
    assert watcher_names(svc, "amendment", amendment_id) == ["finance@kotovsk.example"]
    with svc.uow() as uow:
        followed = watchers.followed_by(uow.session, actors["mfc_staff"])
    assert [(f.kind, f.item_id, f.path) for f in followed] == [("report", report_id, f"/reports/{report_id}")]


# --- the watchers' emails --------------------------------------------------------------------

def test_a_watcher_gets_the_next_event_email_with_a_line_saying_why(svc, actors):
    rid = create_request(svc, actors["it"])
    follow(svc, actors["it_staff"], "request", rid)
    follow(svc, actors["mfc_staff"], "request", rid)  # an addressee: already told of a sending, not of an answer
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["mfc"], rid, "answer", "", {"text": "120 заявлений."})
        uow.commit()
    told = emails_for(svc, "information_request.answer")
    assert [r for r, _ in told] == ["it.staff@kotovsk.example", "it@kotovsk.example", "mfc.staff@kotovsk.example"]
    assert len({s for _, s in told}) == 1  # the parties' own message
    watcher = email_to(svc, "information_request.answer", "it.staff@kotovsk.example")
    assert "Вы получаете это письмо, потому что следите за запросом." in watcher.text_body
    assert f"/requests/{rid}#watchers" in watcher.text_body and f"/requests/{rid}#watchers" in watcher.html_body
    assert watcher.item == f"information_request:{rid}"
    party = email_to(svc, "information_request.answer", "it@kotovsk.example")
    assert "следите" not in party.text_body


def test_a_watcher_who_is_a_recipient_anyway_gets_one_email(svc, actors):
    rid = create_request(svc, actors["it"])
    follow(svc, actors["it"], "request", rid)  # the requester, told of an answer as a party
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["mfc"], rid, "answer", "", {"text": "Ответ."})
        uow.commit()
    told = emails_for(svc, "information_request.answer")
    assert [r for r, _ in told] == ["it@kotovsk.example"]
    assert "следите" not in email_to(svc, "information_request.answer", "it@kotovsk.example").text_body


def test_a_watcher_who_lost_sight_of_the_item_or_was_deactivated_gets_nothing(svc, actors, user_ids):
    rid = create_request(svc, actors["it"])
    follow(svc, actors["it_staff"], "request", rid)
    follow(svc, actors["admin"], "request", rid)
    with svc.uow() as uow:
        uow.session.get(User, user_ids["admin"]).active = False
        uow.session.get(User, user_ids["it_staff"]).department_id = uow.session.execute(
            select(Department.id).where(Department.code == "finance")).scalar_one()
        uow.commit()
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["mfc"], rid, "answer", "", {"text": "Ответ."})
        uow.commit()
    assert [r for r, _ in emails_for(svc, "information_request.answer")] == ["it@kotovsk.example"]


def test_a_redelivered_event_emails_the_watcher_no_second_time(svc, actors):
    rid = create_request(svc, actors["it"])
    follow(svc, actors["it_staff"], "request", rid)
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["mfc"], rid, "answer", "", {"text": "Ответ."})
        uow.commit()
    with svc.uow() as uow:  # as if the handler's mark was lost: the event is handled again
        event = uow.session.execute(select(OutboxEvent).where(
            OutboxEvent.type == "information_request.answer")).scalar_one()
        uow.session.query(HandledEvent).filter(HandledEvent.event_id == event.id).delete()
        event.completed_at = None
        uow.commit()
        event_id = event.id
    assert handle_event(svc, event_id)
    assert [r for r, _ in emails_for(svc, "information_request.answer")] == [
        "it.staff@kotovsk.example", "it@kotovsk.example"]


def test_watchers_of_an_amendment_get_its_review_email(svc, actors):
    with svc.uow() as uow:
        a = am.create_amendment(uow, svc, actors["it"], am.NewAmendment(
            program=PROGRAM, justification="Дополнительные средства.",
            changes={"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]}))
        uow.commit()
        aid = a.id
    follow(svc, actors["mfc"], "amendment", aid)
    follow(svc, actors["econ"], "amendment", aid)  # a reviewer: one email
    with svc.uow() as uow:
        am.fire_transition(uow, svc, actors["it"], aid, "submit_for_review", "", {})
        uow.commit()
    told = [r for r, _ in emails_for(svc, "amendment.submit_for_review")]
    assert told == ["econ@kotovsk.example", "finance@kotovsk.example", "mfc@kotovsk.example"]
    mail = email_to(svc, "amendment.submit_for_review", "mfc@kotovsk.example")
    assert "следите за проектом изменений" in mail.text_body and "следите за проектом изменений" in mail.html_body
    assert "следите" not in email_to(svc, "amendment.submit_for_review", "econ@kotovsk.example").text_body


def test_watchers_of_a_report_get_the_email_of_its_collection_completed(svc, actors):
    """report.collection_complete tells the executor department; the MFC's watcher hears of it too."""
    rp.run_schedule(svc, date(2017, 6, 1), backlog=True)
    with svc.uow() as uow:
        rid = next(r.id for r in uow.session.execute(select(Report)).scalars() if r.period == "2016")
    follow(svc, actors["mfc_staff"], "report", rid)
    follow(svc, actors["it_staff"], "report", rid)  # of the executor department: one email
    with svc.uow() as uow:
        rp.fire_transition(uow, svc, actors["it"], rid, "start_collection")
        uow.commit()
    with svc.uow() as uow:
        (req,) = rp.report_requests(uow.session, rid)
        req_id, keys = req.id, [f["key"] for f in req.thread.form]
    answer = {"ind_i12": "850", "act_a18_done": 1, "spent_regional": "100.5", "spent_city": "200"}
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["mfc"], req_id, "answer", data={k: answer[k] for k in keys})
        uow.commit()
    with svc.uow() as uow:
        ir.fire_transition(uow, svc, actors["it"], req_id, "accept")
        uow.commit()
    told = [r for r, _ in emails_for(svc, "report.collection_complete")]
    assert "mfc.staff@kotovsk.example" in told and told.count("it.staff@kotovsk.example") == 1
    assert "mfc@kotovsk.example" not in told  # not a watcher, not a party
    mail = email_to(svc, "report.collection_complete", "mfc.staff@kotovsk.example")
    assert "следите за отчётом" in mail.text_body and f"/reports/{rid}#watchers" in mail.html_body
    assert "следите" not in email_to(svc, "report.collection_complete", "it.staff@kotovsk.example").text_body


def test_a_watcher_gets_the_discussion_email_and_an_author_who_watches_is_not_told_of_their_own(svc, actors):
    from services import discussion

    rid = create_request(svc, actors["it"])
    follow(svc, actors["admin"], "request", rid)  # sees every item, is no party: told only as a watcher
    follow(svc, actors["mfc_staff"], "request", rid)  # writes the comment below
    with svc.uow() as uow:
        discussion.add_comment(uow, svc, actors["mfc_staff"], "request", rid, "Уточните, за какой период.")
        uow.commit()
    told = [r for r, _ in emails_for(svc, "comment.added")]
    assert "admin@kotovsk.example" in told and "it@kotovsk.example" in told
    assert "mfc.staff@kotovsk.example" not in told  # the author, though a watcher
    assert len(told) == len(set(told))
    watcher = email_to(svc, "comment.added", "admin@kotovsk.example")
    assert "Уточните, за какой период." in watcher.text_body
    assert "Вы получаете это письмо, потому что следите за запросом." in watcher.text_body
    assert "следите" not in email_to(svc, "comment.added", "it@kotovsk.example").text_body
