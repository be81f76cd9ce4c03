"""The ticket list (``GET /api/v1/instances``, 我的待办 and the kanban): open tickets filtered by
machine, state, owner role, overdue, order, channel and a search text, ordered by their
deadline (overdue first, then the nearest deadline, tickets without a deadline last) and paged
with an opaque cursor.

Owns the read query only. A ticket's owner is its state's ``owner`` in the machine version the
ticket runs on, so the owner filter is resolved from the published versions into a set of
(ruleset, version, machine, states) groups and becomes a plain ``IN`` on indexed columns; the
deadline is the ticket's pending row in ``workflow_deadlines``. Phones in ticket data are
masked for roles that do not see them on orders (:mod:`engine.orders.visibility`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, cast

from sqlalchemy import Table, and_, exists, false, literal, or_, select, union
from sqlalchemy.orm import Session

from engine.api.cursors import decode_cursor, encode_cursor
from engine.auth.roles import normalize_role
from engine.masking import mask_data
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderTicket
from engine.orders.visibility import visibility_for
from engine.storage.models import Ruleset, RulesetVersion
from engine.workflow.models import WorkflowDeadline, WorkflowInstance
from engine.workflow.registry import MachineRegistry

__all__ = ["MAX_LIMIT", "NO_DEADLINE", "TicketFilter", "list_tickets", "owned_groups"]

MAX_LIMIT = 200
# Tickets without a deadline sort after every real one (and page by this stand-in).
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=timezone.utc)

_I = cast(Table, WorkflowInstance.__table__)
_D = cast(Table, WorkflowDeadline.__table__)
_O = cast(Table, Order.__table__)
_T = cast(Table, OrderTicket.__table__)


@dataclass(frozen=True)
class TicketFilter:
    machines: Sequence[str] = ()
    states: Sequence[str] = ()
    owner: str | None = None  # a role code; None: any owner
    overdue: bool | None = None
    order_id: str | None = None
    channels: Sequence[str] = ()
    q: str | None = None
    closed: bool = False
    # False: no matching state declares a deadline (the kanban's undated columns): one read in
    # id order, a ticket left with a deadline by an older version included
    dated: bool | None = None


@dataclass(frozen=True)
class Group:
    """States of one machine version owned by one role."""

    ruleset: str
    version: int
    machine: str
    states: tuple[str, ...]


def owned_groups(session: Session, registry: MachineRegistry, owner: str) -> list[Group]:
    """Every (ruleset, version, machine) whose states ``owner`` owns, from all published
    versions (a ticket stays on the version it started on)."""
    rows = session.execute(select(Ruleset.name, RulesetVersion.version)
                           .join(RulesetVersion, RulesetVersion.ruleset_id == Ruleset.id)).all()
    groups = []
    for name, version in rows:
        for decl in registry.ruleset_model(session, name, version).machines:
            states = tuple(s.name for s in decl.states
                           if s.owner is not None and (normalize_role(s.owner) or s.owner) == owner)
            groups.append(Group(name, version, decl.name, states))
    return groups


def _owned(groups: list[Group]) -> Any:
    """The tickets in a state ``groups`` say the role owns. A machine whose every published
    version gives the role the same states is asked by (machine, state) alone — the shape of
    the (machine, state) index, and one the planner estimates well; otherwise per version."""
    by_machine: dict[str, set[tuple[str, ...]]] = {}
    for g in groups:
        by_machine.setdefault(g.machine, set()).add(tuple(sorted(g.states)))
    wanted: list[Any] = []
    for machine, variants in sorted(by_machine.items()):
        if len(variants) == 1:
            (states,) = variants
            if states:
                wanted.append(and_(_I.c.machine == machine, _I.c.state.in_(states)))
            continue
        wanted += [and_(_I.c.ruleset == g.ruleset, _I.c.ruleset_version == g.version, _I.c.machine == g.machine,
                        _I.c.state.in_(g.states)) for g in groups if g.machine == machine and g.states]
    return or_(*wanted) if wanted else false()


def _where(session: Session, registry: MachineRegistry, f: TicketFilter, now: datetime) -> list[Any]:
    cond: list[Any] = [_I.c.closed == f.closed]  # = (not IS): an index condition on PostgreSQL
    if f.machines:
        cond.append(_I.c.machine.in_(list(f.machines)))
    if f.states:
        cond.append(_I.c.state.in_(list(f.states)))
    if f.owner:
        cond.append(_owned(owned_groups(session, registry, f.owner)))
    if f.order_id:
        cond.append(_I.c.order_id == f.order_id)
    if f.channels:
        cond.append(exists().where(_T.c.instance_id == _I.c.id, _O.c.id == _T.c.order_pk,
                                   _O.c.channel.in_(list(f.channels))))
    if f.q:
        q = f.q.strip()
        # each way of matching is its own indexed read; the ticket is any of them
        wanted: list[Any] = [select(_I.c.id).where(_I.c.order_id == q)]
        if q.isdigit() and len(q) <= 18:
            wanted.append(select(_I.c.id).where(_I.c.id == int(q)))
        if len(q) == 4 and q.isdigit():
            wanted.append(select(_I.c.id).where(_I.c.order_id.in_(select(_O.c.order_id)
                                                                    .where(_O.c.phone_tail == q))))
        cond.append(_I.c.id.in_(union(*wanted)) if len(wanted) > 1 else _I.c.id.in_(wanted[0]))
    return cond


def _pending() -> Any:
    return exists().where(_D.c.instance_id == _I.c.id, _D.c.status == "pending")


def list_tickets(session: Session, registry: MachineRegistry, f: TicketFilter, *, role: str, now: datetime,
                 cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of tickets: ``{"items", "next_cursor"}``, overdue first, then by deadline.

    Two ordered reads, each able to stop after ``limit`` rows: the tickets with a pending
    deadline, walked in deadline order from ``workflow_deadlines`` (index on status, due_at),
    then the tickets without one, in id order. The cursor holds the last row's (deadline or
    :data:`NO_DEADLINE`, id), so it says which read to continue."""
    at, pk = decode_cursor(cursor) if cursor else (None, 0)
    cond = _where(session, registry, f, now)
    # overdue is a property of the deadline read (a ticket without a deadline is never overdue)
    on_deadline = [_D.c.due_at < now] if f.overdue is True else [_D.c.due_at >= now] if f.overdue is False else []
    columns = (_I.c.id, _I.c.machine, _I.c.ruleset, _I.c.ruleset_version, _I.c.state, _I.c.data, _I.c.order_id,
               _I.c.created_at, _I.c.state_entered_at, _I.c.closed)
    rows: list[Any] = []
    if (at is None or at < NO_DEADLINE) and f.dated is not False:
        timed = (select(*columns, _D.c.due_at).select_from(_D.join(_I, _I.c.id == _D.c.instance_id))
                 .where(_D.c.status == "pending", *cond, *on_deadline))
        if at is not None:
            timed = timed.where(or_(_D.c.due_at > at, and_(_D.c.due_at == at, _I.c.id > pk)))
        rows = list(session.execute(timed.order_by(_D.c.due_at, _I.c.id).limit(limit + 1)).all())
    if len(rows) <= limit and f.overdue is not True:
        untimed = (select(*columns, literal(None, _D.c.due_at.type).label("due_at"))
                   .where(*cond, *([] if f.dated is False else [~_pending()])))
        if at is not None and at >= NO_DEADLINE:
            untimed = untimed.where(_I.c.id > pk)
        rows += list(session.execute(untimed.order_by(_I.c.id).limit(limit + 1 - len(rows))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    phones = visibility_for(role).phone
    items = []
    for r in rows:
        compiled = registry.compiled(session, r.ruleset, r.ruleset_version, r.machine)
        due_at = r.due_at
        data = dict(r.data or {})
        items.append({
            "id": r.id, "machine": r.machine, "machine_title": compiled.decl.title or r.machine,
            "ruleset": r.ruleset, "ruleset_version": r.ruleset_version, "state": r.state,
            "owner": compiled.owner_role(r.state), "order_id": r.order_id,
            "data": data if phones else mask_data(data),
            "created_at": r.created_at.isoformat(), "state_entered_at": r.state_entered_at.isoformat(),
            "deadline_at": due_at.isoformat() if due_at else None,
            "seconds_left": int((due_at - now).total_seconds()) if due_at else None,
            "overdue": bool(due_at and due_at < now),
            "allowed_actions": compiled.allowed_actions(r.state, role),
        })
    if items:
        found = session.execute(select(_T.c.instance_id, _O.c.channel).join(_O, _O.c.id == _T.c.order_pk)
                                .where(_T.c.instance_id.in_([i["id"] for i in items]))).all()
        channels = {row.instance_id: row.channel for row in found}
        for item in items:
            item["channel"] = channels.get(item["id"]) or item["data"].get("channel")
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(last.due_at or NO_DEADLINE, last.id)
    return {"items": items, "next_cursor": next_cursor}
