"""Loads config/registration.yaml: each department's registration-number prefix."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from config.paths import config_file, read_yaml
from workflows.registration import RegistrationConfigError, parse_prefixes


@lru_cache(maxsize=4)
def load_prefixes(path: str | None = None) -> dict[str, str]:
    source = Path(path) if path else config_file("registration.yaml")
    if not source.exists():
        return {}
    data = read_yaml(source) or {}
    if not isinstance(data, dict):
        raise RegistrationConfigError(f"{source}: expected a mapping with 'prefixes'")
    try:
        return parse_prefixes(data.get("prefixes"))
    except RegistrationConfigError as exc:
        raise RegistrationConfigError(f"{source}: {exc}") from None
