"""The deadline note of an information request says what is true in each state.

Dates by hand from the 2025 production calendar (see test_request_use_cases): sent Wed
30.04.2025 with 5 working days falls due Tue 13.05.2025 (05, 06, 07, 12, 13 May); an answer
on Tue 06.05 leaves 3 working days (07, 12, 13 May); a clarification asked on Wed 07.05
counts them again from the next day: 12, 13, 14 May, so the new due date is 14.05.2025.
"""
from __future__ import annotations

from datetime import datetime, timezone

from services import information_requests as ir
from services.models.requests import InformationRequest
from tests.service.test_request_use_cases import SENT, at, create, fire

ANSWER = {"text": "За квартал 120 заявлений."}


def note(svc, rid) -> str | None:
    with svc.uow() as uow:
        deadline = ir.deadline_of(svc, uow.session.get(InformationRequest, rid))
        return deadline.explanation if deadline else None


def assert_no_codes(text: str) -> None:
    assert "Europe/" not in text and "UTC" not in text
    assert "после возобновления" not in text  # the old text, true in no state


def test_draft_has_no_deadline_note(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"], send=False)
    assert note(svc, rid) is None


def test_sent_note_names_the_due_date_and_the_zone_in_words(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    text = note(svc, rid)
    assert "Отправлено 30.04.2025 (дата по московскому времени)." in text
    assert text.endswith("Итоговый срок: 13.05.2025, до 23:59:59 (время московское).")
    assert "уточн" not in text and "Ответ" not in text
    assert_no_codes(text)


def test_answered_note_says_the_answer_is_under_review_not_that_a_clarification_was_asked(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    clock(at(2025, 5, 6))
    fire(svc, actors["mfc_staff"], rid, "answer", "", ANSWER)
    text = note(svc, rid)
    assert "запрошено уточнение" not in text
    assert ("Ответ дан 06.05.2025: срок приостановлен на время рассмотрения ответа, день ответа засчитан, "
            "до срока 13.05.2025 оставалось 3 рабочих дня.") in text
    assert text.endswith(
        "Ответ на рассмотрении у запросившего подразделения, срок приостановлен. Если запросившее "
        "подразделение попросит уточнить ответ, на уточнение останется 3 рабочих дня; дата 13.05.2025 — "
        "последний рассчитанный срок, справочно.")
    assert_no_codes(text)


def test_clarification_requested_note_names_the_clarification_and_the_new_due_date(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    clock(at(2025, 5, 6))
    fire(svc, actors["mfc_staff"], rid, "answer", "", ANSWER)
    clock(at(2025, 5, 7))
    fire(svc, actors["it"], rid, "request_clarification", "Уточните период")
    text = note(svc, rid)
    assert ("Возобновление 07.05.2025 (запрошено уточнение): оставшиеся 3 рабочих дня отсчитаны со "
            "следующего дня, новый срок — 14.05.2025.") in text
    assert text.endswith("Срок ответа на уточнение: 14.05.2025, до 23:59:59 (время московское).")
    assert_no_codes(text)


def test_answer_to_the_clarification_is_under_review_again(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    clock(at(2025, 5, 6))
    fire(svc, actors["mfc_staff"], rid, "answer", "", ANSWER)
    clock(at(2025, 5, 7))
    fire(svc, actors["it"], rid, "request_clarification", "Уточните период")
    clock(at(2025, 5, 12))  # Mon: 12 used, 13 and 14 May left
    fire(svc, actors["mfc_staff"], rid, "answer", "", ANSWER)
    text = note(svc, rid)
    assert "Ответ дан 12.05.2025" in text
    assert "на уточнение останется 2 рабочих дня; дата 14.05.2025" in text


def test_accepted_note_says_the_request_is_closed_and_promises_no_days(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    clock(at(2025, 5, 6))
    fire(svc, actors["mfc_staff"], rid, "answer", "", ANSWER)
    clock(at(2025, 5, 7))
    fire(svc, actors["it"], rid, "accept")
    text = note(svc, rid)
    assert text.endswith("Ответ принят 07.05.2025: запрос закрыт, срок больше не отсчитывается.")
    assert "останется" not in text and "справочно" not in text
    assert_no_codes(text)


def test_withdrawn_note_says_the_request_was_withdrawn_and_gives_no_due_date(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    clock(at(2025, 5, 5))
    fire(svc, actors["it"], rid, "withdraw", "Не нужно")
    text = note(svc, rid)
    assert text.endswith("Запрос отозван 05.05.2025: срок больше не отсчитывается.")
    assert "Итоговый срок" not in text
    assert_no_codes(text)


def test_an_answer_after_the_due_date_does_not_claim_to_pause_the_clock(svc, actors, clock):
    clock(SENT)
    [rid] = create(svc, actors["it"])
    clock(datetime(2025, 5, 14, 7, 0, tzinfo=timezone.utc))
    fire(svc, actors["mfc_staff"], rid, "answer", "", ANSWER)
    text = note(svc, rid)
    assert "Ответ дан 14.05.2025, после истечения срока (13.05.2025): срок не приостанавливался." in text
    assert "запрошено уточнение" not in text
    assert text.endswith("Ответ на рассмотрении у запросившего подразделения; срок истёк 13.05.2025.")
