"""看板: one machine's open tickets as columns, one per state (owner and deadline in the
header), cards with the order, age and time left, the actions the user's role may press as
buttons (an action that ``requires`` fields opens a small form for them), refusals explained in
place in Chinese, a ticket's history in a side panel, and the machine's diagram with the open
tickets per state.

Actions go through :func:`engine.workflow.service.fire_action`, the same use case as
``POST /api/v1/instances/{id}/actions/{action}``; the listing is
:func:`engine.workflow.listing.list_tickets`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from sqlalchemy import false, func, select

from builder_ui.boards.work import published_machines
from builder_ui.pages import READERS, page, services
from builder_ui.sandbox import refusal_zh
from engine.auth.access import allow, current_principal
from engine.errors import ApiError, NotFound
from engine.workflow import service as workflow
from engine.workflow.diagram import format_duration, render_swimlanes
from engine.workflow.listing import TicketFilter, list_tickets
from engine.workflow.models import WorkflowInstance
from engine.workflow.registry import registry_of
from engine.workflow.service import ActionRefused

CARDS_PER_COLUMN = 20


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/boards", "kanban_index", kanban_index, methods=["GET"])
    bp.add_url_rule("/boards/<machine>", "kanban", kanban_page, methods=["GET"])
    bp.add_url_rule("/boards/tickets/<int:ticket_id>/actions/<action>", "kanban_action", press_action,
                    methods=["POST"])


def open_counts_statement(machine: str) -> Any:
    """Open tickets per state of ``machine`` (an index-only read of (machine, closed, state, id))."""
    return (select(WorkflowInstance.state, func.count())
            .where(WorkflowInstance.machine == machine, WorkflowInstance.closed == false())
            .group_by(WorkflowInstance.state))


def _open_counts(session: Any, machine: str) -> dict[str, int]:
    return {state: int(n) for state, n in session.execute(open_counts_statement(machine)).all()}


@allow(*READERS)
def kanban_index() -> Any:
    svc = services()
    with svc.db.session() as session:
        machines = published_machines(session, registry_of(svc))
        counts = {d.name: sum(_open_counts(session, d.name).values()) for _, d in machines}
    if len(machines) == 1:
        ruleset, decl = machines[0]
        return redirect(url_for("builder.kanban", machine=decl.name, ruleset=ruleset))
    return page("boards/kanban_index.html", title="看板", active_nav="kanban", machines=machines, counts=counts)


def _board(machine: str, *, refused: dict[str, Any] | None = None, status: int = 200) -> Any:
    user = current_principal()
    svc = services()
    registry = registry_of(svc)
    ruleset = request.args.get("ruleset") or request.form.get("ruleset") or None
    selected = request.args.get("ticket", type=int) or (refused or {}).get("ticket")
    now = svc.clock.now()
    with svc.db.session() as session:
        compiled = registry.latest(session, machine, ruleset)
        decl = compiled.decl
        counts = _open_counts(session, machine)
        columns = []
        for state in decl.states:
            if state.final:
                continue
            cards = list_tickets(session, registry, TicketFilter(machines=[machine], states=[state.name],
                                                            dated=None if state.deadline else False),
                                 role=user.role, now=now, cursor=None, limit=CARDS_PER_COLUMN)["items"]
            for card in cards:
                card["age_seconds"] = int((now - _parse(card["created_at"])).total_seconds())
                card["actions"] = [a for a in decl.actions_from(state.name) if a.name in card["allowed_actions"]]
            columns.append({"state": state, "owner": compiled.owner_role(state.name),
                            "deadline": format_duration(state.deadline) if state.deadline else None,
                            "count": counts.get(state.name, 0), "cards": cards})
        panel = None
        if selected:
            try:
                panel = workflow.get_instance(svc, int(selected), user.role)
            except NotFound:
                panel = None
    svg = render_swimlanes(decl, counts=counts)
    return page("boards/kanban.html", status, title=f"看板 · {decl.title or decl.name}", active_nav="kanban",
                machine=decl, ruleset=compiled.ruleset, columns=columns, svg=svg, panel=panel,
                selected=selected, refused=refused, now=now)


def _parse(iso: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(iso)


@allow(*READERS)
def kanban_page(machine: str) -> Any:
    return _board(machine)


@allow(*READERS)
def press_action(ticket_id: int, action: str) -> Any:
    """Fire ``action`` with the form's fields as its payload; a refusal is shown on the card."""
    user = current_principal()
    svc = services()
    payload = {k: v.strip() for k, v in request.form.items()
               if k not in ("csrf_token", "ruleset", "machine") and v.strip()}
    machine = request.form.get("machine", "")
    try:
        moved = workflow.fire_action(svc, ticket_id, action, payload, actor=f"user:{user.username}",
                                     role=user.role, via="user")
    except ActionRefused as err:
        refused = {"ticket": ticket_id, "action": action, "message": refusal_zh(err, action), "payload": payload}
        return _board(moved_machine(svc, ticket_id, machine), refused=refused, status=err.status)
    except ApiError as err:
        if err.code == "unknown_instance":
            raise
        refused = {"ticket": ticket_id, "action": action, "message": err.message, "payload": payload}
        return _board(moved_machine(svc, ticket_id, machine), refused=refused, status=err.status)
    step = moved.get("action") or {}
    flash(f"已执行「{action}」：工单 #{ticket_id} 从「{step.get('from', '')}」到「{step.get('to', moved['state'])}」")
    return redirect(url_for("builder.kanban", machine=moved["machine"], ruleset=moved["ruleset"], ticket=ticket_id))


def moved_machine(svc: Any, ticket_id: int, fallback: str) -> str:
    with svc.db.session() as session:
        found = session.get(WorkflowInstance, ticket_id)
        return found.machine if found is not None else fallback
