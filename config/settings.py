"""Settings read from the environment, with an embedded default that needs no server.

Everything the embedded default keeps (SQLite database, broker folders, uploads,
mail) lives under one folder, ``INTERDEPT_VAR_DIR`` (``var/`` by default), so two
instances can run side by side.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {env.get(name)!r}")
    return raw


DEFAULT_BASE_URL = "http://127.0.0.1:8000"
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]", "*"}


def served_base_url(host: str, port: int) -> str:
    """The address links in emails and feeds use when INTERDEPT_BASE_URL is not set: the one
    ``interdept run``/``web`` listens on. A wildcard host (0.0.0.0, ::) says nothing about the
    name people reach it by, so this machine's loopback address stands in for it."""
    host = (host or "").strip()
    if host in _WILDCARD_HOSTS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{port}"


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    broker_url: str
    timezone: str = "Europe/Moscow"
    default_working_days: int = 5
    max_upload_bytes: int = 20 * 1024 * 1024
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str = "interdept@localhost"
    base_url: str = DEFAULT_BASE_URL
    # An outbox event not completed by every handler this long after its last
    # publication is published again by the relay.
    outbox_republish_after: int = 30
    relay_interval: float = 10.0
    # How often beat runs the deadline sweep (missed deadlines and due reminder steps).
    sweep_interval: float = 60.0
    mail_retry_for: int = 24 * 3600
    # An email left 'sending' this long after its claim was last renewed (a killed worker's) is sent
    # again by the mail relay; beat runs the relay every relay_interval, so it goes within a minute.
    mail_stuck_after: int = 45
    # A password-setting link (services.people.issue_password_link) works once, for this many hours.
    password_link_hours: int = 72
    # One Celery queue per deployment; tests give each run its own so runs sharing a Redis never mix.
    queue: str = "interdept"
    # "text" (the default) or "json": one JSON object per log line, with the request id.
    log_format: str = "text"
    # When set, GET /metrics wants "Authorization: Bearer <this>"; unset, /metrics is open.
    metrics_token: str | None = None
    # How many reverse proxies in front of the app may be believed about the caller's address
    # (X-Forwarded-For and friends); 0: forwarded headers are ignored.
    trusted_proxies: int = 0
    # Registration numbers (workflows/registration.py): checked at start by services.bootstrap.
    registration_template: str = "{department_prefix}-{year}/{seq:05d}"
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def broker_is_filesystem(self) -> bool:
        return self.broker_url.startswith("filesystem")

    @property
    def uploads_dir(self) -> Path:
        return self.var_dir / "uploads"

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def broker_dir(self) -> Path:
        return self.var_dir / "broker"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        var_dir = Path(env.get("INTERDEPT_VAR_DIR") or PROJECT_ROOT / "var").resolve()
        values = dict(
            var_dir=var_dir,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'interdept.sqlite3'}",
            broker_url=env.get("CELERY_BROKER_URL") or "filesystem://",
            timezone=env.get("INTERDEPT_TIMEZONE") or "Europe/Moscow",
            default_working_days=_int(env, "INTERDEPT_DEFAULT_WORKING_DAYS", 5),
            max_upload_bytes=_int(env, "INTERDEPT_MAX_UPLOAD_BYTES", 20 * 1024 * 1024),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_int(env, "SMTP_PORT", 25),
            smtp_user=env.get("SMTP_USER") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            mail_from=env.get("MAIL_FROM") or "interdept@localhost",
            base_url=(env.get("INTERDEPT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            outbox_republish_after=_int(env, "INTERDEPT_OUTBOX_REPUBLISH_AFTER", 30),
            relay_interval=float(_int(env, "INTERDEPT_RELAY_INTERVAL", 10)),
            sweep_interval=float(_int(env, "INTERDEPT_SWEEP_INTERVAL", 60)),
            mail_retry_for=_int(env, "INTERDEPT_MAIL_RETRY_FOR", 24 * 3600),
            mail_stuck_after=_int(env, "INTERDEPT_MAIL_STUCK_AFTER", 45),
            password_link_hours=_int(env, "INTERDEPT_PASSWORD_LINK_HOURS", 72),
            queue=env.get("INTERDEPT_QUEUE") or "interdept",
            log_format=_choice(env, "INTERDEPT_LOG_FORMAT", ("text", "json")),
            metrics_token=env.get("INTERDEPT_METRICS_TOKEN") or None,
            trusted_proxies=_int(env, "INTERDEPT_TRUSTED_PROXIES", 0),
            registration_template=env.get("INTERDEPT_REGISTRATION_TEMPLATE") or "{department_prefix}-{year}/{seq:05d}",
        )
        values.update(overrides)
        return cls(**values)

    def ensure_dirs(self) -> None:
        for path in (self.var_dir, self.uploads_dir, self.mail_dir, self.broker_dir):
            path.mkdir(parents=True, exist_ok=True)
