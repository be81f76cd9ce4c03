"""State deadlines: when a ticket has sat in a state past its ``deadline``, run the state's
``on deadline`` handler — its effects and/or its ``do ACTION`` (actor ``timer``) — once.

``run_due_deadlines(services, now)`` is a plain function the scheduler calls; it is safe to
call from several workers at the same time: each due deadline is claimed with a conditional
``UPDATE … SET status='fired' WHERE id = :id AND status = 'pending'`` in the same transaction as
its handler, so exactly one caller's claim succeeds and the effects commit with it. A deadline
whose ticket already left the state is cancelled, never fired.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from engine.analytics.return_reason_counts import reason_changed, refresh_instances
from engine.errors import Conflict
from engine.logs import get_logger
from engine.workflow.effects import apply_effects
from engine.workflow.models import (
    WorkflowDeadline,
    WorkflowInstance,
    WorkflowTransition,
)
from engine.workflow.registry import registry_of
from engine.workflow.service import ActionRefused, fire_in, write_transaction

if TYPE_CHECKING:
    from engine.services import Services

TIMER_ACTOR = "timer"
DEADLINE_ACTION = "on deadline"
BATCH = 200
log = get_logger(__name__)


def run_due_deadlines(services: Services, now: datetime) -> int:
    """Fire every deadline due at ``now``; the number fired by this call."""
    with services.db.session() as session:
        due = session.scalars(
            select(WorkflowDeadline.id).where(WorkflowDeadline.status == "pending", WorkflowDeadline.due_at <= now)
            .order_by(WorkflowDeadline.due_at, WorkflowDeadline.id).limit(BATCH)
        ).all()
    fired = 0
    for deadline_id in due:
        try:
            if _fire_one(services, deadline_id, now):
                fired += 1
        except Conflict:
            log.info("deadline raced with an action; retried next run", deadline=deadline_id)
    return fired


def _fire_one(services: Services, deadline_id: int, now: datetime) -> bool:
    registry = registry_of(services)
    with write_transaction(services) as session:
        claimed = session.execute(
            update(WorkflowDeadline)
            .where(WorkflowDeadline.id == deadline_id, WorkflowDeadline.status == "pending")
            .values(status="fired", fired_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            return False  # another worker fired it, or the ticket moved on
        deadline = session.get(WorkflowDeadline, deadline_id)
        assert deadline is not None
        inst = session.get(WorkflowInstance, deadline.instance_id)
        if inst is None or inst.state != deadline.state or inst.version != deadline.entry_seq:
            deadline.status, deadline.outcome = "cancelled", "ticket left the state before the deadline"
            return False
        compiled = registry.compiled(session, inst.ruleset, inst.ruleset_version, inst.machine)
        entry = compiled.deadline_handlers.get(deadline.state)
        if entry is None:
            deadline.outcome = "overdue (no handler declared)"
            return True
        handler, holder = entry
        data = dict(inst.data or {})
        env: dict[str, Any] = {**data, "id": inst.id, "state": inst.state, "machine": inst.machine, "payload": {}}
        done = apply_effects(session, compiled, holder, handler.effects, instance_id=inst.id, seq=inst.version,
                             data=data, env=env, payload={}, actor=TIMER_ACTOR, now=now, registry=registry)
        outcome = [d["effect"] for d in done]
        if done:  # the timer's own step in the history (bumps the ticket's version like any step)
            seen, inst_id = inst.version, inst.id
            moved = reason_changed(inst.data, data)
            inst.data = data
            inst.updated_at = now
            try:
                session.flush()
            except StaleDataError:
                raise Conflict(f"ticket {inst_id} changed while its deadline fired", code="version_conflict") from None
            if moved:  # an after-sales ticket's counted reason
                refresh_instances(session.connection(), [inst_id])
            session.add(WorkflowTransition(
                instance_id=inst.id, seq=seen + 1, from_state=inst.state, to_state=inst.state,
                action=DEADLINE_ACTION, actor=TIMER_ACTOR, actor_role=None, at=now, payload={"effects": done},
                ruleset_version=compiled.label, idempotency_key=f"deadline:{deadline_id}",
                seconds_in_state=None, result=None))
            session.flush()
        if handler.action:
            try:
                fire_in(session, services, compiled, inst, handler.action, {}, actor=TIMER_ACTOR, role=None,
                        via="timer", idempotency_key=f"deadline:{deadline_id}", now=now)
                outcome.append(f"action {handler.action}")
            except ActionRefused as refusal:
                log.warning("deadline action refused", instance=inst.id, action=handler.action, reason=refusal.code)
                outcome.append(f"action {handler.action} refused: {refusal.code}")
        deadline.outcome = ", ".join(outcome) or "overdue"
        return True
