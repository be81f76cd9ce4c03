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

from sqlalchemy import Table, and_, exists, false, func, literal, or_, select
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
            if states:
                groups.append(Group(name, version, decl.name, states))
    return groups


def _where(session: Session, registry: MachineRegistry, f: TicketFilter, now: datetime) -> list[Any]:
    cond: list[Any] = [_I.c.closed.is_(f.closed)]
    if f.machines:
        cond.append(_I.c.machine.in_(list(f.machines)))
    if f.states:
        cond.append(_I.c.state.in_(list(f.states)))
    if f.owner:
        groups = owned_groups(session, registry, f.owner)
        if not groups:
            cond.append(false())
        else:
            cond.append(or_(*[and_(_I.c.ruleset == g.ruleset, _I.c.ruleset_version == g.version,
                                   _I.c.machine == g.machine, _I.c.state.in_(g.states)) for g in groups]))
    if f.overdue is True:
        cond.append(_D.c.due_at < now)
    elif f.overdue is False:
        cond.append(or_(_D.c.due_at.is_(None), _D.c.due_at >= now))
    if f.order_id:
        cond.append(_I.c.order_id == f.order_id)
    if f.channels:
        cond.append(exists().where(_T.c.instance_id == _I.c.id, _O.c.id == _T.c.order_pk,
                                   _O.c.channel.in_(list(f.channels))))
    if f.q:
        q = f.q.strip()
        wanted: list[Any] = [_I.c.order_id == q]
        if q.isdigit() and len(q) <= 18:
            wanted.append(_I.c.id == int(q))
        if len(q) == 4 and q.isdigit():
            wanted.append(_I.c.order_id.in_(select(_O.c.order_id).where(_O.c.phone_tail == q)))
        cond.append(or_(*wanted))
    return cond


def list_tickets(session: Session, registry: MachineRegistry, f: TicketFilter, *, role: str, now: datetime,
                 cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of tickets: ``{"items", "next_cursor"}``, overdue first, then by deadline."""
    due = func.coalesce(_D.c.due_at, literal(NO_DEADLINE, _D.c.due_at.type))
    stmt = (select(_I.c.id, _I.c.machine, _I.c.ruleset, _I.c.ruleset_version, _I.c.state, _I.c.data,
                   _I.c.order_id, _I.c.created_at, _I.c.state_entered_at, _I.c.closed, _D.c.due_at)
            .select_from(_I.outerjoin(_D, and_(_D.c.instance_id == _I.c.id, _D.c.status == "pending")))
            .where(*_where(session, registry, f, now)))
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(due > at, and_(due == at, _I.c.id > pk)))
    rows = session.execute(stmt.order_by(due, _I.c.id).limit(limit + 1)).all()
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
