"""Shared fixtures: real PostgreSQL and Redis when present (required in CI), SQLite otherwise.

INTERDEPT_REQUIRE_SERVICES=1 (set by `make test` in CI) turns a missing server
into a failure; without it such tests skip with a loud reason.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from config.settings import Settings

REQUIRE = os.environ.get("INTERDEPT_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def unavailable(what: str, why: object):
    message = f"{what} is not reachable: {why}"
    if REQUIRE:
        pytest.fail(f"{message} (servers are required: INTERDEPT_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(f"!!! SKIPPED, NO SERVER: {message}")


@pytest.fixture(scope="session")
def pg_url():
    """A fresh database on the real server for this test session, dropped at the end."""
    name = f"interdept_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        unavailable("PostgreSQL", exc)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    from services.adapters.migrate import upgrade

    upgrade(Settings.from_env({"DATABASE_URL": url, "INTERDEPT_VAR_DIR": "/tmp/interdept-migrate"}))
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        unavailable("Redis", exc)
    return REDIS_URL


def _truncate_all(url: str) -> None:
    from services.models.all import Base

    from sqlalchemy import inspect

    engine = create_engine(url)
    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name in existing)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_settings(tmp_path: Path, database_url: str | None = None, **env) -> Settings:
    values = {"INTERDEPT_VAR_DIR": str(tmp_path / "var")}
    if database_url:
        values["DATABASE_URL"] = database_url
    values.update(env)
    return Settings.from_env(values)


def make_services(settings: Settings, **kwargs):
    from services.bootstrap import bootstrap
    from services.adapters.migrate import upgrade

    if settings.is_sqlite:
        upgrade(settings)
    kwargs.setdefault("eager", True)
    return bootstrap(settings, **kwargs)


@pytest.fixture
def sqlite_services(tmp_path):
    services = make_services(make_settings(tmp_path))
    yield services
    services.dispose()


@pytest.fixture
def pg_services(tmp_path, pg_url):
    _truncate_all(pg_url)
    services = make_services(make_settings(tmp_path, pg_url))
    yield services
    services.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_services(request, tmp_path):
    """Data-layer tests run on both the embedded default and the real server."""
    if request.param == "sqlite":
        services = make_services(make_settings(tmp_path))
    else:
        url = request.getfixturevalue("pg_url")
        _truncate_all(url)
        services = make_services(make_settings(tmp_path, url))
    yield services
    services.dispose()


@pytest.fixture
def services(request, tmp_path):
    """The default for service and API tests: PostgreSQL when required or reachable, else SQLite."""
    backend = os.environ.get("INTERDEPT_TEST_BACKEND")
    if backend is None:
        backend = "postgresql" if REQUIRE or _pg_reachable() else "sqlite"
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
        _truncate_all(url)
        svc = make_services(make_settings(tmp_path, url))
    else:
        svc = make_services(make_settings(tmp_path))
    yield svc
    svc.dispose()


_PG_REACHABLE: bool | None = None


def _pg_reachable() -> bool:
    global _PG_REACHABLE
    if _PG_REACHABLE is None:
        try:
            engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
            with engine.connect():
                pass
            engine.dispose()
            _PG_REACHABLE = True
        except Exception:  # noqa: BLE001
            _PG_REACHABLE = False
    return _PG_REACHABLE


def seed(services) -> dict[str, str]:
    """Seed the reference data and demo users; returns tokens by short name."""
    from services.registry import seed_demo_users, seed_reference

    with services.uow() as uow:
        seed_reference(uow)
        issued = seed_demo_users(uow)
        uow.commit()
    return {email.split("@")[0].replace(".", "_"): token for email, token in issued}


@pytest.fixture
def tokens(services):
    return seed(services)


class ApiClient:
    """The Flask test client with a caller's token."""

    def __init__(self, client, token: str | None):
        self.client, self.token = client, token

    def _headers(self, headers=None):
        merged = dict(headers or {})
        if self.token:
            merged["Authorization"] = f"Bearer {self.token}"
        return merged

    def get(self, url, **kw):
        return self.client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, url, json=None, **kw):
        return self.client.put(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def app(services):
    from services.web.app import create_app

    return create_app(services=services, test_config={"TESTING": True})


@pytest.fixture
def as_user(app, tokens):
    """``as_user("mfc").post(...)``: the API as one of the demo users."""
    client = app.test_client()

    def make(name: str | None) -> ApiClient:
        return ApiClient(client, tokens[name] if name else None)

    return make
