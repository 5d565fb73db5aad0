"""Alembic, driven from code so `interdept db upgrade` needs no ini file on the path."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from config.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    cfg.attributes["url_from_code"] = True
    return cfg


def upgrade(settings: Settings, revision: str = "heads") -> None:
    if settings.is_sqlite:
        settings.ensure_dirs()
    command.upgrade(alembic_config(settings), revision)
