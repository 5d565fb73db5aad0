"""A progress report's content from the passport and the figures behind it: pure, no database.

The service gathers the accepted answers, the stored facts and the executor's
own inputs (services.reports.assemble); this turns them into plan against fact,
budget execution, activities done and the annual evaluation, and compares two
frozen revisions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from workflows.passport import Passport
from workflows.report import EvaluationRules, IndicatorInput, evaluate, indicator_achievement


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def spent_key(source: str) -> str:
    return f"spent_{_key(source)}"


def activity_key(code: str) -> str:
    return f"act_{_key(code)}_done"


def indicator_key(code: str) -> str:
    return f"ind_{_key(code)}"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def dec(value: Any) -> Decimal | None:
    """A finite number that fits the stored NUMERIC(20,4), else None (the caller's 422)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 16 or -number.as_tuple().exponent > 4:
        return None
    return number


def _ratio(a: Decimal | None, b: Decimal | None) -> str | None:
    if a is None or b is None or b == 0:
        return None
    return format((a / b).quantize(Decimal("0.0001")), "f")



@dataclass(frozen=True)
class Answer:
    """An accepted co-executor answer the report rests on."""

    department: str
    request_id: int
    data: Mapping


@dataclass(frozen=True)
class Actual:
    """An indicator's stored fact and where it came from."""

    value: Decimal | None
    source_request_id: int | None = None
    source_answer_id: int | None = None
    computed: Mapping | None = None  # how the service computed it (workflows.computed_indicators)


def assemble_content(p: Passport, *, version: int, kind: str, year: int, period: str, period_label: str,
                     note: str, inputs: Mapping, answers: list[Answer], actuals: Mapping[str, Actual],
                     eval_rules: EvaluationRules) -> dict:
    """The report's content: plan against fact, budget execution, activities, and for an annual
    report the effectiveness evaluation; every figure names its source."""
    indicators = []
    for ind in p.indicators:
        plan = ind.targets.get(year)
        row = actuals.get(ind.code)
        fact = row.value if row is not None else None
        figure = indicator_achievement(IndicatorInput(ind.code, ind.direction, plan, fact), eval_rules)
        indicators.append({
            "code": ind.code, "name": ind.name, "unit": ind.unit, "direction": ind.direction,
            "plan": _money(plan), "fact": _money(fact), "achievement": figure["value"],
            "missing": figure["missing"],
            "source": (None if row is None else dict(row.computed) if row.computed else
                       {"request_id": row.source_request_id, "answer_id": row.source_answer_id}
                       if row.source_request_id else {"executor": True}),
        })

    financing = []
    own_spent = inputs.get("spent") or {}
    for source, source_name in p.sources.items():
        try:
            plan = p.amount(year, source)
        except KeyError:
            plan = None
        parts = []
        own = dec(own_spent.get(source))
        parts.append({"department": p.executor, "amount": _money(own), "source": "executor"})
        for answer in answers:
            value = dec(answer.data.get(spent_key(source)))
            if spent_key(source) in answer.data:
                parts.append({"department": answer.department, "amount": _money(value),
                              "request_id": answer.request_id})
        known = [dec(x["amount"]) for x in parts]
        spent = None if any(v is None for v in known) else sum(known, Decimal(0))
        financing.append({"source": source, "source_name": source_name, "plan": _money(plan),
                          "spent": _money(spent), "execution": _ratio(spent, plan), "parts": parts})
    plan_total = (sum((dec(r["plan"]) for r in financing), Decimal(0))
                  if financing and all(r["plan"] is not None for r in financing) else None)
    spent_total = (sum((dec(r["spent"]) for r in financing), Decimal(0))
                   if financing and all(r["spent"] is not None for r in financing) else None)

    own_done = inputs.get("activities") or {}
    by_dept_answer = {answer.department: answer for answer in answers}
    activities = []
    for act in p.activities:
        if year not in act.years:
            continue
        done, source = None, None
        if act.executor == p.executor:
            if act.code in own_done:
                done, source = bool(own_done[act.code]), {"executor": True}
        elif act.executor in by_dept_answer:
            answer = by_dept_answer[act.executor]
            if answer.data.get(activity_key(act.code)) is not None:
                done, source = int(answer.data[activity_key(act.code)]) > 0, {"request_id": answer.request_id}
        activities.append({"code": act.code, "title": act.title, "executor": act.executor,
                           "done": done, "source": source})

    content = {
        "program": {"slug": p.slug, "title": p.title},
        "version": version,
        "kind": kind, "period": period, "period_label": period_label,
        "financing_unit": p.financing_unit,
        "indicators": indicators,
        "financing": financing,
        "financing_total": {"plan": _money(plan_total), "spent": _money(spent_total),
                            "execution": _ratio(spent_total, plan_total)},
        "activities": activities,
        "note": note,
    }
    if kind == "annual":
        done_flags = [a["done"] for a in activities]
        content["evaluation"] = evaluate(
            [IndicatorInput(i["code"], i["direction"], dec(i["plan"]), dec(i["fact"])) for i in indicators],
            activities_planned=len(activities),
            activities_done=None if any(d is None for d in done_flags) else sum(1 for d in done_flags if d),
            budget_planned=plan_total, budget_spent=spent_total, rules=eval_rules,
        )
    return content


def diff(before: Any, after: Any, path: str = "") -> list[dict]:
    """Changed leaves between two revisions, as paths reviewers can read."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in list(dict.fromkeys([*before, *after])):
            out += diff(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(before, list) and isinstance(after, list):
        def label(item, i):
            return item.get("code") or item.get("source") if isinstance(item, dict) else None
        b = {label(x, i) or str(i): x for i, x in enumerate(before)}
        a = {label(x, i) or str(i): x for i, x in enumerate(after)}
        out = []
        for key in list(dict.fromkeys([*b, *a])):
            out += diff(b.get(key), a.get(key), f"{path}[{key}]")
        return out
    return [] if before == after else [{"path": path, "before": before, "after": after}]
