"""Progress reports: the machine, the reporting schedule and the effectiveness evaluation.

Pure domain code. The schedule turns rules (from ``config/report_rules.yaml``)
into report cycles with nominal due dates; moving a date off a day off is the
calendar's job (``workflows.deadlines.due_date_for_rule``). The evaluation
follows the standard methodology for municipal programs and keeps every
figure next to its inputs and formula, so a reviewer can redo it by hand; a
missing plan or fact yields ``None`` with the reason, never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping, Sequence

from statemachine import Event, State, StateMachine

from workflows.core import Invalid, Workflow
from workflows.computed_indicators import RULES as COMPUTATION_RULES

EXECUTOR = "executor"
ECONOMIC_POLICY = "economic_policy"
SYSTEM_PARTY = "system"

KINDS = ("quarterly", "annual")
NOT_SUBMITTED = frozenset({"draft", "collecting", "ready"})


def _require_note(note: str | None = None, **_: object) -> None:
    if not (note or "").strip():
        raise Invalid("Укажите пояснительную записку.", fields={"data.note": ["Обязательное поле."]})


def _require_comment(comment: str | None = None, **_: object) -> None:
    if not (comment or "").strip():
        raise Invalid("Укажите замечания.", fields={"comment": ["Обязательное поле."]})


def _needs_collection(needs_collection: bool = True, **_: object) -> bool:
    return bool(needs_collection)


def _nothing_to_collect(needs_collection: bool = True, **_: object) -> bool:
    return not needs_collection


class ReportMachine(StateMachine):
    draft = State("Черновик", initial=True)
    collecting = State("Сбор сведений")
    ready = State("Готов к представлению")
    submitted = State("Представлен")
    returned = State("Возвращён на доработку")
    accepted = State("Принят")
    published = State("Опубликован", final=True)

    # With no co-executor to ask, collection is complete at once: draft → ready.
    start_collection = (
        draft.to(collecting, cond=_needs_collection) | draft.to(ready, cond=_nothing_to_collect)
    )
    collection_complete = collecting.to(ready)
    submit = ready.to(submitted, validators=_require_note)
    return_ = Event(submitted.to(returned, validators=_require_comment), id="return", name="return")
    resubmit = returned.to(submitted, validators=_require_note)
    accept = submitted.to(accepted)
    publish = accepted.to(published)


REPORT = Workflow(
    name="report",
    machine=ReportMachine,
    permissions={
        "start_collection": frozenset({EXECUTOR}),
        "collection_complete": frozenset({SYSTEM_PARTY}),
        "submit": frozenset({EXECUTOR}),
        "return": frozenset({ECONOMIC_POLICY}),
        "resubmit": frozenset({EXECUTOR}),
        "accept": frozenset({ECONOMIC_POLICY}),
        "publish": frozenset({EXECUTOR}),
    },
    state_labels={s.value: s.name for s in ReportMachine.states},
    event_labels={
        "start_collection": "начать сбор сведений",
        "collection_complete": "сбор сведений завершён",
        "submit": "представить отчёт",
        "return": "вернуть на доработку",
        "resubmit": "представить повторно",
        "accept": "принять отчёт",
        "publish": "опубликовать",
    },
)


# --- the schedule -------------------------------------------------------------

@dataclass(frozen=True)
class Cycle:
    """One report a rule calls for: nominal dates before the calendar moves them."""

    kind: str
    period: str
    year: int
    quarter: int | None
    period_start: date
    period_end: date
    nominal_due: date
    nominal_co_executor_due: date


@dataclass(frozen=True)
class ScheduleRules:
    quarters: tuple[int, ...] = (1, 2, 3)
    quarterly_day: int = 20
    quarterly_months_after: int = 1
    annual_month: int = 3
    annual_day: int = 1
    co_executor_days_before: int = 10
    kinds: tuple[str, ...] = KINDS
    indicator_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # indicator code -> the rule the service computes it by (workflows.computed_indicators.RULES)
    computed_indicators: Mapping[str, str] = field(default_factory=dict)


def rules_from_mapping(defaults: Mapping[str, Any], override: Mapping[str, Any] | None = None) -> ScheduleRules:
    """Defaults with a program's overrides on top; unknown keys are refused so typos show."""
    merged: dict[str, Any] = {}
    for source in (defaults or {}, override or {}):
        for key, value in source.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    allowed = {"quarterly", "annual", "co_executor_days_before", "indicator_sources", "computed_indicators"}
    unknown = set(merged) - allowed
    if unknown:
        raise ValueError(f"report rules: unknown keys {sorted(unknown)}")
    quarterly = merged.get("quarterly") or {}
    annual = merged.get("annual") or {}
    kinds = tuple(k for k, conf in (("quarterly", quarterly), ("annual", annual)) if conf.get("enabled", True))
    quarters = tuple(int(q) for q in quarterly.get("quarters", (1, 2, 3)))
    if any(q not in (1, 2, 3, 4) for q in quarters):
        raise ValueError(f"report rules: quarters must be 1..4, got {quarters}")
    sources = {k: tuple(v) for k, v in (merged.get("indicator_sources") or {}).items()}
    computed = {str(k): str(v) for k, v in (merged.get("computed_indicators") or {}).items()}
    unknown_rules = sorted(set(computed.values()) - set(COMPUTATION_RULES))
    if unknown_rules:
        raise ValueError(f"report rules: unknown computed_indicators rules {unknown_rules}")
    asked = sorted(set(computed) & {code for codes in sources.values() for code in codes})
    if asked:
        raise ValueError(f"report rules: {asked} are computed by the service and cannot also be asked of a department")
    return ScheduleRules(
        quarters=quarters,
        quarterly_day=int(quarterly.get("day", 20)),
        quarterly_months_after=int(quarterly.get("months_after", 1)),
        annual_month=int(annual.get("month", 3)),
        annual_day=int(annual.get("day", 1)),
        co_executor_days_before=int(merged.get("co_executor_days_before", 10)),
        kinds=kinds,
        indicator_sources=sources,
        computed_indicators=computed,
    )


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def cycles_for_year(rules: ScheduleRules, year: int) -> list[Cycle]:
    """Every report one program year calls for, in due order."""
    cycles = []
    back = timedelta(days=rules.co_executor_days_before)
    if "quarterly" in rules.kinds:
        for q in rules.quarters:
            start = date(year, 3 * q - 2, 1)
            end_y, end_m = _add_months(year, 3 * q, 1)
            end = date(end_y, end_m, 1) - timedelta(days=1)
            due_y, due_m = _add_months(year, 3 * q, rules.quarterly_months_after)
            due = date(due_y, due_m, rules.quarterly_day)
            cycles.append(Cycle("quarterly", f"{year}-Q{q}", year, q, start, end, due, due - back))
    if "annual" in rules.kinds:
        due = date(year + 1, rules.annual_month, rules.annual_day)
        cycles.append(Cycle("annual", str(year), year, None, date(year, 1, 1), date(year, 12, 31), due, due - back))
    return cycles


