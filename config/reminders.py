"""Loads config/reminders.yaml: the reminder ladders and working hours."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from config.paths import config_file, read_yaml
from workflows.reminders import parse_ladders

REMINDERS_FILE = Path(__file__).resolve().parent / "reminders.yaml"


@lru_cache(maxsize=4)
def load_reminder_config(path: str | None = None):
    source = Path(path) if path else config_file("reminders.yaml")
    data = read_yaml(source) or {}
    try:
        return parse_ladders(data)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
