"""Fuzzing fixtures: one seeded database per module, so examples build on real objects."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from sqlalchemy import text

from tests.conftest import _truncate_all, make_services, make_settings, seed

PROGRAM = "kotovsk-information-society"
PASSWORD = "demo-password-1"
EMAILS = {"it": "it@kotovsk.example", "mfc": "mfc@kotovsk.example", "econ": "econ@kotovsk.example",
          "admin": "admin@kotovsk.example", "finance": "finance@kotovsk.example",
          # people the hostile-input module creates for the administration and profile forms
          "spare": "spare@kotovsk.example", "spare2": "spare2@kotovsk.example", "self": "self@kotovsk.example",
          "linked": "linked@kotovsk.example"}


@pytest.fixture(scope="module")
def fuzz_services(pg_url, tmp_path_factory):
    """PostgreSQL with the reference data, demo users and a few requests in different states."""
    from services.web.app import create_app
    from tests.conftest import ApiClient

    _truncate_all(pg_url)
    services = make_services(make_settings(tmp_path_factory.mktemp("fuzz"), pg_url))
    tokens = seed(services)
    app = create_app(services=services, test_config={"TESTING": True})
    it, mfc = ApiClient(app.test_client(), tokens["it"]), ApiClient(app.test_client(), tokens["mfc"])
    steps = [[], [("mfc", "answer")], [("mfc", "answer"), ("it", "accept")], [("it", "withdraw")]]
    for n, path in enumerate(steps):
        created = it.post("/api/v1/requests", json={"program": PROGRAM, "subject": f"Образец {n}",
                                                    "addressees": ["mfc"], "send": True})
        assert created.status_code == 201, created.json
        rid = created.json["requests"][0]["id"]
        for who, event in path:
            body = {"event": event, "data": {"text": "ok"} if event == "answer" else {}}
            client = it if who == "it" else mfc
            assert client.post(f"/api/v1/requests/{rid}/transitions", json=body).status_code == 200
    yield services, tokens, app
    services.dispose()


def restore_demo_access(services) -> None:
    """Fuzzed calls may deactivate users or revoke tokens; put the demo callers back between operations."""
    with services.engine.begin() as conn:
        conn.execute(text("UPDATE users SET active = true"))
        conn.execute(text("UPDATE api_tokens SET revoked_at = NULL, expires_at = NULL"))


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


class Browser:
    """A signed-in person on the test client (CSRF on, as in production)."""

    def __init__(self, app, who: str):
        """Users seeded without a password get the demo one first (``set_demo_passwords``)."""
        self.client = app.test_client()
        token = _csrf(self.client.get("/login").get_data(as_text=True))
        r = self.client.post("/login", data={"email": EMAILS[who], "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302, (who, r.status_code)
        self.token = _csrf(self.client.get("/").get_data(as_text=True))

    def post_raw(self, url: str, pairs: list[tuple[str, str]]):
        """Pairs url-encoded by hand, so a lone surrogate goes as the bytes a broken client sends."""
        def enc(text: str) -> bytes:
            # A lone surrogate goes as its raw bytes (not %-escaped: werkzeug would keep "%ED%A0%80" as
            # harmless text), so the body is not UTF-8, as a broken client's is.
            return b"".join(part.encode("utf-8", "surrogatepass") if "\ud800" <= part <= "\udfff"
                            else quote(part.encode("utf-8")).encode() for part in re.split("([\ud800-\udfff])", text))

        encoded = b"&".join(enc(k) + b"=" + enc(v) for k, v in pairs + [("csrf_token", self.token)])
        return self.client.post(url, data=encoded, content_type="application/x-www-form-urlencoded")

    def flashes(self) -> list:
        with self.client.session_transaction() as sess:
            return list(sess.pop("_flashes", []))


def set_demo_passwords(services) -> None:
    from services.models.registry import User
    from services.people import demo_password_hash, store_password_hash

    with services.uow() as uow:
        for user in uow.session.query(User).filter(User.password_hash.is_(None)):
            store_password_hash(uow, user, demo_password_hash(PASSWORD))
        uow.commit()