def reporting_year(today: date, first_year: int, last_year: int) -> int:
    """The program year whose reports are being worked on: this year, or the last one once the program ended."""
    return max(first_year, min(today.year, last_year))


def cycles_due_now(rules: ScheduleRules, today: date, first_year: int, last_year: int) -> list[Cycle]:
    """The cycles a schedule run opens as of ``today``: what is being worked on now, not the whole past.

    A cycle is due now when its period has begun by ``today`` and it is (nominally) due in the
    reporting year or later: this year's reports and last year's annual report, due on 1 March.
    For a program that has ended, the reporting year is its last one, so a first start years
    later opens that year's reports (overdue), not one report for every quarter since the start.
    Older cycles are opened only when asked for by year (``interdept reports schedule --year``).
    """
    if today < date(first_year, 1, 1):
        return []
    current = reporting_year(today, first_year, last_year)
    return [cycle for y in range(first_year, last_year + 1) for cycle in cycles_for_year(rules, y)
            if cycle.period_start <= today and cycle.nominal_due.year >= current]


# --- the effectiveness evaluation -----------------------------------------------

@dataclass(frozen=True)
class EvaluationRules:
    cap: Decimal = Decimal("1")
    thresholds: tuple[tuple[str, Decimal], ...] = (
        ("high", Decimal("0.9")), ("medium", Decimal("0.8")), ("satisfactory", Decimal("0.7")),
    )
    lowest: str = "unsatisfactory"
    places: int = 4


RATING_LABELS = {"high": "высокая", "medium": "средняя", "satisfactory": "удовлетворительная",
                 "unsatisfactory": "неудовлетворительная"}


def evaluation_rules_from_mapping(data: Mapping[str, Any] | None) -> EvaluationRules:
    data = data or {}
    thresholds = data.get("thresholds")
    return EvaluationRules(
        cap=Decimal(str(data.get("cap", "1"))),
        thresholds=(tuple((name, Decimal(str(v))) for name, v in thresholds.items())
                    if thresholds else EvaluationRules.thresholds),
        lowest=data.get("lowest", "unsatisfactory"),
        places=int(data.get("places", 4)),
    )


@dataclass(frozen=True)
class IndicatorInput:
    code: str
    direction: str  # "increase" | "decrease"
    plan: Decimal | None
    fact: Decimal | None


def _q(value: Decimal, rules: EvaluationRules) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-rules.places), rounding=ROUND_HALF_UP)


def _figure(value: Decimal | None, formula: str, inputs: dict, missing: str | None = None,
            rules: EvaluationRules | None = None) -> dict:
    rules = rules or EvaluationRules()
    return {
        "value": None if value is None else format(_q(value, rules), "f"),
        "formula": formula,
        "inputs": {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in inputs.items()},
        "missing": missing,
    }


