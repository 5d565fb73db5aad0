"""A browser's error is a page in Russian; the API's stays the JSON envelope; a 500 commits nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from services.models.registry import Department
from services.web.app import create_app


@pytest.fixture
def app(services):
    app = create_app(services=services, test_config={"TESTING": True})

    def boom():
        with services.uow() as uow:  # a write the fault must not let through
            uow.session.add(Department(code="half-done", name="Наполовину"))
            uow.session.flush()
            raise RuntimeError("secret detail of the fault")

    def db_down():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    for prefix in ("", "/api/v1"):
        app.add_url_rule(f"{prefix}/test-boom", f"boom{prefix}", boom, methods=["GET", "POST"])
        app.add_url_rule(f"{prefix}/test-db-down", f"db{prefix}", db_down)
    return app


def _is_page(r, status: int, words: str) -> None:
    body = r.get_data(as_text=True)
    assert r.status_code == status
    assert r.mimetype == "text/html", (r.mimetype, body[:200])
    assert words in body and "<!doctype html>" in body and 'href="/"' in body
    assert "Traceback" not in body and "secret detail" not in body


def _is_envelope(r, status: int) -> None:
    assert r.status_code == status
    assert r.mimetype == "application/json"
    assert isinstance(r.get_json()["error"]["message"], str)


def test_an_unknown_address_is_a_page_for_people_and_json_for_programs(app):
    client = app.test_client()
    _is_page(client.get("/no-such-page"), 404, "Страница не найдена")
    _is_page(client.get("/ui/static/webui/no-such.css"), 404, "Страница не найдена")
    for url in ("/api/v1/no-such", "/openapi.json/x", "/metrics/x"):
        _is_envelope(client.get(url), 404)


def test_a_refused_method_is_a_page_for_people(app):
    client = app.test_client()
    _is_page(client.put("/login"), 405, "Действие недоступно")
    _is_envelope(client.put("/api/v1/calendar/working-days"), 405)


def test_a_fault_is_a_500_page_without_the_traceback_and_commits_nothing(app, services):
    client = app.test_client()
    _is_page(client.get("/test-boom"), 500, "Внутренняя ошибка")
    r = client.post("/api/v1/test-boom")
    _is_envelope(r, 500)
    assert "secret detail" not in r.get_data(as_text=True)
    with services.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Department)
                                  .where(Department.code == "half-done")) == 0


def test_a_database_outage_is_a_503_page_for_people(app):
    client = app.test_client()
    _is_page(client.get("/test-db-down"), 503, "временно недоступ")
    _is_envelope(client.get("/api/v1/test-db-down"), 503)
    assert client.get("/api/v1/test-db-down").headers["Retry-After"] == "5"
