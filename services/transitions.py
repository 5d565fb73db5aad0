"""The one way a persisted workflow item changes state.

Who, when and the guards are the workflow's; this adds the history row and the
outbox event to the caller's unit of work, so all three commit together.
"""
from __future__ import annotations

from typing import Any, Iterable

from services.adapters import audit
from services.models.workflow import TransitionRecord
from services.adapters.unit_of_work import UnitOfWork
from workflows.core import Actor, TransitionResult, Workflow


def fire(
    uow: UnitOfWork,
    workflow: Workflow,
    item: Any,
    actor: Actor,
    parties: Iterable[str],
    event: str,
    *,
    comment: str = "",
    data: dict | None = None,
    payload: dict | None = None,
) -> TransitionResult:
    parties = set(parties)
    result = workflow.fire(item, event, parties, comment=comment, **(data or {}))
    record_transition(uow, workflow.name, item.id, result, actor, role=_party_used(workflow, event, parties),
                      comment=comment, payload=payload or {})
    return result


def _party_used(workflow: Workflow, event: str, parties: set[str]) -> str | None:
    used = sorted(parties & workflow.permissions.get(event, frozenset()))
    return used[0] if used else None


def record_transition(
    uow: UnitOfWork,
    workflow_name: str,
    item_id: int,
    result: TransitionResult,
    actor: Actor,
    *,
    role: str | None,
    comment: str = "",
    payload: dict | None = None,
) -> TransitionRecord:
    payload = payload or {}
    record = TransitionRecord(
        workflow=workflow_name,
        item_id=item_id,
        event=result.event,
        from_state=result.source,
        to_state=result.target,
        actor_id=actor.user_id,
        actor_department=actor.department,
        actor_role=role,
        comment=comment or "",
        payload=payload,
    )
    uow.session.add(record)
    audit.record(uow, action=f"{workflow_name}.{result.event}", object_type=workflow_name, object_id=item_id,
                 actor=actor, role=role, before={"state": result.source},
                 after={"state": result.target, "comment": comment or "", **payload})
    uow.emit(
        f"{workflow_name}.{result.event}",
        {
            "workflow": workflow_name,
            "item_id": item_id,
            "event": result.event,
            "from": result.source,
            "to": result.target,
            "actor_id": actor.user_id,
            "actor_department": actor.department,
            "comment": comment or "",
            **payload,
        },
    )
    return record
