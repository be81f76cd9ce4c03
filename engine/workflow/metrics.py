"""Time-in-state and end-to-end processing time per machine, from the transition history.

Every history row carries ``seconds_in_state`` (how long the ticket sat in ``from`` before the
action) and closed tickets carry ``processing_seconds`` (creation → final state), so these
figures are plain aggregates; open tickets contribute their current age in their state.
Read-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.workflow.models import WorkflowInstance, WorkflowTransition


def _percentile(values: list[int], q: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def machine_metrics(session: Session, machine: str, now: datetime) -> dict[str, Any]:
    """``{"states": {state: {"left", "avg_seconds", "p50_seconds", "p90_seconds", "max_seconds",
    "open", "open_oldest_seconds"}}, "closed", "processing": {...}}`` for ``machine``."""
    rows = session.execute(
        select(WorkflowTransition.from_state, WorkflowTransition.seconds_in_state)
        .join(WorkflowInstance, WorkflowInstance.id == WorkflowTransition.instance_id)
        .where(WorkflowInstance.machine == machine, WorkflowTransition.from_state.is_not(None),
               WorkflowTransition.seconds_in_state.is_not(None))
    ).all()
    spent: dict[str, list[int]] = {}
    for state, seconds in rows:
        spent.setdefault(str(state), []).append(int(seconds or 0))
    open_rows = session.execute(
        select(WorkflowInstance.state, func.count(), func.min(WorkflowInstance.state_entered_at))
        .where(WorkflowInstance.machine == machine, WorkflowInstance.closed.is_(False))
        .group_by(WorkflowInstance.state)
    ).all()
    states: dict[str, dict[str, Any]] = {}
    for state, values in spent.items():
        states[state] = {"left": len(values), "avg_seconds": sum(values) // len(values),
                         "p50_seconds": _percentile(values, 0.5), "p90_seconds": _percentile(values, 0.9),
                         "max_seconds": max(values), "open": 0, "open_oldest_seconds": None}
    for state, count, oldest in open_rows:
        entry = states.setdefault(state, {"left": 0, "avg_seconds": None, "p50_seconds": None,
                                          "p90_seconds": None, "max_seconds": None})
        entry["open"] = int(count)
        entry["open_oldest_seconds"] = int((now - oldest).total_seconds()) if oldest else None
    processing = [int(v or 0) for v in session.scalars(
        select(WorkflowInstance.processing_seconds)
        .where(WorkflowInstance.machine == machine, WorkflowInstance.processing_seconds.is_not(None))).all()]
    return {"machine": machine, "states": states, "closed": len(processing),
            "processing": {"avg_seconds": sum(processing) // len(processing) if processing else None,
                           "p50_seconds": _percentile(processing, 0.5),
                           "p90_seconds": _percentile(processing, 0.9)}}
