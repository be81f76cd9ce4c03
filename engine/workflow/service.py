"""Use cases of the workflow engine: open a ticket, fire an action, read a ticket.

A state changes only through a declared action. Before anything is written the action is
checked in this order — known action, current state, webhook-only, role, required fields,
field types, guard — and the first failing check is reported (:class:`ActionRefused`, with a
``code`` saying which), leaving the ticket untouched. An allowed action moves the ticket through
its version's ``transitions`` machine, writes the history row, the effects (outbox rows /
voucher) and the state's deadline in one transaction, guarded by the ticket's ``version``
column (a concurrent change → 409). An ``Idempotency-Key`` seen before returns the stored
first answer and changes nothing.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dsl.printer import print_expr
from engine.errors import ApiError, Conflict, NotFound, Unprocessable
from engine.workflow.effects import EffectRows, apply_effects
from engine.workflow.models import (
    WorkflowDeadline,
    WorkflowInstance,
    WorkflowTransition,
)
from engine.workflow.registry import CompiledAction, CompiledMachine, MachineRegistry, registry_of
from engine.workflow.stepwrite import write_step

CREATE_ACTION = "create"
_INSTANCES = cast(Table, WorkflowInstance.__table__)
_TRANSITIONS = cast(Table, WorkflowTransition.__table__)
_DEADLINES = cast(Table, WorkflowDeadline.__table__)
_LOAD = select(_INSTANCES).where(_INSTANCES.c.id == bindparam("b_id"))
_FIND_KEY = (select(_TRANSITIONS.c.action, _TRANSITIONS.c.result)
             .where(_TRANSITIONS.c.instance_id == bindparam("b_id"),
                    _TRANSITIONS.c.idempotency_key == bindparam("b_key")))


class FifoLock:
    """A lock handed to waiters in arrival order (``threading.Lock`` is not fair: under a crowd
    some threads would wait for seconds while others get it again and again)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._held = False

    def __enter__(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait()

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()  # ownership passes straight to the next in line
            else:
                self._held = False


@contextmanager
def write_transaction(services: Any) -> Iterator[Session]:
    """A write transaction for workflow changes. On SQLite the writers of this process queue in
    arrival order before ``BEGIN IMMEDIATE`` instead of spinning in SQLite's busy handler (whose
    back-off sleeps make the tail latency of concurrent webhooks seconds long); PostgreSQL
    needs no such queue (row locks and the version check do the work)."""
    if not services.db.is_sqlite:
        with services.db.transaction() as session:
            yield session
        return
    lock = services.extras.get("workflow.sqlite_write_lock")
    if lock is None:
        lock = services.extras.setdefault("workflow.sqlite_write_lock", FifoLock())
    with lock, services.db.transaction(immediate=True) as session:
        yield session


class TicketRow(SimpleNamespace):
    """A ticket read with one Core SELECT (the hot path's stand-in for the ORM object)."""


def load_ticket(session: Session, instance_id: int) -> TicketRow | None:
    """Ticket ``instance_id`` as a :class:`TicketRow`, or None."""
    row = session.connection().execute(_LOAD, {"b_id": instance_id}).first()
    return None if row is None else TicketRow(**row._mapping)

_INT_TYPES = ("money", "count", "duration", "percent")


class ActionRefused(ApiError):
    """An action that may not run now; ``code`` says which check refused it."""


def _refuse(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> ActionRefused:
    return ActionRefused(message, status=status, code=code, details=details)


# --------------------------------------------------------------------------- data checks


def check_field_types(compiled: CompiledMachine, values: dict[str, Any], *, only_declared: bool) -> list[dict[str, Any]]:
    """Problems with declared data field values (``[{"path", "message"}]``)."""
    problems: list[dict[str, Any]] = []
    for key, value in values.items():
        decl = compiled.fields.get(key)
        if decl is None:
            if not only_declared:
                problems.append({"path": f"/{key}", "message": f"machine {compiled.name} declares no data field {key}"})
            continue
        if value is None:
            if not decl.optional:
                problems.append({"path": f"/{key}", "message": f"{key} may not be null"})
            continue
        ok = True
        if decl.type in _INT_TYPES:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif decl.type == "bool":
            ok = isinstance(value, bool)
        elif decl.type in ("text", "time"):
            ok = isinstance(value, str)
        if not ok:
            want = "integer" if decl.type in _INT_TYPES else ("boolean" if decl.type == "bool" else "string")
            problems.append({"path": f"/{key}", "message": f"{key} is {decl.type}: expected a JSON {want}"})
    return problems


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


def _start_deadline(session: Session, compiled: CompiledMachine, inst_id: int, state: str, seq: int,
                    now: datetime) -> None:
    decl = compiled.states.get(state)
    if decl is not None and decl.deadline:
        session.add(WorkflowDeadline(instance_id=inst_id, state=state, entry_seq=seq,
                                     due_at=now + timedelta(seconds=decl.deadline), status="pending",
                                     outcome=""))


# --------------------------------------------------------------------------- create


def create_instance_in(session: Session, compiled: CompiledMachine, data: dict[str, Any], *, actor: str,
                       now: datetime, role: str | None = None) -> WorkflowInstance:
    """Open a ticket on ``compiled`` in its initial state (inside the caller's transaction)."""
    problems = check_field_types(compiled, data, only_declared=False)
    for name, decl in compiled.fields.items():
        if not decl.optional and data.get(name) in (None, ""):
            problems.append({"path": f"/{name}", "message": f"{name} is required by machine {compiled.name}"})
    if problems:
        raise Unprocessable("ticket data is invalid: " + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
                            code="invalid_data", details=problems)
    order_id = data.get("order_id")
    inst = WorkflowInstance(
        machine=compiled.name, ruleset=compiled.ruleset, ruleset_version=compiled.version,
        state=compiled.initial, data=dict(data), order_id=str(order_id) if order_id is not None else None,
        closed=compiled.is_final(compiled.initial), created_by=actor, created_at=now, updated_at=now,
        state_entered_at=now,
    )
    session.add(inst)
    session.flush()
    session.add(WorkflowTransition(
        instance_id=inst.id, seq=1, from_state=None, to_state=inst.state, action=CREATE_ACTION,
        actor=actor, actor_role=role, at=now, payload=dict(data), ruleset_version=compiled.label,
        idempotency_key=None, seconds_in_state=None, result=None,
    ))
    _start_deadline(session, compiled, inst.id, inst.state, 1, now)
    return inst


def open_ticket_in(session: Session, registry: MachineRegistry, parent: CompiledMachine, machine: str,
                   data: dict[str, Any], *, actor: str, now: datetime) -> int:
    """``open M`` effect: a ticket on machine M of the same ruleset version, with the declared
    fields of M copied from ``data``."""
    target = registry.compiled(session, parent.ruleset, parent.version, machine)
    copied = {k: v for k, v in data.items() if k in target.fields}
    return create_instance_in(session, target, copied, actor=actor, now=now).id


def create_instance(services: Any, machine: str, data: dict[str, Any], *, actor: str,
                    role: str | None = None, ruleset: str | None = None) -> dict[str, Any]:
    registry = registry_of(services)
    now = services.clock.now()
    with services.db.transaction() as session:
        compiled = registry.latest(session, machine, ruleset)
        inst = create_instance_in(session, compiled, data, actor=actor, now=now, role=role)
        session.flush()
        return instance_body(inst)


# --------------------------------------------------------------------------- actions


def allowed_actions(compiled: CompiledMachine, state: str, role: str | None) -> list[str]:
    """Actions the caller's role could fire from ``state`` (guards not evaluated)."""
    out = []
    for action in compiled.decl.actions_from(state):
        if action.via_webhook:
            continue
        roles = compiled.actions[action.name].roles
        if roles and role not in roles:
            continue
        out.append(action.name)
    return out


def check_action(compiled: CompiledMachine, state: str, action: str, payload: dict[str, Any], *,
                 data: dict[str, Any], role: str | None, via: str = "user", instance_id: int | None = None
                 ) -> tuple[CompiledAction, dict[str, Any], dict[str, Any]]:
    """Every check an action passes before it runs, in order (known action, state, webhook,
    role, required fields, field types, ``when`` guard), without touching storage: the action,
    the ticket data with the payload's declared fields merged in, and the guard environment.
    Raises :class:`ActionRefused` (``code`` names the failed check)."""
    ca = compiled.actions.get(action)
    if ca is None:
        raise _refuse(404, "unknown_action", f"machine {compiled.name} has no action {action}")
    decl = ca.decl
    if state not in decl.sources:
        raise _refuse(409, "wrong_state",
                      f"action {action} is not allowed from state {state} "
                      f"(only from {', '.join(decl.sources)})",
                      [{"check": "state", "state": state, "allowed_from": list(decl.sources)}])
    if decl.via_webhook and via != f"webhook:{decl.via_webhook}" and via != "timer":
        raise _refuse(403, "webhook_only", f"action {action} is fired only by webhook {decl.via_webhook}",
                      [{"check": "via", "hook": decl.via_webhook}])
    if via.startswith("webhook:") and ca.roles and decl.via_webhook != via.removeprefix("webhook:"):
        raise _refuse(403, "wrong_role",
                      f"action {action} is for {', '.join(sorted(ca.roles))}; webhook {via.removeprefix('webhook:')} "
                      "may fire only actions declared `via webhook` for it or open to everyone",
                      [{"check": "role", "role": via, "allowed": sorted(ca.roles)}])
    if via == "user" and ca.roles and role not in ca.roles:
        raise _refuse(403, "wrong_role",
                      f"role {role} may not fire {action}; allowed: {', '.join(sorted(ca.roles))}",
                      [{"check": "role", "role": role, "allowed": sorted(ca.roles)}])
    missing = [f for f in decl.requires if payload.get(f) in (None, "")]
    if missing:
        raise _refuse(422, "missing_required", f"action {action} requires {', '.join(missing)}",
                      [{"check": "requires", "path": f"/{f}", "message": f"{f} is required"} for f in missing])
    problems = check_field_types(compiled, payload, only_declared=True)
    if problems:
        raise _refuse(422, "invalid_data", "payload is invalid: " + "; ".join(
            f"{p['path']}: {p['message']}" for p in problems), problems)
    data = dict(data)
    data.update({k: v for k, v in payload.items() if k in compiled.fields})
    env: dict[str, Any] = {**data, "payload": payload, "id": instance_id, "state": state,
                           "machine": compiled.name}
    if ca.guard is not None and decl.when is not None and not ca.guard(env):
        raise _refuse(422, "guard_failed", f"condition of {action} is false: {print_expr(decl.when)}",
                      [{"check": "when", "condition": print_expr(decl.when)}])
    return ca, data, env


def fire_in(session: Session, services: Any, compiled: CompiledMachine, inst: Any, action: str,
            payload: dict[str, Any], *, actor: str, role: str | None, via: str, idempotency_key: str | None,
            now: datetime) -> dict[str, Any]:
    """Check and run ``action`` on ``inst`` inside the caller's transaction.

    ``via`` is ``user``, ``webhook:<hook>`` or ``timer``. Raises :class:`ActionRefused` before
    writing anything, or :class:`Conflict` when another change won the race.
    """
    ca, data, env = check_action(compiled, inst.state, action, payload, data=inst.data or {}, role=role, via=via,
                                 instance_id=inst.id)
    decl = ca.decl

    from_state, seen, inst_id = inst.state, inst.version, inst.id
    seq = seen + 1
    new_state = compiled.move(from_state, action)
    rows = EffectRows()
    effects = apply_effects(session, compiled, ca, decl.effects, instance_id=inst_id, seq=seq, data=data,
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
    conn = session.connection()
    changed = write_step(
        conn, one_statement=services.db.is_postgres, instance_id=inst_id, seen=seen, values=values,
        history={"seq": seq, "from_state": from_state, "to_state": new_state, "action": action, "actor": actor,
                 "actor_role": role, "at": now, "payload": payload, "ruleset_version": compiled.label,
                 "idempotency_key": idempotency_key, "seconds_in_state": seconds, "result": body},
        cancel_outcome=f"left {from_state} by {action}" if left is not None and left.deadline else None,
        deadline={"state": new_state, "entry_seq": seq, "due_at": now + timedelta(seconds=entered.deadline),
                  "status": "pending", "outcome": ""} if entered is not None and entered.deadline else None,
        outbox=rows.outbox)
    if changed != 1:  # the version condition is the optimistic lock; a lost race wrote nothing
        raise Conflict(f"ticket {inst_id} was changed by someone else; reload and retry", code="version_conflict")
    rows.outbox = []
    rows.write(conn)  # vouchers, only after the version check
    _sync = set_committed_value if isinstance(inst, WorkflowInstance) else setattr
    for key, value in values.items():
        _sync(inst, key, value)
    return body


def _replayed(session: Session, instance_id: int, key: str, action: str) -> dict[str, Any] | None:
    prior = session.connection().execute(_FIND_KEY, {"b_id": instance_id, "b_key": key}).first()
    if prior is None:
        return None
    if prior.action != action:
        raise Conflict(f"Idempotency-Key {key} was already used for action {prior.action}",
                       code="idempotency_key_reused")
    return dict(prior.result or {})


def fire_action(services: Any, instance_id: int, action: str, payload: dict[str, Any], *, actor: str,
                role: str | None, via: str = "user", idempotency_key: str | None = None) -> dict[str, Any]:
    """Fire ``action`` on ticket ``instance_id`` in its own transaction; the ticket afterwards."""
    registry = registry_of(services)
    now = services.clock.now()
    try:
        with write_transaction(services) as session:
            inst = load_ticket(session, instance_id)
            if inst is None:
                raise NotFound(f"ticket {instance_id} does not exist", code="unknown_instance")
            compiled = registry.compiled(session, inst.ruleset, inst.ruleset_version, inst.machine)
            return fire_in(session, services, compiled, inst, action, payload, actor=actor, role=role, via=via,
                           idempotency_key=idempotency_key, now=now)
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


def get_instance(services: Any, instance_id: int, role: str | None = None) -> dict[str, Any]:
    """The ticket with its allowed actions (for ``role``), owner, deadline and history."""
    registry = registry_of(services)
    with services.db.session() as session:
        inst = session.get(WorkflowInstance, instance_id)
        if inst is None:
            raise NotFound(f"ticket {instance_id} does not exist", code="unknown_instance")
        compiled = registry.compiled(session, inst.ruleset, inst.ruleset_version, inst.machine)
        body = instance_body(inst)
        body["owner"] = compiled.owner_role(inst.state)
        body["allowed_actions"] = allowed_actions(compiled, inst.state, role)
        due = session.scalar(
            select(WorkflowDeadline.due_at).where(WorkflowDeadline.instance_id == inst.id,
                                                  WorkflowDeadline.status == "pending"))
        body["deadline_at"] = due.isoformat() if due else None
        body["history"] = history_of(session, inst.id)
        return body
