"""An information request: one addressee department's copy, with its own clock.

The addressee's clock runs while the copy waits on the addressee (``sent``,
``clarification_requested``) and is paused while it waits on the requester
(``answered``): asking for a clarification gives the addressee back the working
days it had left when it answered.
"""
from __future__ import annotations

from statemachine import State, StateMachine

from workflows.core import Invalid, Workflow

REQUESTER = "requester"
ADDRESSEE = "addressee"
ADDRESSEE_HEAD = "addressee_head"

#: States in which the addressee owes an answer; only these can be overdue.
AWAITING_ADDRESSEE = frozenset({"sent", "clarification_requested"})
OPEN_STATES = frozenset({"draft", "sent", "answered", "clarification_requested"})


def _require_comment(comment: str | None = None, **_: object) -> None:
    if not (comment or "").strip():
        raise Invalid("Укажите комментарий.", fields={"comment": ["Обязательное поле."]})


def _require_extension(working_days: int | None = None, comment: str | None = None, **_: object) -> None:
    errors = {}
    if not isinstance(working_days, int) or isinstance(working_days, bool) or not 1 <= working_days <= 60:
        errors["working_days"] = ["Целое число рабочих дней от 1 до 60."]
    if not (comment or "").strip():
        errors["comment"] = ["Укажите причину продления."]
    if errors:
        raise Invalid("Продление срока не принято.", fields=errors)


def _require_delegate(assignee_id: int | None = None, **_: object) -> None:
    if not isinstance(assignee_id, int) or isinstance(assignee_id, bool):
        raise Invalid("Укажите сотрудника.", fields={"assignee_id": ["Обязательное поле."]})


class InformationRequestMachine(StateMachine):
    draft = State("Черновик", initial=True)
    sent = State("Направлен")
    answered = State("Получен ответ")
    clarification_requested = State("Запрошено уточнение")
    accepted = State("Принят", final=True)
    withdrawn = State("Отозван", final=True)

    send = draft.to(sent)
    answer = sent.to(answered) | clarification_requested.to(answered)
    request_clarification = answered.to(clarification_requested, validators=_require_comment)
    accept = answered.to(accepted)
    withdraw = (
        draft.to(withdrawn) | sent.to(withdrawn) | answered.to(withdrawn)
        | clarification_requested.to(withdrawn)
    )
    delegate = (
        sent.to.itself(validators=_require_delegate)
        | clarification_requested.to.itself(validators=_require_delegate)
    )
    extend_deadline = (
        sent.to.itself(validators=_require_extension)
        | clarification_requested.to.itself(validators=_require_extension)
    )


INFORMATION_REQUEST = Workflow(
    name="information_request",
    machine=InformationRequestMachine,
    permissions={
        "send": frozenset({REQUESTER}),
        "answer": frozenset({ADDRESSEE}),
        "request_clarification": frozenset({REQUESTER}),
        "accept": frozenset({REQUESTER}),
        "withdraw": frozenset({REQUESTER}),
        "delegate": frozenset({ADDRESSEE_HEAD}),
        "extend_deadline": frozenset({REQUESTER}),
    },
    state_labels={s.value: s.name for s in InformationRequestMachine.states},
    event_labels={
        "send": "направить",
        "answer": "ответить",
        "request_clarification": "запросить уточнение",
        "accept": "принять ответ",
        "withdraw": "отозвать",
        "delegate": "передать сотруднику",
        "extend_deadline": "продлить срок",
    },
)
