"""Forwarded headers are believed only from as many proxies as INTERDEPT_TRUSTED_PROXIES says.

With the default 0 a client-sent X-Forwarded-For is ignored: the audit record and the sign-in
throttle see the socket's address. Behind one trusted proxy they see the address that proxy adds.
"""
from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy import select

from services.models.audit import AuditEntry
from services.models.people import LoginAttempt
from services.web.app import create_app
from tests.conftest import seed

FORGED = "203.0.113.99"
SOCKET = "127.0.0.1"  # what the Flask test client reports as REMOTE_ADDR


def _app(services, trusted: int):
    services.settings = dataclasses.replace(services.settings, trusted_proxies=trusted)
    app = create_app(services=services)
    app.config["TESTING"] = True
    return app


def _audited_address(services, client, token) -> str | None:
    r = client.post("/api/v1/me/calendar-token", headers={"Authorization": f"Bearer {token}",
                                                          "X-Forwarded-For": FORGED})
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    with services.uow() as uow:
        entry = uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
        return entry.address


def _failed_sign_in_address(services, client) -> str | None:
    page = client.get("/login", headers={"X-Forwarded-For": FORGED}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"email": "nobody@kotovsk.example", "password": "wrong-password-x",
                                    "csrf_token": csrf}, headers={"X-Forwarded-For": FORGED})
    assert r.status_code < 500
    with services.uow() as uow:
        return uow.session.scalars(select(LoginAttempt.address).order_by(LoginAttempt.id.desc()).limit(1)).one()


@pytest.mark.parametrize("trusted, expected", [(0, SOCKET), (1, FORGED)])
def test_audit_address_believes_forwarded_headers_only_from_trusted_proxies(services, trusted, expected):
    tokens = seed(services)
    client = _app(services, trusted).test_client()
    assert _audited_address(services, client, tokens["it_staff"]) == expected


@pytest.mark.parametrize("trusted, expected", [(0, SOCKET), (1, FORGED)])
def test_sign_in_throttle_keys_on_the_address_proxyfix_yields(services, trusted, expected):
    seed(services)
    client = _app(services, trusted).test_client()
    assert _failed_sign_in_address(services, client) == expected


def test_the_setting_is_read_and_defaults_to_none_trusted():
    from config.settings import Settings

    assert Settings.from_env({}).trusted_proxies == 0
    assert Settings.from_env({"INTERDEPT_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
