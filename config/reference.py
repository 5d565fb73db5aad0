"""Reviewed program passports kept as YAML files, the reference data the service is seeded from.

The loader only guards what YAML itself gets wrong for this data: an unquoted
amount silently becomes a float, a quoted date stays a string, and a repeated
key silently wins. Everything else is the passport parser's job.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from config.paths import config_dir

from workflows.passport import PassportError
from workflows.passport_parser import read_date

PROGRAMS_DIR = Path(__file__).resolve().parent / "programs"



class ProgramFileError(PassportError):
    """A program file refused before parsing; ``path`` says which file."""

    def __init__(self, path: Path, field: str, message: str):
        super().__init__(field, message)
        self.path = path
        self.args = (f"{path.name}: {field}: {message}" if field else f"{path.name}: {message}",)

    def __reduce__(self):
        return (type(self), (self.path, self.field, self.message))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable key: construct_mapping reports it properly
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r}", key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def program_files() -> list[Path]:
    """The program files: the config folder's ``programs/`` (INTERDEPT_CONFIG_DIR), else the packaged ones."""
    folder = config_dir() / "programs"
    if not folder.is_dir():
        folder = PROGRAMS_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def load_program_file(path: str | Path) -> dict:
    """Read one passport file into the mapping ``parse_passport`` takes, with exact amounts and real dates."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProgramFileError(path, "", f"is not UTF-8 text ({exc})") from exc
    try:
        # Same safe constructors as yaml.safe_load; only duplicate keys are refused on top.
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise ProgramFileError(path, "", f"is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProgramFileError(path, "", f"must hold a mapping at the top, found {type(data).__name__}")
    _fix_dates(data, path)
    _check_amounts(data, path)
    return data


def _fix_dates(data: dict, path: Path) -> None:
    approved = data.get("approved_by")
    if isinstance(approved, dict) and "date" in approved:
        approved["date"] = _date(approved["date"], path, "approved_by.date")
    amendments = data.get("amendments")
    if isinstance(amendments, list):
        for i, item in enumerate(amendments):
            if isinstance(item, dict) and "date" in item:
                item["date"] = _date(item["date"], path, f"amendments[{i}].date")


def _date(value: Any, path: Path, field: str) -> dt.date:
    try:
        return read_date(value)
    except ValueError as exc:
        raise ProgramFileError(path, field, str(exc)) from None


def _check_amounts(data: dict, path: Path) -> None:
    financing = data.get("financing")
    if isinstance(financing, dict):
        if "total" in financing:
            _amount(financing["total"], path, "financing.total")
        years = financing.get("years")
        if isinstance(years, list):
            for i, entry in enumerate(years):
                if not isinstance(entry, dict):
                    continue
                label = entry.get("year", i)
                for key, value in entry.items():
                    if key != "year":
                        _amount(value, path, f"financing.years[{label}].{key}")
    indicators = data.get("indicators")
    if isinstance(indicators, list):
        for i, item in enumerate(indicators):
            if isinstance(item, dict) and isinstance(item.get("targets"), dict):
                label = item.get("code", i)
                for year, value in item["targets"].items():
                    _amount(value, path, f"indicators[{label}].targets[{year}]")


def _amount(value: Any, path: Path, field: str) -> None:
    if isinstance(value, str):
        return
    if isinstance(value, float):
        raise ProgramFileError(
            path, field,
            f"float {value!r} in an amount cell; quote it as \"{value}\" so it is read exactly",
        )
    if isinstance(value, int) and not isinstance(value, bool):
        raise ProgramFileError(path, field, f"number {value!r} in an amount cell; quote it as \"{value}\"")
    raise ProgramFileError(
        path, field, f"amount must be a quoted decimal string, found {type(value).__name__} {value!r}"
    )
