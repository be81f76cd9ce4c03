"""Use cases of the workflow engine: open a ticket, fire an action, read a ticket.

A state changes only through a declared action. Before anything is written the pure core
decides (:meth:`engine.workflow.machine.CompiledMachine.check_action`: known action, current
state, webhook-only, role, required fields, field types, guard); a refusal is raised as
:class:`ActionRefused` with its ``code``, leaving the ticket untouched. This module orchestrates
storage only: an allowed move writes the history row, the effects (outbox rows /
voucher) and the state's deadline in one transaction, guarded by the ticket's ``version``
column (a concurrent change → 409). An ``Idempotency-Key`` seen before returns the stored
first answer and changes nothing.

An action another area carries out (the order ticket's 发货 ships the order) is handed over
through ``Services.action_handovers`` (:class:`engine.workflow.ports.ActionHandover`, wired by
the composition root): that area runs the same checks and fires the action itself, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine.analytics.return_reason_counts import reason_changed, refresh_instances
from engine.errors import ApiError, Conflict, NotFound
from engine.workflow.effects import EffectRows, apply_effects
from engine.workflow.machine import CompiledMachine, Refusal
from engine.workflow.models import (
    WorkflowDeadline,
    WorkflowInstance,
    WorkflowTransition,
)
from engine.workflow.ports import ActionCarrier
from engine.workflow.registry import registry_of
from engine.workflow.stepwrite import write_step
from engine.workflow.tickets import create_instance_in, instance_body

if TYPE_CHECKING:
    from engine.services import Services

_INSTANCES = cast(Table, WorkflowInstance.__table__)
_TRANSITIONS = cast(Table, WorkflowTransition.__table__)
_DEADLINES = cast(Table, WorkflowDeadline.__table__)
_LOAD = select(_INSTANCES).where(_INSTANCES.c.id == bindparam("b_id"))
_FIND_KEY = (select(_TRANSITIONS.c.action, _TRANSITIONS.c.result)
             .where(_TRANSITIONS.c.instance_id == bindparam("b_id"),
                    _TRANSITIONS.c.idempotency_key == bindparam("b_key")))


@contextmanager
def write_transaction(services: Services) -> Iterator[Session]:
    """A write transaction for workflow changes. On SQLite it takes the write lock up front
    (the writers of this process queue in arrival order for it: ``engine.storage.write_queue``);
    PostgreSQL needs no such lock (row locks and the version check do the work)."""
    with services.db.transaction(immediate=services.db.is_sqlite) as session:
        yield session


class TicketRow(SimpleNamespace):
    """A ticket read with one Core SELECT (the hot path's stand-in for the ORM object)."""


def load_ticket(session: Session, instance_id: int) -> TicketRow | None:
    """Ticket ``instance_id`` as a :class:`TicketRow`, or None."""
    row = session.connection().execute(_LOAD, {"b_id": instance_id}).first()
    return None if row is None else TicketRow(**row._mapping)


class ActionRefused(ApiError):
    """An action that may not run now; ``code`` says which check refused it."""

    @classmethod
    def of(cls, refusal: Refusal) -> ActionRefused:
        return cls(refusal.message, status=refusal.status, code=refusal.code, details=refusal.details)

# --------------------------------------------------------------------------- create


def create_instance(services: Services, machine: str, data: dict[str, Any], *, actor: str,
                    role: str | None = None, ruleset: str | None = None) -> dict[str, Any]:
    registry = registry_of(services)
    now = services.clock.now()
    with services.db.transaction() as session:
        compiled = registry.latest(session, machine, ruleset)
        inst = create_instance_in(session, compiled, data, actor=actor, now=now, role=role)
        session.flush()
        return instance_body(inst)


# --------------------------------------------------------------------------- actions


@dataclass
class PlannedStep:
    """One allowed transition decided and its rows prepared, nothing written yet: the ticket's
    new ``values`` (from version ``seen``), the ``history`` row, the deadline left
    (``cancel_outcome``) and entered (``deadline``), the effects' rows, and the answer ``body``."""

    instance_id: int
    seen: int
    values: dict[str, Any]
    history: dict[str, Any]
    cancel_outcome: str | None
    deadline: dict[str, Any] | None
    rows: EffectRows
    body: dict[str, Any]


def plan_fire(session: Session, services: Services, compiled: CompiledMachine, inst: Any, action: str,
              payload: dict[str, Any], *, actor: str, role: str | None, via: str, idempotency_key: str | None,
              now: datetime) -> PlannedStep:
    """Check ``action`` on ``inst`` and prepare its writes (:class:`PlannedStep`); raises
    :class:`ActionRefused` when it may not run. Writes nothing but what an ``open`` effect opens."""
    decision = compiled.check_action(inst.state, action, payload, data=inst.data, instance_id=inst.id, via=via,
                                     role=role)
    if isinstance(decision, Refusal):
        raise ActionRefused.of(decision)
    data, env = decision.data, decision.env
    from_state, seen, inst_id = inst.state, inst.version, inst.id
    seq = seen + 1
    new_state = decision.target
    rows = EffectRows()
    effects = apply_effects(session, compiled, decision.action, decision.effects, instance_id=inst_id, seq=seq,
                            data=data,
                            env=env, payload=payload, actor=actor, now=now, registry=registry_of(services),
                            rows=rows)
    seconds = int((now - inst.state_entered_at).total_seconds())
    final = compiled.is_final(new_state)
    order_id = data.get("order_id")
    values: dict[str, Any] = {
        "state": new_state, "data": data, "updated_at": now, "state_entered_at": now, "version": seq,
        "closed": True if final else inst.closed,
        "closed_at": now if final else inst.closed_at,
        "processing_seconds": int((now - inst.created_at).total_seconds()) if final else inst.processing_seconds,
        "order_id": str(order_id) if order_id is not None else inst.order_id,
    }
    body = instance_body(inst)
    body.update(state=new_state, data=dict(data), version=seq, closed=values["closed"],
                state_entered_at=now.isoformat(), processing_seconds=values["processing_seconds"],
                closed_at=values["closed_at"].isoformat() if values["closed_at"] else None)
    body["action"] = {"name": action, "from": from_state, "to": new_state, "seq": seq, "effects": effects}
    left, entered = compiled.states.get(from_state), compiled.states.get(new_state)
    return PlannedStep(
        instance_id=inst_id, seen=seen, values=values,
        history={"seq": seq, "from_state": from_state, "to_state": new_state, "action": action, "actor": actor,
                 "actor_role": role, "at": now, "payload": payload, "ruleset_version": compiled.label,
                 "idempotency_key": idempotency_key, "seconds_in_state": seconds, "result": body},
        cancel_outcome=f"left {from_state} by {action}" if left is not None and left.deadline else None,
        deadline={"state": new_state, "entry_seq": seq, "due_at": now + timedelta(seconds=entered.deadline),
                  "status": "pending", "outcome": ""} if entered is not None and entered.deadline else None,
        rows=rows, body=body)


def sync_instance(inst: Any, values: dict[str, Any]) -> None:
    """Keep ``inst`` (an ORM ticket or a :class:`TicketRow`) current after its step was written."""
    _sync = set_committed_value if isinstance(inst, WorkflowInstance) else setattr
    for key, value in values.items():
        _sync(inst, key, value)


def fire_in(session: Session, services: Services, compiled: CompiledMachine, inst: Any, action: str,
            payload: dict[str, Any], *, actor: str, role: str | None, via: str, idempotency_key: str | None,
            now: datetime) -> dict[str, Any]:
    """Check and run ``action`` on ``inst`` inside the caller's transaction.

    ``via`` is ``user``, ``webhook:<hook>`` or ``timer``. Raises :class:`ActionRefused` before
    writing anything, or :class:`Conflict` when another change won the race.
    """
    step = plan_fire(session, services, compiled, inst, action, payload, actor=actor, role=role, via=via,
                     idempotency_key=idempotency_key, now=now)
    rows = step.rows
    conn = session.connection()
    changed = write_step(
        conn, one_statement=services.db.is_postgres, instance_id=step.instance_id, seen=step.seen,
        values=step.values, history=step.history, cancel_outcome=step.cancel_outcome, deadline=step.deadline,
        outbox=rows.outbox)
    if changed != 1:  # the version condition is the optimistic lock; a lost race wrote nothing
        raise Conflict(f"ticket {step.instance_id} was changed by someone else; reload and retry",
                       code="version_conflict")
    rows.outbox = []
    rows.write(conn)  # vouchers, only after the version check
    if reason_changed(inst.data, step.values["data"]):  # an after-sales ticket's counted reason
        refresh_instances(conn, [step.instance_id])
    sync_instance(inst, step.values)
    return step.body


def _replayed(session: Session, instance_id: int, key: str, action: str) -> dict[str, Any] | None:
    prior = session.connection().execute(_FIND_KEY, {"b_id": instance_id, "b_key": key}).first()
    if prior is None:
        return None
    if prior.action != action:
        raise Conflict(f"Idempotency-Key {key} was already used for action {prior.action}",
                       code="idempotency_key_reused")
    return dict(prior.result or {})


def fire_action(services: Services, instance_id: int, action: str, payload: dict[str, Any], *, actor: str,
                role: str | None, via: str = "user", idempotency_key: str | None = None) -> dict[str, Any]:
    """Fire ``action`` on ticket ``instance_id`` in its own transaction; the ticket afterwards."""
    registry = registry_of(services)
    now = services.clock.now()
    try:
        with write_transaction(services) as session:
            inst = load_ticket(session, instance_id)
            if inst is None:
                raise NotFound(f"ticket {instance_id} does not exist", code="unknown_instance")
            carrier = _handed_over(session, services, inst, action) if via == "user" else None
            if carrier is None:
                compiled = registry.compiled(session, inst.ruleset, inst.ruleset_version, inst.machine)
                return fire_in(session, services, compiled, inst, action, payload, actor=actor, role=role, via=via,
                               idempotency_key=idempotency_key, now=now)
        # another area carries this action out (in its own transactions, firing it itself)
        return carrier(payload, actor=actor, role=role, idempotency_key=idempotency_key)
    except (ActionRefused, Conflict, IntegrityError) as exc:
        # A key seen before is found here, not looked up in advance: its first run left a history
        # row, so a replay is either refused (the ticket moved on), loses the version race, or
        # hits the unique (ticket, key) constraint — and its transaction rolled back entirely.
        if idempotency_key:
            with services.db.session() as session:
                first = _replayed(session, instance_id, idempotency_key, action)
            if first is not None:
                return first
        if isinstance(exc, IntegrityError):
            raise Conflict(f"ticket {instance_id} was changed by someone else; reload and retry",
                           code="version_conflict") from None
        raise


def _handed_over(session: Session, services: Services, inst: Any, action: str) -> ActionCarrier | None:
    """The carrier of the first hand-over (``Services.action_handovers``) that claims ``action``
    on ``inst``, or None: the workflow fires it itself."""
    for claim in services.action_handovers:
        carrier = claim(session, services, inst, action)
        if carrier is not None:
            return carrier
    return None


# --------------------------------------------------------------------------- read


def history_of(session: Session, instance_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(WorkflowTransition).where(WorkflowTransition.instance_id == instance_id)
        .order_by(WorkflowTransition.seq)
    ).all()
    return [{"seq": r.seq, "from": r.from_state, "to": r.to_state, "action": r.action, "actor": r.actor,
             "actor_role": r.actor_role, "at": r.at.isoformat(), "payload": r.payload,
             "ruleset_version": r.ruleset_version, "idempotency_key": r.idempotency_key,
             "seconds_in_state": r.seconds_in_state} for r in rows]


def get_instance(services: Services, instance_id: int, role: str | None = None) -> dict[str, Any]:
    """The ticket with its allowed actions (for ``role``), owner, deadline and history."""
    registry = registry_of(services)
    with services.db.session() as session:
        inst = session.get(WorkflowInstance, instance_id)
        if inst is None:
            raise NotFound(f"ticket {instance_id} does not exist", code="unknown_instance")
        compiled = registry.compiled(session, inst.ruleset, inst.ruleset_version, inst.machine)
        body = instance_body(inst)
        body["owner"] = compiled.owner_role(inst.state)
        body["allowed_actions"] = compiled.allowed_actions(inst.state, role)
        due = session.scalar(
            select(WorkflowDeadline.due_at).where(WorkflowDeadline.instance_id == inst.id,
                                                  WorkflowDeadline.status == "pending"))
        body["deadline_at"] = due.isoformat() if due else None
        body["history"] = history_of(session, inst.id)
        return body
