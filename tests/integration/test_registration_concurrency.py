"""Registration numbers under concurrency, on the real PostgreSQL server: none repeated, none skipped."""
from __future__ import annotations

import re
import threading

from sqlalchemy import select

from services import information_requests as ir
from services.models.registration import RegistrationCounter
from services.models.registry import User
from services.models.requests import InformationRequest, RequestThread
from services.registry import actor_for, seed_demo_users, seed_reference
from tests.conftest import _truncate_all, make_services, make_settings

SLUG = "kotovsk-information-society"
SENDS = 50


def _services(tmp_path, pg_url):
    _truncate_all(pg_url)
    # No event handlers run: the test is about the send transactions alone.
    svc = make_services(make_settings(tmp_path, pg_url), publisher=lambda ids: None)
    with svc.uow() as uow:
        seed_reference(uow)
        seed_demo_users(uow)
        uow.commit()
    return svc


def _it(svc):
    with svc.uow() as uow:
        return actor_for(uow.session.execute(select(User).where(User.email == "it@kotovsk.example"))
                         .unique().scalar_one())


def _drafts(svc, actor, n, addressees=("mfc",)) -> list[int]:
    ids = []
    with svc.uow() as uow:
        for _ in range(n):
            _, copies = ir.create_request(uow, svc, actor, ir.NewRequest(
                program=SLUG, subject="Сведения", body="", addressees=list(addressees), send=False))
            ids += [c.id for c in copies]
        uow.commit()
    return ids


def _send_all_at_once(svc, actor, ids) -> list[BaseException]:
    barrier = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def send(rid):
        try:
            barrier.wait(timeout=60)
            with svc.uow() as uow:  # each send its own unit of work, as each web request has
                ir.fire_transition(uow, svc, actor, rid, "send")
                uow.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_fifty_concurrent_sends_get_fifty_consecutive_numbers(tmp_path, pg_url):
    svc = _services(tmp_path, pg_url)
    try:
        it = _it(svc)
        ids = _drafts(svc, it, SENDS)
        assert _send_all_at_once(svc, it, ids) == []
        with svc.uow() as uow:
            threads = uow.session.execute(select(RequestThread)).unique().scalars().all()
            numbers = [t.registration_number for t in threads]
            copies = [c.registration_number for c in uow.session.execute(
                select(InformationRequest)).unique().scalars()]
            counter = [(c.department, c.last_seq) for c in uow.session.execute(select(RegistrationCounter)).scalars()]
        assert all(n is not None for n in numbers)
        parsed = [re.fullmatch(r"ИТ-(\d{4})/(\d{5})", n) for n in numbers]
        assert all(parsed), numbers
        assert len({m.group(1) for m in parsed}) == 1
        assert sorted(int(m.group(2)) for m in parsed) == list(range(1, SENDS + 1))  # distinct, no gap
        assert sorted(copies) == sorted(f"{n}/1" for n in numbers)
        assert counter == [("it", SENDS)]
    finally:
        svc.dispose()


def test_copies_of_one_thread_sent_at_once_share_one_thread_number(tmp_path, pg_url):
    svc = _services(tmp_path, pg_url)
    try:
        it = _it(svc)
        ids = _drafts(svc, it, 1, addressees=("mfc", "finance", "economic-policy"))
        assert _send_all_at_once(svc, it, ids) == []
        with svc.uow() as uow:
            [thread] = uow.session.execute(select(RequestThread)).unique().scalars().all()
            copies = {c.id: c.registration_number for c in uow.session.execute(
                select(InformationRequest)).unique().scalars()}
            [counter] = uow.session.execute(select(RegistrationCounter.last_seq)).scalars().all()
            number = thread.registration_number
        assert re.fullmatch(r"ИТ-\d{4}/00001", number)
        assert [copies[i] for i in ids] == [f"{number}/{n}" for n in (1, 2, 3)]
        assert counter == 1
    finally:
        svc.dispose()
