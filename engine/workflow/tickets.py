"""Opening tickets: a new ticket on a machine in its initial state, with its first history row
and its first deadline, inside the caller's transaction; and the ticket body the API answers.

Used by the ``create`` use case (:mod:`engine.workflow.service`) and by the ``open M`` effect
(:mod:`engine.workflow.effects`), so neither needs the other. Data checks are the pure core's
(:func:`engine.workflow.machine.check_field_types`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import Unprocessable
from engine.workflow.machine import CompiledMachine, check_field_types
from engine.workflow.models import WorkflowDeadline, WorkflowInstance, WorkflowTransition
from engine.workflow.registry import MachineRegistry

CREATE_ACTION = "create"


def instance_body(inst: Any, *, version: int | None = None) -> dict[str, Any]:
    return {
        "id": inst.id,
        "machine": inst.machine,
        "ruleset": inst.ruleset,
        "ruleset_version": inst.ruleset_version,
        "version": version if version is not None else inst.version,
        "state": inst.state,
        "data": dict(inst.data or {}),
        "closed": inst.closed,
        "created_at": inst.created_at.isoformat(),
        "state_entered_at": inst.state_entered_at.isoformat(),
        "closed_at": inst.closed_at.isoformat() if inst.closed_at else None,
        "processing_seconds": inst.processing_seconds,
    }


def start_deadline(session: Session, compiled: CompiledMachine, inst_id: int, state: str, seq: int,
                   now: datetime) -> None:
    decl = compiled.states.get(state)
    if decl is not None and decl.deadline:
        session.add(WorkflowDeadline(instance_id=inst_id, state=state, entry_seq=seq,
                                     due_at=now + timedelta(seconds=decl.deadline), status="pending",
                                     outcome=""))


def new_instance_values(compiled: CompiledMachine, data: dict[str, Any], *, actor: str,
                        now: datetime) -> dict[str, Any]:
    """The row of a new ticket on ``compiled`` in its initial state (every column but ``id``);
    raises :class:`Unprocessable` (``invalid_data``, with field paths) when ``data`` does not fit."""
    problems = check_field_types(compiled.fields, compiled.name, data, only_declared=False)
    for name, decl in compiled.fields.items():
        if not decl.optional and data.get(name) in (None, ""):
            problems.append({"path": f"/{name}", "message": f"{name} is required by machine {compiled.name}"})
    if problems:
        raise Unprocessable("ticket data is invalid: " + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
                            code="invalid_data", details=problems)
    order_id = data.get("order_id")
    return {"machine": compiled.name, "ruleset": compiled.ruleset, "ruleset_version": compiled.version,
            "state": compiled.initial, "data": dict(data), "version": 1,
            "order_id": str(order_id) if order_id is not None else None,
            "closed": compiled.is_final(compiled.initial), "created_by": actor, "created_at": now,
            "updated_at": now, "state_entered_at": now, "closed_at": None, "processing_seconds": None}


def creation_history(compiled: CompiledMachine, instance_id: int, values: dict[str, Any], *, role: str | None,
                     ) -> dict[str, Any]:
    """The first history row (``seq`` 1, action ``create``) of the ticket ``values`` describes."""
    return {"instance_id": instance_id, "seq": 1, "from_state": None, "to_state": values["state"],
            "action": CREATE_ACTION, "actor": values["created_by"], "actor_role": role, "at": values["created_at"],
            "payload": dict(values["data"]), "ruleset_version": compiled.label, "idempotency_key": None,
            "seconds_in_state": None, "result": None}


def first_deadline(compiled: CompiledMachine, instance_id: int, state: str, now: datetime) -> dict[str, Any] | None:
    """The deadline row of ``state`` entered at creation, or None when the state has none."""
    decl = compiled.states.get(state)
    if decl is None or not decl.deadline:
        return None
    return {"instance_id": instance_id, "state": state, "entry_seq": 1,
            "due_at": now + timedelta(seconds=decl.deadline), "status": "pending", "outcome": ""}


def create_instance_in(session: Session, compiled: CompiledMachine, data: dict[str, Any], *, actor: str,
                       now: datetime, role: str | None = None) -> WorkflowInstance:
    """Open a ticket on ``compiled`` in its initial state (inside the caller's transaction)."""
    values = new_instance_values(compiled, data, actor=actor, now=now)
    inst = WorkflowInstance(**values)
    session.add(inst)
    session.flush()
    session.add(WorkflowTransition(**creation_history(compiled, inst.id, values, role=role)))
    start_deadline(session, compiled, inst.id, inst.state, 1, now)
    return inst


def open_ticket_in(session: Session, registry: MachineRegistry, parent: CompiledMachine, machine: str,
                   data: dict[str, Any], *, actor: str, now: datetime) -> int:
    """``open M`` effect: a ticket on machine M of the same ruleset version, with the declared
    fields of M copied from ``data``."""
    target = registry.compiled(session, parent.ruleset, parent.version, machine)
    copied = {k: v for k, v in data.items() if k in target.fields}
    return create_instance_in(session, target, copied, actor=actor, now=now).id
