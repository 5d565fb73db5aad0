"""The profile's use cases, called directly: one's own password, reminder mode, feed link and tokens."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from services import people, preferences
from services.models.audit import AuditEntry
from services.models.mail import OutgoingEmail
from services.models.people import LoginAttempt
from services.models.registry import ApiToken, User
from services.models.sessions import WebSession
from services.registry import DEMO_PASSWORD
from workflows.core import Invalid, NotFound

NEW_PASSWORD = "a-new-password-2"


def _user(svc, uid) -> User:
    with svc.uow() as uow:
        user = uow.session.get(User, uid)
        uow.session.expunge(user)
        return user


def _sessions(svc, uid) -> tuple[int, int]:
    with svc.uow() as uow:
        first = people.start_session(uow, uid)
        second = people.start_session(uow, uid)
        uow.commit()
        rows = {r.token_hash: r.id for r in uow.session.execute(select(WebSession)).scalars()}
        return rows[people.hash_token(first)], rows[people.hash_token(second)]


def _revoked(svc, session_id) -> bool:
    with svc.uow() as uow:
        return uow.session.get(WebSession, session_id).revoked_at is not None


def _audit(svc, action) -> list[AuditEntry]:
    with svc.uow() as uow:
        rows = list(uow.session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars())
        uow.session.expunge_all()
        return rows


def _change(svc, actors, who, current, new, confirm=None, keep=None):
    me = dataclasses.replace(actors[who], address="192.0.2.7")
    with svc.uow() as uow:
        people.change_own_password(uow, svc, me.user_id, current, new, new if confirm is None else confirm,
                                   keep_session_id=keep, by=me)
        uow.commit()


def test_changing_ones_password_ends_the_other_sessions_and_says_so_by_email(svc, actors, user_ids):
    mine, other = _sessions(svc, user_ids["mfc"])
    _change(svc, actors, "mfc", DEMO_PASSWORD, NEW_PASSWORD, keep=mine)
    assert not _revoked(svc, mine)  # the browser that changed it stays signed in
    assert _revoked(svc, other)
    assert people.sign_in(svc, "mfc@kotovsk.example", NEW_PASSWORD, "192.0.2.7").id == user_ids["mfc"]
    with pytest.raises(people.WrongCredentials):
        people.sign_in(svc, "mfc@kotovsk.example", DEMO_PASSWORD, "192.0.2.7")
    (entry,) = [e for e in _audit(svc, "user.password_set") if e.object_id == str(user_ids["mfc"])
                and e.actor_id == user_ids["mfc"]]
    assert NEW_PASSWORD not in str(entry.after) and entry.address == "192.0.2.7"
    with svc.uow() as uow:
        (mail,) = uow.session.execute(select(OutgoingEmail).where(
            OutgoingEmail.dedupe_key.like("password_changed:%"))).scalars()
        assert mail.recipient == "mfc@kotovsk.example" and mail.subject == "Пароль изменён"
        assert "192.0.2.7" in mail.text_body and "Вход в других браузерах завершён" in mail.text_body
        assert f"{svc.settings.base_url}/me/preferences" in mail.text_body
        assert f'href="{svc.settings.base_url}/me/preferences"' in mail.html_body
        assert NEW_PASSWORD not in mail.text_body + mail.html_body


def _state(svc, uid):
    with svc.uow() as uow:
        user = uow.session.get(User, uid)
        return (user.password_hash,
                sorted((r.id, r.revoked_at) for r in uow.session.execute(select(WebSession)).scalars()),
                len(uow.session.execute(select(AuditEntry)).scalars().all()),
                len(uow.session.execute(select(OutgoingEmail)).scalars().all()))


def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failed_sign_in(svc, actors, user_ids):
    _sessions(svc, user_ids["econ"])
    before = _state(svc, user_ids["econ"])
    with pytest.raises(Invalid) as refused:
        _change(svc, actors, "econ", "not-my-password", NEW_PASSWORD)
    assert refused.value.fields == {"current_password": ["Текущий пароль указан неверно."]}
    assert _state(svc, user_ids["econ"]) == before
    with svc.uow() as uow:
        outcomes = [a.outcome for a in uow.session.execute(
            select(LoginAttempt).where(LoginAttempt.user_id == user_ids["econ"])).scalars()]
    assert outcomes.count("failed") == 1


def test_five_wrong_current_passwords_lock_the_form_like_the_sign_in(svc, actors, user_ids):
    for _ in range(people.ACCOUNT_MAX_FAILURES):
        with pytest.raises(Invalid):
            _change(svc, actors, "finance", "guess-guess-guess", NEW_PASSWORD)
    with pytest.raises(people.TooManyAttempts) as locked:
        _change(svc, actors, "finance", DEMO_PASSWORD, NEW_PASSWORD)
    assert "current_password" in locked.value.fields
    with pytest.raises(people.TooManyAttempts):  # the account is locked for sign-in too
        people.sign_in(svc, "finance@kotovsk.example", DEMO_PASSWORD, "192.0.2.9")


@pytest.mark.parametrize("new, confirm, field, reason", [
    ("short", "short", "new_password", "Не короче 10 символов."),
    (" padded-password ", " padded-password ", "new_password", "Без пробелов в начале и в конце."),
    (DEMO_PASSWORD, DEMO_PASSWORD, "new_password", "Новый пароль совпадает с текущим."),
    (NEW_PASSWORD, NEW_PASSWORD + "x", "new_password_confirm", "Пароли не совпадают."),
])
def test_a_new_password_that_does_not_fit_is_refused_at_its_field(svc, actors, user_ids, new, confirm, field,
                                                                  reason):
    before = _state(svc, user_ids["it"])
    with pytest.raises(Invalid) as refused:
        _change(svc, actors, "it", DEMO_PASSWORD, new, confirm)
    assert reason in refused.value.fields[field]
    assert _state(svc, user_ids["it"]) == before


def test_reminder_mode_change_is_audited_and_an_unknown_mode_refused_in_russian(svc, actors, user_ids):
    me = actors["mfc_staff"]
    with svc.uow() as uow:
        preferences.set_reminder_mode(uow, me.user_id, "single", by=me)
        uow.commit()
    assert _user(svc, me.user_id).reminder_mode == "single"
    (entry,) = _audit(svc, "user.reminder_mode_set")
    assert (entry.before, entry.after, entry.actor_id) == ({"reminder_mode": "digest"}, {"reminder_mode": "single"},
                                                           me.user_id)
    with svc.uow() as uow, pytest.raises(Invalid) as refused:
        preferences.set_reminder_mode(uow, me.user_id, "never", by=me)
    assert refused.value.fields["reminder_mode"] == ["Выберите: одним письмом-сводкой или отдельными письмами."]
    assert _user(svc, me.user_id).reminder_mode == "single"


def test_a_new_calendar_link_replaces_the_old_one_and_revoking_ends_it(svc, actors):
    me = actors["finance"]
    with svc.uow() as uow:
        first = preferences.issue_calendar_token(uow, me.user_id, by=me)
        uow.commit()
    with svc.uow() as uow:
        second = preferences.issue_calendar_token(uow, me.user_id, by=me)
        uow.commit()
    with svc.uow() as uow:
        with pytest.raises(NotFound):
            preferences.user_for_calendar_token(uow.session, first)
        assert preferences.user_for_calendar_token(uow.session, second).id == me.user_id
        assert preferences.profile(uow.session, me.user_id)["calendar_feed"] is True
    with svc.uow() as uow:
        preferences.revoke_calendar_token(uow, me.user_id, by=me)
        uow.commit()
    with svc.uow() as uow:
        with pytest.raises(NotFound):
            preferences.user_for_calendar_token(uow.session, second)
        assert preferences.profile(uow.session, me.user_id)["calendar_feed"] is False
    issued = _audit(svc, "calendar_feed.issued")
    assert [(e.before, e.after) for e in issued] == [({"calendar_feed": False}, {"calendar_feed": True}),
                                                    ({"calendar_feed": True}, {"calendar_feed": True})]
    assert all(first not in str(e.after) and second not in str(e.after) for e in issued)
    assert len(_audit(svc, "calendar_feed.revoked")) == 1
    assert preferences.calendar_feed_url("http://127.0.0.1:8123", "abc") == \
        "http://127.0.0.1:8123/api/v1/me/deadlines.ics?token=abc"


def test_the_profile_lists_ones_own_tokens_and_nobody_revokes_anothers(svc, actors, user_ids):
    mfc, econ = actors["mfc"], actors["econ"]
    with svc.uow() as uow:
        before_mfc = len(preferences.profile(uow.session, mfc.user_id)["tokens"])
    with svc.uow() as uow:
        row, token = people.create_own_token(uow, mfc.user_id, "Выгрузка в 1С", 30, by=mfc)
        uow.commit()
        token_id = row.id
    with svc.uow() as uow:
        mine = preferences.profile(uow.session, mfc.user_id)["tokens"]
        theirs = preferences.profile(uow.session, econ.user_id)["tokens"]
    assert len(mine) == before_mfc + 1 and mine[0]["name"] == "Выгрузка в 1С" and mine[0]["status"] == "active"
    assert all(t["user_id"] == mfc.user_id for t in mine) and all(t["user_id"] == econ.user_id for t in theirs)
    assert all("token" not in t and "token_hash" not in t for t in mine)
    assert mine[0]["prefix"] == token[:6]
    with svc.uow() as uow, pytest.raises(NotFound):
        people.revoke_token(uow, token_id, owner_id=econ.user_id, by=econ)
    with svc.uow() as uow:
        assert uow.session.get(ApiToken, token_id).revoked_at is None
    for name, days, field in (("", 30, "name"), ("x" * 201, 30, "name"), ("Годовой", 367, "expires_in_days"),
                              ("Нулевой", 0, "expires_in_days")):
        with svc.uow() as uow, pytest.raises(Invalid) as refused:
            people.create_own_token(uow, mfc.user_id, name, days, by=mfc)
        assert field in refused.value.fields
