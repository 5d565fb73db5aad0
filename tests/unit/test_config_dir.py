"""INTERDEPT_CONFIG_DIR: reference data read from an operator's folder, bad files refused by name and line."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from config import reminders, report_rules
from config.calendar import load_production_calendar
from config.paths import PACKAGED_DIR, ConfigFileError, config_dir, config_file
from config.reference import program_files


@pytest.fixture
def own_dir(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    monkeypatch.setenv("INTERDEPT_CONFIG_DIR", str(folder))
    reminders.load_reminder_config.cache_clear()
    report_rules._load_rules_file.cache_clear()
    yield folder
    reminders.load_reminder_config.cache_clear()
    report_rules._load_rules_file.cache_clear()


def test_default_is_the_packaged_folder(monkeypatch):
    monkeypatch.delenv("INTERDEPT_CONFIG_DIR", raising=False)
    assert config_dir() == PACKAGED_DIR
    assert config_file("reminders.yaml") == PACKAGED_DIR / "reminders.yaml"


def test_a_changed_override_in_the_operators_folder_takes_effect(own_dir):
    day = date(2031, 5, 5)  # a Monday
    assert load_production_calendar().is_working_day(day)
    text = (PACKAGED_DIR / "calendar_overrides.yaml").read_text(encoding="utf-8")
    added = text.replace("days_off:\n", 'days_off:\n  - date: 2031-05-05\n    reason: "Выходной по постановлению"\n', 1)
    assert added != text
    (own_dir / "calendar_overrides.yaml").write_text(added, encoding="utf-8")
    assert config_file("calendar_overrides.yaml") == own_dir / "calendar_overrides.yaml"
    assert not load_production_calendar().is_working_day(day)


def test_files_the_folder_does_not_hold_come_from_the_package(own_dir):
    assert config_file("report_rules.yaml") == PACKAGED_DIR / "report_rules.yaml"
    assert [p.name for p in program_files()] == [p.name for p in sorted((PACKAGED_DIR / "programs").glob("*.yaml"))]


def test_programs_come_from_the_folders_programs(own_dir):
    (own_dir / "programs").mkdir()
    shutil.copy(PACKAGED_DIR / "programs" / "kotovsk-information-society.yaml", own_dir / "programs" / "other.yaml")
    assert [p for p in program_files()] == [own_dir / "programs" / "other.yaml"]


@pytest.mark.parametrize("name, load", [
    ("reminders.yaml", lambda: reminders.load_reminder_config()),
    ("report_rules.yaml", lambda: report_rules.rules_document()),
    ("calendar_overrides.yaml", lambda: load_production_calendar()),
])
def test_a_broken_file_is_refused_naming_the_file_and_the_line(own_dir, name, load):
    (own_dir / name).write_text("first: 1\nsecond: [unclosed\nthird: 3\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load()
    message = str(caught.value)
    assert str(own_dir / name) in message
    assert "line 3" in message or "line 2" in message, message
    assert isinstance(caught.value, ConfigFileError)
