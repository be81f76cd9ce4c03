"""我的待办: every open ticket the signed-in role owns, across machines, overdue first, then by
deadline, with the time left; filters by machine, state and channel; search by order id or the
phone's last four digits. 管理员 and 运营 may look at another role's queue.

Reads :func:`engine.workflow.listing.list_tickets`, the query behind ``GET /api/v1/instances``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy.orm import Session

from builder_ui.pages import READERS, page, services
from dsl import model as m
from engine.auth.access import allow, current_principal
from engine.auth.roles import STAFF_ROLES
from engine.orders.document import CHANNELS
from engine.workflow.listing import TicketFilter, list_tickets
from engine.workflow.registry import MachineRegistry, registry_of

PAGE_SIZE = 50
QUEUE_CHOOSERS = ("admin", "ops")  # may open another role's queue


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/work", "work", work_page, methods=["GET"])


def published_machines(session: Session, registry: MachineRegistry) -> list[tuple[str, m.MachineDecl]]:
    """(ruleset, machine declaration) of every machine in the current published versions."""
    found = []
    for name, version in registry.published_rulesets(session):
        for decl in registry.ruleset_model(session, name, version).machines:
            found.append((name, decl))
    return found


def _arg(name: str) -> str | None:
    value = request.args.get(name, "").strip()
    return value[:128] or None


@allow(*READERS)
def work_page() -> Any:
    user = current_principal()
    svc = services()
    registry = registry_of(svc)
    owner = user.role
    chosen = _arg("owner")
    if chosen in STAFF_ROLES and user.role in QUEUE_CHOOSERS:
        owner = chosen
    machine, state, channel, q = _arg("machine"), _arg("state"), _arg("channel"), _arg("q")
    f = TicketFilter(machines=[machine] if machine else [], states=[state] if state else [], owner=owner,
                     channels=[channel] if channel in CHANNELS else [], q=q)
    with svc.db.session() as session:
        machines = published_machines(session, registry)
        result = list_tickets(session, registry, f, role=user.role, now=svc.clock.now(), cursor=_arg("cursor"),
                              limit=PAGE_SIZE)
    states = sorted({s.name for _, d in machines for s in d.states if not s.final})
    return page("boards/work.html", title="我的待办", active_nav="work", items=result["items"],
                next_cursor=result["next_cursor"], machines=machines, states=states, channels=CHANNELS,
                roles=STAFF_ROLES, owner=owner, may_choose=user.role in QUEUE_CHOOSERS,
                form={"machine": machine or "", "state": state or "", "channel": channel or "", "q": q or ""})
