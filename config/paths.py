"""Where reference data is read from: ``INTERDEPT_CONFIG_DIR``, else the packaged ``config/`` folder.

Programs, calendar overrides, reminder ladders and report rules are files an operator may change
without rebuilding the image (mount a folder, point the variable at it, restart). A file missing
from that folder falls back to the packaged one, so a folder may hold only what it overrides.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

PACKAGED_DIR = Path(__file__).resolve().parent


class ConfigFileError(ValueError):
    """A reference file that cannot be used; the message names the file and, where known, the line."""


def config_dir() -> Path:
    raw = os.environ.get("INTERDEPT_CONFIG_DIR")
    return Path(raw).expanduser().resolve() if raw else PACKAGED_DIR


def config_file(name: str) -> Path:
    """The operator's copy of ``name`` if the config folder has one, else the packaged file."""
    own = config_dir() / name
    return own if own.exists() else PACKAGED_DIR / name


def read_yaml(path: Path):
    """Safe-load a YAML file; a syntax error or bad encoding names the file and the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{path}: is not UTF-8 text ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(f"{path}{where}: not valid YAML: {problem}") from None
