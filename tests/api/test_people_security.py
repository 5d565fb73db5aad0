"""Sign-in throttling, CSRF, deactivation, API tokens, admin audit, signed decisions, no secrets in logs."""
from __future__ import annotations

import logging
import os
import stat
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from services.models.audit import AuditEntry
from services.models.base import utcnow
from services.models.people import Signature
from services.models.registry import ApiToken, User
from services.people import TooManyAttempts, WrongCredentials, authenticate_password
from services.registry import DEMO_PASSWORD

IT = "it@kotovsk.example"


def auth(services, email, password, address="10.0.0.1", now=None):
    with services.uow() as uow:
        return authenticate_password(uow, email, password, address, now=now)


# --- brute force ---------------------------------------------------------------------------

def test_demo_password_signs_in_and_wrong_ones_share_one_message(services, tokens):
    assert auth(services, IT, DEMO_PASSWORD).email == IT
    with pytest.raises(WrongCredentials) as wrong:
        auth(services, IT, "wrong-password-x")
    with pytest.raises(WrongCredentials) as unknown:
        auth(services, "nobody@kotovsk.example", "wrong-password-x")
    assert wrong.value.message == unknown.value.message
    assert wrong.value.status == 401


def test_account_locked_after_five_failures_for_fifteen_minutes(services, tokens):
    start = utcnow()
    for i in range(5):
        with pytest.raises(WrongCredentials):
            auth(services, IT, "wrong-password-x", address=f"10.0.1.{i}", now=start + timedelta(seconds=i))
    # locked: even the right password is refused, from any address
    with pytest.raises(TooManyAttempts) as locked:
        auth(services, IT, DEMO_PASSWORD, address="10.9.9.9", now=start + timedelta(minutes=1))
    assert locked.value.status == 429
    assert 13 * 60 <= locked.value.details["retry_after"] <= 15 * 60
    assert "заблокирована" in locked.value.message
    # another account is not affected
    assert auth(services, "mfc@kotovsk.example", DEMO_PASSWORD, now=start + timedelta(minutes=1)).id
    # the lock ends 15 minutes after the fifth failure
    assert auth(services, IT, DEMO_PASSWORD, now=start + timedelta(minutes=15, seconds=5)).email == IT


def test_address_throttled_after_twenty_failures(services, tokens):
    start = utcnow()
    for i in range(20):
        with pytest.raises(WrongCredentials):
            auth(services, f"guess{i}@kotovsk.example", "wrong-password-x", address="10.6.6.6",
                 now=start + timedelta(seconds=i))
    with pytest.raises(TooManyAttempts) as throttled:
        auth(services, IT, DEMO_PASSWORD, address="10.6.6.6", now=start + timedelta(seconds=30))
    assert "адреса" in throttled.value.message
    assert auth(services, IT, DEMO_PASSWORD, address="10.7.7.7", now=start + timedelta(seconds=30)).email == IT