def indicator_achievement(ind: IndicatorInput, rules: EvaluationRules) -> dict:
    """fact/plan, or plan/fact for an indicator that should decrease; capped."""
    increase = ind.direction != "decrease"
    formula = "min(факт / план, {cap})" if increase else "min(план / факт, {cap})"
    formula = formula.format(cap=rules.cap)
    inputs = {"plan": ind.plan, "fact": ind.fact, "direction": ind.direction}
    missing = []
    if ind.plan is None:
        missing.append("нет планового значения")
    if ind.fact is None:
        missing.append("нет фактического значения")
    if missing:
        return _figure(None, formula, inputs, "; ".join(missing), rules)
    denominator = ind.plan if increase else ind.fact
    numerator = ind.fact if increase else ind.plan
    if denominator == 0:
        what = "плановое" if increase else "фактическое"
        return _figure(None, formula, inputs, f"{what} значение равно нулю, деление невозможно", rules)
    return _figure(min(numerator / denominator, rules.cap), formula, inputs, None, rules)


def rate(value: Decimal, rules: EvaluationRules) -> str:
    for name, threshold in rules.thresholds:
        if value >= threshold:
            return name
    return rules.lowest


def evaluate(indicators: Sequence[IndicatorInput], activities_planned: int, activities_done: int | None,
             budget_planned: Decimal | None, budget_spent: Decimal | None,
             rules: EvaluationRules | None = None) -> dict:
    """The whole evaluation; each figure has value, formula, inputs and ``missing`` (why it is None)."""
    rules = rules or EvaluationRules()
    per_indicator = {ind.code: indicator_achievement(ind, rules) for ind in indicators}
    missing_codes = [code for code, f in per_indicator.items() if f["value"] is None]
    if not indicators:
        achievement = _figure(None, "среднее степеней достижения показателей", {}, "нет показателей", rules)
    elif missing_codes:
        achievement = _figure(None, "среднее степеней достижения показателей",
                              {"indicators": list(per_indicator)},
                              "не рассчитана степень достижения: " + ", ".join(missing_codes), rules)
    else:
        values = [Decimal(f["value"]) for f in per_indicator.values()]
        achievement = _figure(sum(values, Decimal(0)) / len(values), "Σ степеней / число показателей",
                              {"sum": sum(values, Decimal(0)), "count": len(values)}, None, rules)

    if activities_planned <= 0:
        completion = _figure(None, "выполнено / запланировано", {"planned": activities_planned},
                             "нет запланированных мероприятий", rules)
    elif activities_done is None:
        completion = _figure(None, "выполнено / запланировано", {"planned": activities_planned},
                             "нет сведений о выполнении части мероприятий", rules)
    else:
        completion = _figure(Decimal(activities_done) / Decimal(activities_planned), "выполнено / запланировано",
                             {"done": activities_done, "planned": activities_planned}, None, rules)

    budget_inputs = {"planned": budget_planned, "spent": budget_spent}
    if budget_planned is None or budget_spent is None:
        execution = _figure(None, "кассовые расходы / план", budget_inputs,
                            "нет плана" if budget_planned is None else "нет сведений о расходах", rules)
    elif budget_planned == 0:
        execution = _figure(None, "кассовые расходы / план", budget_inputs, "план финансирования равен нулю", rules)
    else:
        execution = _figure(budget_spent / budget_planned, "кассовые расходы / план", budget_inputs, None, rules)

    def value(f: dict) -> Decimal | None:
        return None if f["value"] is None else Decimal(f["value"])

    c, e = value(completion), value(execution)
    eff_inputs = {"completion": completion["value"], "execution": execution["value"]}
    if c is None or e is None:
        efficiency = _figure(None, "степень реализации мероприятий / степень освоения средств", eff_inputs,
                             "не рассчитаны исходные величины", rules)
    elif e == 0:
        efficiency = _figure(None, "степень реализации мероприятий / степень освоения средств", eff_inputs,
                             "средства не освоены, деление на ноль", rules)
    else:
        efficiency = _figure(c / e, "степень реализации мероприятий / степень освоения средств", eff_inputs,
                             None, rules)

    a, ef = value(achievement), value(efficiency)
    overall_inputs = {"achievement": achievement["value"], "efficiency": efficiency["value"]}
    if a is None or ef is None:
        overall = _figure(None, "степень достижения × эффективность расходования", overall_inputs,
                          "не рассчитаны исходные величины", rules)
        rating = None
    else:
        overall = _figure(a * ef, "степень достижения × эффективность расходования", overall_inputs, None, rules)
        rating = rate(Decimal(overall["value"]), rules)
    return {
        "indicators": per_indicator,
        "subprogram_achievement": achievement,
        "activity_completion": completion,
        "budget_execution": execution,
        "spending_efficiency": efficiency,
        "effectiveness": overall,
        "rating": rating,
        "rating_label": RATING_LABELS.get(rating) if rating else None,
        "thresholds": {name: format(t, "f") for name, t in rules.thresholds},
    }
