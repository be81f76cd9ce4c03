"""The version rule for machines on publish.

Running tickets stay on the ruleset version they started on. Publishing a new version that
drops a state (or a whole machine) in which open tickets sit is refused unless the new
declaration maps each such old state to a state it still has (``migrate 旧状态 to 新状态``);
:func:`check_machine_migration` lists the problems, and :func:`apply_machine_migrations` moves
the tickets in mapped states onto the new version (one history step each, actor
``publish:<who>``) in the publishing transaction. Tickets in states that still exist are left
where they are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dsl import model as m
from engine.workflow.models import (
    WorkflowDeadline,
    WorkflowInstance,
    WorkflowTransition,
)

MIGRATE_ACTION = "migrate"


def _open_states(session: Session, ruleset_name: str) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(WorkflowInstance.machine, WorkflowInstance.state, func.count())
        .where(WorkflowInstance.ruleset == ruleset_name, WorkflowInstance.closed.is_(False))
        .group_by(WorkflowInstance.machine, WorkflowInstance.state)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for machine, state, count in rows:
        out.setdefault(machine, {})[state] = int(count)
    return out


def _problem(message: str, node: m.Node | None) -> Any:
    from engine.rulesets.validation import Problem

    return Problem(message, line=node.line if node else 0, col=node.col if node else 0,
                   pointer=node.pointer if node else "", code="machine_migration")


def check_machine_migration(session: Session, ruleset_name: str, new_ruleset_model: m.Ruleset) -> list[Any]:
    """Problems (``engine.rulesets.validation.Problem``) that forbid publishing
    ``new_ruleset_model`` as the next version of ``ruleset_name``; [] when it is safe."""
    problems: list[Any] = []
    machines = {d.name: d for d in new_ruleset_model.machines}
    for machine, states in sorted(_open_states(session, ruleset_name).items()):
        decl = machines.get(machine)
        if decl is None:
            total = sum(states.values())
            problems.append(_problem(
                f"machine {machine} is removed but {total} open ticket(s) run on it "
                f"(states: {', '.join(sorted(states))}); keep the machine", None))
            continue
        declared = {s.name for s in decl.states}
        mapping = {mp.old: mp for mp in decl.migrations}
        for state, count in sorted(states.items()):
            if state in declared:
                continue
            mp = mapping.get(state)
            if mp is None:
                problems.append(_problem(
                    f"machine {machine}: state {state} is removed but {count} open ticket(s) are in it; "
                    f"add `migrate {state} to <state>`", decl))
            elif mp.new not in declared:
                problems.append(_problem(
                    f"machine {machine}: `migrate {state} to {mp.new}` names a state the machine does not declare",
                    mp))
    return problems


def apply_machine_migrations(session: Session, ruleset_name: str, new_version: int, new_ruleset_model: m.Ruleset,
                             *, actor: str, now: datetime) -> int:
    """Move open tickets whose state the new version maps (``migrate``) and no longer declares
    onto ``new_version``; the number moved. Call after :func:`check_machine_migration` passed."""
    moved = 0
    for decl in new_ruleset_model.machines:
        declared = {s.name for s in decl.states}
        for mp in decl.migrations:
            if mp.old in declared or mp.new not in declared:
                continue
            tickets = session.scalars(select(WorkflowInstance).where(
                WorkflowInstance.ruleset == ruleset_name, WorkflowInstance.machine == decl.name,
                WorkflowInstance.state == mp.old, WorkflowInstance.closed.is_(False))).all()
            for inst in tickets:
                seen, old_version = inst.version, inst.ruleset_version
                inst.state, inst.ruleset_version = mp.new, new_version
                inst.updated_at = inst.state_entered_at = now
                session.flush()
                session.query(WorkflowDeadline).filter(
                    WorkflowDeadline.instance_id == inst.id, WorkflowDeadline.status == "pending"
                ).update({"status": "cancelled", "outcome": f"migrated to {ruleset_name}@{new_version}"})
                session.add(WorkflowTransition(
                    instance_id=inst.id, seq=seen + 1, from_state=mp.old, to_state=mp.new, action=MIGRATE_ACTION,
                    actor=f"publish:{actor}", actor_role=None, at=now,
                    payload={"from_version": old_version, "to_version": new_version},
                    ruleset_version=f"{ruleset_name}@{new_version}", idempotency_key=None,
                    seconds_in_state=None, result=None))
                target = decl.state(mp.new)
                if target is not None and target.deadline:
                    session.add(WorkflowDeadline(instance_id=inst.id, state=mp.new, entry_seq=seen + 1,
                                                 due_at=now + timedelta(seconds=target.deadline),
                                                 status="pending", outcome=""))
                moved += 1
    session.flush()
    return moved