def test_lockout_over_http_says_retry_after(app, tokens):
    @app.route("/_test_login", methods=["POST"])
    def _test_login():
        from flask import request

        from services.web.context import current_services

        with current_services().uow() as uow:
            user = authenticate_password(uow, request.form["email"], request.form["password"], request.remote_addr)
        return {"id": user.id}

    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    for _ in range(5):
        assert client.post("/_test_login", data={"email": IT, "password": "nope-nope-nope"}).status_code == 401
    r = client.post("/_test_login", data={"email": IT, "password": DEMO_PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert r.get_json()["error"]["code"] == "too_many_attempts"


# --- CSRF, cookies, headers ----------------------------------------------------------------

def test_form_post_without_csrf_token_is_refused(app, tokens):
    from flask import render_template_string

    @app.route("/_test_form", methods=["GET", "POST"])
    def _test_form():
        return render_template_string("{{ csrf_token() }}")

    client = app.test_client()
    r = client.post("/_test_form", data={"x": "1"})
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "csrf_failed"
    token = client.get("/_test_form").get_data(as_text=True)
    assert client.post("/_test_form", data={"x": "1", "csrf_token": token}).status_code == 200
    assert client.post("/_test_form", data={"x": "1", "csrf_token": token + "x"}).status_code == 400
    # the JSON API uses bearer tokens and is exempt
    r = client.post("/api/v1/me/tokens", json={"name": "x"}, headers={"Authorization": f"Bearer {tokens['it']}"})
    assert r.status_code == 201


def test_session_cookie_flags_and_security_headers(app, tokens):
    from services.web.session import login_user

    @app.route("/_test_signin")
    def _test_signin():
        from services.people import sign_in

        login_user(sign_in(app.extensions["interdept"], IT, DEMO_PASSWORD, "127.0.0.1"))
        return "ok"

    client = app.test_client()
    r = client.get("/_test_signin")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
    r = client.get("/healthz")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"]
    assert app.config["MAX_CONTENT_LENGTH"] > 0


def test_secure_cookie_when_served_over_https(tmp_path, monkeypatch):
    from services.web.app import create_app
    from tests.conftest import make_services, make_settings

    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    svc = make_services(make_settings(tmp_path, INTERDEPT_BASE_URL="https://interdept.example"))
    try:
        assert create_app(services=svc).config["SESSION_COOKIE_SECURE"] is True
        monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")
        assert create_app(services=svc).config["SESSION_COOKIE_SECURE"] is False
    finally:
        svc.dispose()
    key = (tmp_path / "var" / "secret_key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


# --- deactivation ---------------------------------------------------------------------------

def test_deactivated_user_is_refused_at_once_token_and_session(app, services, tokens):
    from services.web.session import current_web_user, login_user, web_login_required

    @app.route("/_test_signin_mfc")
    def _test_signin_mfc():
        from services.people import sign_in

        login_user(sign_in(services, "mfc.staff@kotovsk.example", DEMO_PASSWORD, "127.0.0.1"))
        return "ok"

    @app.route("/_test_page")
    @web_login_required
    def _test_page():
        return current_web_user().email

    web = app.test_client()
    web.get("/_test_signin_mfc")
    assert web.get("/_test_page").get_data(as_text=True) == "mfc.staff@kotovsk.example"
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {tokens['mfc_staff']}"}
    assert api.get("/api/v1/me/preferences", headers=bearer).status_code == 200
    with services.uow() as uow:
        user_id = uow.session.execute(select(User.id).where(User.email == "mfc.staff@kotovsk.example")).scalar_one()
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    r = api.post(f"/api/v1/admin/users/{user_id}/deactivate", headers=admin)
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert api.get("/api/v1/me/preferences", headers=bearer).status_code == 401
    r = web.get("/_test_page?x=1")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/_test_page")
    # and cannot sign in again
    from services.people import AccountDisabled

    with pytest.raises(AccountDisabled):
        auth(services, "mfc.staff@kotovsk.example", DEMO_PASSWORD)
    # reactivated: the same token works again
    assert api.post(f"/api/v1/admin/users/{user_id}/reactivate", headers=admin).status_code == 200
    assert api.get("/api/v1/me/preferences", headers=bearer).status_code == 200


def test_password_reset_ends_other_sessions(app, services, tokens):
    from services.web.session import current_web_user, login_user, web_login_required

    @app.route("/_test_signin_it")
    def _test_signin_it():
        from services.people import sign_in

        login_user(sign_in(services, IT, DEMO_PASSWORD, "127.0.0.1"))
        return "ok"

    @app.route("/_test_page2")
    @web_login_required
    def _test_page2():
        return current_web_user().email

    web = app.test_client()
    web.get("/_test_signin_it")
    assert web.get("/_test_page2").status_code == 200
    with services.uow() as uow:
        user_id = uow.session.execute(select(User.id).where(User.email == IT)).scalar_one()
    r = app.test_client().post(f"/api/v1/admin/users/{user_id}/password", json={},
                               headers={"Authorization": f"Bearer {tokens['admin']}"})
    new_password = r.get_json()["password"]
    assert r.status_code == 200 and len(new_password) >= 10
    assert web.get("/_test_page2").status_code == 302
    assert auth(services, IT, new_password).email == IT


# --- API tokens -----------------------------------------------------------------------------

def test_tokens_named_expiring_revocable_shown_once(app, services, tokens):
    client = app.test_client()
    me = {"Authorization": f"Bearer {tokens['it']}"}
    r = client.post("/api/v1/me/tokens", json={"name": "выгрузка", "expires_in_days": 30}, headers=me)
    assert r.status_code == 201
    created = r.get_json()
    token = created["token"]
    assert created["status"] == "active" and created["prefix"] == token[:6]
    listed = client.get("/api/v1/me/tokens", headers=me).get_json()
    assert token not in str(listed) and any(t["id"] == created["id"] for t in listed["items"])
    assert listed["total"] == len(listed["items"]) and (listed["page"], listed["page_size"]) == (1, 50)
    with services.uow() as uow:  # stored only as a hash
        row = uow.session.get(ApiToken, created["id"])
        assert row.token_hash != token and token not in row.token_hash
    mine = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me/preferences", headers=mine).status_code == 200
    # someone else cannot see or revoke it
    other = {"Authorization": f"Bearer {tokens['mfc']}"}
    assert client.delete(f"/api/v1/me/tokens/{created['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/me/tokens/{created['id']}", headers=me).status_code == 204
    assert client.get("/api/v1/me/preferences", headers=mine).status_code == 401
    # expiry
    r = client.post("/api/v1/me/tokens", json={"name": "short", "expires_in_days": 1}, headers=me)
    with services.uow() as uow:
        uow.session.execute(update(ApiToken).where(ApiToken.id == r.get_json()["id"])
                            .values(expires_at=utcnow() - timedelta(seconds=1)))
        uow.commit()
    assert client.get("/api/v1/me/preferences",
                      headers={"Authorization": f"Bearer {r.get_json()['token']}"}).status_code == 401
    assert client.post("/api/v1/me/tokens", json={"name": "x", "expires_in_days": 5000},
                       headers=me).status_code == 422


def test_admin_actions_are_audited(app, services, tokens):
    from services.audit_trail import seal, verify

    client = app.test_client()
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    r = client.post("/api/v1/admin/departments", json={"code": "culture", "name": "Управление культуры"},
                    headers=admin)
    assert r.status_code == 201
    r = client.post("/api/v1/admin/users", headers=admin, json={
        "email": "new@kotovsk.example", "department": "culture", "roles": ["executor"], "password": "long-password-1"})
    assert r.status_code == 201, r.get_json()
    uid = r.get_json()["id"]
    assert client.patch(f"/api/v1/admin/users/{uid}", headers=admin,
                        json={"roles": ["executor", "finance"], "is_head": True}).status_code == 200
    assert client.post(f"/api/v1/admin/users/{uid}/deactivate", headers=admin).status_code == 200
    with services.uow() as uow:
        admin_id = uow.session.execute(select(User.id).where(User.email == "admin@kotovsk.example")).scalar_one()
    tokens_page = client.get("/api/v1/admin/tokens", headers=admin).get_json()["items"]
    victim = next(t for t in tokens_page if t["user_id"] != admin_id)
    assert client.delete(f"/api/v1/admin/tokens/{victim['id']}", headers=admin).status_code == 204
    # an admin cannot lock themselves out
    assert client.post(f"/api/v1/admin/users/{admin_id}/deactivate", headers=admin).status_code == 422
    with services.uow() as uow:
        rows = uow.session.execute(select(AuditEntry).where(AuditEntry.actor_id == admin_id)
                                   .order_by(AuditEntry.id)).scalars().all()
        actions = [e.action for e in rows]
        uow.session.expunge_all()  # the rows are read below, after this session ends
    assert seal(services).sealed > 0 and verify(services).ok
    for action in ("department.created", "user.created", "user.password_set", "user.updated",
                   "user.deactivated", "token.revoked"):
        assert action in actions, actions
    updated = next(e for e in rows if e.action == "user.updated")
    assert updated.before == {"roles": ["executor"], "is_head": False}
    assert updated.after == {"roles": ["executor", "finance"], "is_head": True}
    assert all(e.actor_role == "admin" and e.address for e in rows)
    assert "long-password-1" not in str([(e.before, e.after) for e in rows])


# --- signed decisions ----------------------------------------------------------------------

def test_signature_verifies_and_a_changed_document_fails(app, services, tokens):
    from services.signing import private_key_path, sign_decision, verify_document, verify_signature

    content = {"report": 7, "period": "2016", "total": "1234.50", "decision": "Принять"}
    with services.uow() as uow:
        sig = sign_decision(uow, services, "economic-policy", "report", 7, "accept", content)
        uow.commit()
        sig_id = sig.id
    # the key was made on first use: private file 0600, public key published
    path = private_key_path(services, "economic-policy")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    client = app.test_client()
    keys = client.get("/api/v1/keys").get_json()["items"]
    assert [k["department"] for k in keys] == ["economic-policy"]
    assert "PRIVATE" not in str(keys)
    got = client.get("/api/v1/signatures/report/7").get_json()["signatures"]
    assert len(got) == 1 and got[0]["valid"] is True
    s = got[0]
    # anyone can check with the published key alone
    assert verify_document(s["algorithm"], keys[0]["public_key"], s["document"], s["signature"])
    assert '"total":"1234.50"' in s["document"]
    changed = s["document"].replace("1234.50", "9234.50")
    assert not verify_document(s["algorithm"], keys[0]["public_key"], changed, s["signature"])
    with services.uow() as uow:
        row = uow.session.get(Signature, sig_id)
        assert verify_signature(uow.session, row)
        assert not verify_signature(uow.session, row, document=changed)
        # tampering with the stored document is seen by the public endpoint too
        uow.session.execute(update(Signature).where(Signature.id == sig_id).values(document=changed))
        uow.commit()
    assert client.get("/api/v1/signatures/report/7").get_json()["signatures"][0]["valid"] is False
    assert client.get("/api/v1/signatures/report/8").status_code == 404
    # the same key is used next time (no new key per decision)
    with services.uow() as uow:
        sign_decision(uow, services, "economic-policy", "report", 8, "accept", {"x": 1})
        uow.commit()
    assert client.get("/api/v1/keys").get_json()["total"] == 1


def test_key_rotation_keeps_old_signatures_verifiable(services, tokens):
    from services.signing import generate_key, published_keys, sign_decision, verify_signature
    from workflows.core import Invalid

    with services.uow() as uow:
        first = generate_key(uow, services, "it")
        uow.commit()
    with services.uow() as uow, pytest.raises(Invalid):
        generate_key(uow, services, "it")
    with services.uow() as uow:
        old = sign_decision(uow, services, "it", "amendment", 1, "adopt", {"n": 1})
        uow.commit()
    with services.uow() as uow:
        second = generate_key(uow, services, "it", rotate=True)
        uow.commit()
    assert second.key_id != first.key_id
    with services.uow() as uow:
        keys = published_keys(uow.session)
        assert [(k.key_id, k.active) for k in keys] == [(first.key_id, False), (second.key_id, True)]
        assert verify_signature(uow.session, uow.session.get(Signature, old.id))


def test_keys_cli(services, tokens, monkeypatch):
    from click.testing import CliRunner

    from services.cli import main

    monkeypatch.setenv("INTERDEPT_VAR_DIR", str(services.settings.var_dir))
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)
    runner = CliRunner()
    r = runner.invoke(main, ["keys", "generate", "--department", "finance"])
    assert r.exit_code == 0, r.output
    assert "BEGIN PUBLIC KEY" in r.output
    r = runner.invoke(main, ["keys", "list"])
    assert "finance" in r.output and "private key present" in r.output
    assert runner.invoke(main, ["keys", "generate", "--department", "finance"]).exit_code == 2
    r = runner.invoke(main, ["users", "set-password", "--email", IT, "--password", "another-password-2"])
    assert r.exit_code == 0, r.output
    assert auth(services, IT, "another-password-2").email == IT


# --- no secrets in logs ------------------------------------------------------------------

def test_no_token_in_any_log_line(app, services, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    me = {"Authorization": f"Bearer {tokens['it']}"}
    secrets_seen = [tokens["it"]]
    feed = client.post("/api/v1/me/calendar-token", headers=me).get_json()
    secrets_seen.append(feed["token"])
    created = client.post("/api/v1/me/tokens", json={"name": "log"}, headers=me).get_json()
    secrets_seen.append(created["token"])
    assert client.get(f"/api/v1/me/deadlines.ics?token={feed['token']}").status_code == 200
    client.get("/api/v1/me/deadlines.ics?token=wrong-token-value")
    client.get("/api/v1/programs", headers={"Authorization": "Bearer wrong-token-value"})
    client.get("/api/v1/requests", headers={"Authorization": f"Bearer {created['token']}"})
    secrets_seen.append("wrong-token-value")
    # what a request logger would print (werkzeug and gunicorn both log the request line)
    logging.getLogger("werkzeug").info('127.0.0.1 - - "GET /api/v1/me/deadlines.ics?token=%s HTTP/1.1" 200 -',
                                       feed["token"])
    logging.getLogger("gunicorn.access").info("%(r)s", {"r": f"GET /x?a=1&token={feed['token']} HTTP/1.1"})
    logging.getLogger("services.test").warning("header was Authorization: Bearer %s", tokens["it"])
    lines = [r.getMessage() for r in caplog.records] + caplog.text.splitlines()
    assert len(lines) >= 3
    for secret in secrets_seen:
        assert not [line for line in lines if secret in line], secret


def test_gunicorn_access_log_masks_the_feed_token():
    from gunicorn.config import Config

    from services.web.security import RedactingGunicornLogger

    logger = RedactingGunicornLogger(Config())
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/api/v1/me/deadlines.ics?token=SeCrEt123&x=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/api/v1/me/deadlines.ics",
               "QUERY_STRING": "token=SeCrEt123&x=1", "REMOTE_ADDR": "127.0.0.1"}
    req = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer AnotherSecret99"), ("HOST", "x")])
    resp = SimpleNamespace(status="200 OK", headers=[], sent=10)
    atoms = logger.atoms(resp, req, environ, timedelta(seconds=0))
    line = logger.cfg.access_log_format % atoms
    assert "SeCrEt123" not in str(atoms) and "AnotherSecret99" not in str(atoms)
    assert "token=***" in line
