"""Programs as the API shows them: JSON-ready dicts built from a passport."""
from __future__ import annotations

from services.registry import LoadedVersion


def _money(value) -> str:
    return format(value, "f")


def program_view(loaded: LoadedVersion, actuals: dict | None = None, *, full: bool = True) -> dict:
    p = loaded.passport
    actuals = actuals or {}
    view = {
        "slug": p.slug,
        "title": p.title,
        "version": loaded.version.number,
        "current_version": loaded.program.current_version,
        "period": {"start": p.period_start, "end": p.period_end},
        "approved_by": {"number": p.approved_number, "date": p.approved_date.isoformat()},
        "executor": p.executor,
        "co_executors": list(p.co_executors),
        "reviewers": list(p.reviewers),
        "financing_total": _money(p.financing_total()),
    }
    if not full:
        return view
    view.update({
        "departments": [{"code": d.code, "name": d.name} for d in p.departments],
        "subprograms": [dict(s) if isinstance(s, dict) else s.__dict__ for s in p.subprograms],
        "goals": [dict(g) if isinstance(g, dict) else g.__dict__ for g in p.goals],
        "tasks": [dict(t) if isinstance(t, dict) else t.__dict__ for t in p.tasks],
        "indicators": [
            {
                "code": i.code, "name": i.name, "unit": i.unit, "direction": i.direction,
                "targets": {str(y): _money(v) for y, v in sorted(i.targets.items())},
                "actuals": {period: _money(v) for period, v in sorted(actuals.get(i.code, {}).items())},
            }
            for i in p.indicators
        ],
        "financing_unit": p.financing_unit,
        "sources": dict(p.sources),
        "financing": [
            {"year": c.year, "source": c.source, "amount": _money(c.amount)}
            for c in sorted(p.financing, key=lambda c: (c.year, c.source))
        ],
        "financing_by_year": [
            {"year": y, "total": _money(p.year_total(y))}
            for y in sorted({c.year for c in p.financing})
        ],
        "activities": [a.__dict__ if not isinstance(a, dict) else a for a in p.activities],
        "amendments": [
            {"date": a.date.isoformat(), "number": a.number} for a in p.amendments
        ],
        "version_resolution": {
            "number": loaded.version.resolution_number,
            "date": loaded.version.resolution_date.isoformat() if loaded.version.resolution_date else None,
        },
    })
    return _jsonable(view)


def _jsonable(value):
    """Dataclass fields may hold Decimals, dates and tuples; make them JSON."""
    from dataclasses import asdict, is_dataclass
    from datetime import date
    from decimal import Decimal

    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return _money(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def version_view(version) -> dict:
    return {
        "number": version.number,
        "resolution_number": version.resolution_number,
        "resolution_date": version.resolution_date.isoformat() if version.resolution_date else None,
        "note": version.note,
        "created_at": version.created_at.isoformat(),
    }
