"""A program amendment: a change set against one passport version, reviewed in parallel.

The executor drafts a structured change set (financing cells, indicator
targets, activities, text sections) against a named version. The economic
policy and finance departments review it independently; it is approved only
when every reviewing department approved the *same* revision, so editing the
change set (a new revision) makes earlier approvals lapse. Adoption applies the
change set to the base version and yields the next immutable version.

Everything here is pure: the machine, and the functions that validate, apply,
compare and diff change sets on ``workflows.passport.Passport``.

Change sets set absolute values (``amount`` is the cell's new amount, not an
increment), so a change set means the same thing against any base, and a
rebase only has to report the cells others changed in the meantime.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable

from statemachine import Event, State, StateMachine

from workflows.core import Invalid, Workflow
from workflows.passport import Passport

EXECUTOR = "executor"
ECONOMIC_POLICY = "economic_policy"
FINANCE = "finance"
ADMIN = "admin"

#: Reviewing department code -> the party it acts as.
REVIEW_PARTIES = {"economic-policy": ECONOMIC_POLICY, "finance": FINANCE}

OPEN_STATES = frozenset({"draft", "under_review", "returned", "approved"})



# --- guards -------------------------------------------------------------------

def _review_complete(approved_by: Iterable[str] = (), required: Iterable[str] = (), **_: object) -> bool:
    """True when this approval completes the set: every required department approved this revision."""
    required = set(required)
    return bool(required) and required <= set(approved_by)


def _has_conflicts(conflicts: Iterable[object] = (), **_: object) -> bool:
    return bool(list(conflicts))


def _require_remarks(comment: str | None = None, remarks: str | None = None, **_: object) -> None:
    if not ((remarks or comment or "").strip()):
        raise Invalid("Укажите замечания, с которыми изменения возвращаются.",
                      fields={"data.remarks": ["Обязательное поле."]})


def _require_resolution(resolution_number: Any = None, resolution_date: Any = None, **_: object) -> None:
    parse_resolution(resolution_number, resolution_date)


def parse_resolution(number: Any, date: Any) -> tuple[str, dt.date]:
    """The adopting resolution: a non-empty number and an ISO date, not in the future."""
    errors: dict[str, list[str]] = {}
    if not isinstance(number, str) or not number.strip() or len(number) > 100:
        errors["data.resolution_number"] = ["Укажите номер постановления (текст до 100 знаков)."]
    parsed: dt.date | None = None
    if isinstance(date, dt.date) and not isinstance(date, dt.datetime):
        parsed = date
    elif isinstance(date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        try:
            parsed = dt.date.fromisoformat(date)
        except ValueError:
            parsed = None
    if parsed is None:
        errors["data.resolution_date"] = ["Укажите дату постановления в виде ГГГГ-ММ-ДД."]
    if errors:
        raise Invalid("Реквизиты постановления не приняты.", fields=errors)
    return number.strip(), parsed


# --- the machine ----------------------------------------------------------------

class AmendmentMachine(StateMachine):
    draft = State("Черновик", initial=True)
    under_review = State("На согласовании")
    returned = State("Возвращены на доработку")
    approved = State("Согласованы")
    adopted = State("Приняты", final=True)
    withdrawn = State("Отозваны", final=True)

    submit_for_review = draft.to(under_review)
    # Parallel review: an approval that leaves a department pending keeps the state.
    approve = (
        under_review.to(approved, cond=_review_complete)
        | under_review.to.itself(unless=_review_complete)
    )
    # ``return`` is a Python keyword, hence the explicit event id.
    return_ = Event(under_review.to(returned, validators=_require_remarks), id="return")
    # A new revision: a draft stays a draft; anything already reviewed goes (back) to review.
    revise = (
        draft.to.itself()
        | under_review.to.itself()
        | returned.to(under_review)
        | approved.to(under_review)
    )
    # Moving the base: approvals survive unless cells changed since conflict with the change set.
    rebase = (
        draft.to.itself()
        | under_review.to.itself()
        | returned.to.itself()
        | approved.to(under_review, cond=_has_conflicts)
        | approved.to.itself(unless=_has_conflicts)
    )
    adopt = approved.to(adopted, validators=_require_resolution)
    withdraw = draft.to(withdrawn) | under_review.to(withdrawn) | returned.to(withdrawn) | approved.to(withdrawn)


AMENDMENT = Workflow(
    name="amendment",
    machine=AmendmentMachine,
    permissions={
        "submit_for_review": frozenset({EXECUTOR, ADMIN}),
        "approve": frozenset({ECONOMIC_POLICY, FINANCE}),
        "return": frozenset({ECONOMIC_POLICY, FINANCE}),
        "revise": frozenset({EXECUTOR, ADMIN}),
        "rebase": frozenset({EXECUTOR, ADMIN}),
        "adopt": frozenset({EXECUTOR, ADMIN}),
        "withdraw": frozenset({EXECUTOR, ADMIN}),
    },
    state_labels={s.value: s.name for s in AmendmentMachine.states},
    event_labels={
        "submit_for_review": "направить на согласование",
        "approve": "согласовать",
        "return": "вернуть на доработку",
        "revise": "внести правку",
        "rebase": "перенести на текущую редакцию",
        "adopt": "утвердить постановлением",
        "withdraw": "отозвать",
    },
)


def parties_for(*, department: str | None, is_admin: bool, passport: Passport) -> set[str]:
    """The caller's relation to an amendment of this program, from its passport."""
    found: set[str] = set()
    if department and department == passport.executor:
        found.add(EXECUTOR)
    if department in passport.reviewers and department in REVIEW_PARTIES:
        found.add(REVIEW_PARTIES[department])
    if is_admin:
        found.add(ADMIN)
    return found


def required_reviewers(passport: Passport) -> frozenset[str]:
    """Departments whose approval is needed: the passport's reviewers we know how to act for."""
    return frozenset(code for code in passport.reviewers if code in REVIEW_PARTIES)
