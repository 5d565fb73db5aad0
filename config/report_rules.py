"""The report rules file (config/report_rules.yaml): when reports are due and how they are evaluated."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from config.paths import config_file, read_yaml
from workflows.report import EvaluationRules, ScheduleRules, evaluation_rules_from_mapping, rules_from_mapping

RULES_PATH = Path(__file__).resolve().parent / "report_rules.yaml"


@lru_cache(maxsize=4)
def _load_rules_file(path: str) -> dict:
    data = read_yaml(Path(path)) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top")
    return data


def rules_document(path: Path | None = None) -> dict:
    return _load_rules_file(str(path or config_file("report_rules.yaml")))


def schedule_rules(slug: str, path: Path | None = None) -> ScheduleRules:
    doc = rules_document(path)
    return rules_from_mapping(doc.get("defaults") or {}, (doc.get("programs") or {}).get(slug))


def evaluation_rules(path: Path | None = None) -> EvaluationRules:
    return evaluation_rules_from_mapping(rules_document(path).get("evaluation"))
