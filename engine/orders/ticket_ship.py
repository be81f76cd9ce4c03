"""The order ticket's ship action pressed by a person: ``POST /instances/{id}/actions/发货`` on an
order ticket ships the order through the same use case as ``POST /orders/{id}/ship``.

The workflow hands the action over (:class:`engine.workflow.ports.ActionHandover`, wired by the
composition root) when the ticket is an order ticket (``order_tickets`` kind ``order``) and the
action is the one its ``follow … for orders`` declaration binds last to ``shipped``
(:func:`ship_action_of`; the actions before it bring a ticket that lags behind up to it, e.g. a
presale ticket's 付定金, 付尾款). Tickets of other machines cost no query: the check reads the
cached model of the ticket's ruleset version first. :func:`ship_by_action` then:

1. answers a replay of the same ``Idempotency-Key`` with the ticket's first answer (one
   shipment, nothing changed);
2. runs the workflow's checks on the action (state, role, required fields, guard) before
   anything moves: a refusal is the workflow's own (403, 409, 422);
3. reads the ship request from the action's payload — ``courier``, ``tracking_no`` and the
   optional ``lines``, as ``POST /orders/{id}/ship`` takes them — refused with a 422 naming the
   field (``/courier`` missing or not in the carrier table …);
4. ships with :func:`engine.orders.shipping.ship_order` (``via="machine"``), which fires this
   very action, with the person's role and key, in the shipment's transaction instead of the
   actions bound to ``shipped`` — so it fires once, and the ticket moves only with a shipment.

A refused shipment (no reservation, order on hold) refuses the action and changes nothing. A
crash after the stock left and before the shipment's transaction is finished by the same request
again (the stock's ship is idempotent by order and tracking number). Nothing here writes outside
those use cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsl import model as m
from dsl import order_model as om
from engine.errors import Conflict, NotFound
from engine.orders.order_tickets import ORDER_KIND
from engine.orders.pipeline_model import OrderTicket
from engine.orders.shipping import TicketPress, read_request, ship_order
from engine.workflow.machine import Refusal
from engine.workflow.models import WorkflowTransition
from engine.workflow.registry import registry_of
from engine.workflow.service import ActionRefused, load_ticket

if TYPE_CHECKING:
    from engine.services import Services
    from engine.workflow.ports import ActionCarrier

__all__ = ["SHIP_FIELDS", "claim_ship_action", "ship_action_of", "ship_by_action"]

# the fields of the action's payload that make the ship request (as POST /orders/{id}/ship names them)
SHIP_FIELDS = ("courier", "tracking_no", "lines")


def ship_action_of(rules: m.Ruleset, machine: str) -> str | None:
    """The action a person presses on an order ticket of ``machine`` to ship its order: the last
    one the ruleset's ``follow … for orders on machine`` binds to ``shipped`` (None: none)."""
    for decl in rules.follows:
        if decl.subject == "orders" and decl.machine == machine:  # the one its tickets follow
            for bound in decl.statuses:
                if om.canonical_status(bound.status) == "shipped" and bound.actions:
                    return bound.actions[-1]
            return None
    return None


def claim_ship_action(session: Session, services: Services, ticket: Any, action: str) -> ActionCarrier | None:
    """The carrier of ``action`` on ``ticket`` when it is an order ticket's ship action, else None
    (the workflow fires it). Only reads."""
    rules = registry_of(services).ruleset_model(session, ticket.ruleset, ticket.ruleset_version)
    if ship_action_of(rules, ticket.machine) != action:
        return None
    order_pk = session.scalar(select(OrderTicket.order_pk).where(OrderTicket.instance_id == ticket.id,
                                                                 OrderTicket.kind == ORDER_KIND))
    if order_pk is None:  # a ticket of that machine opened by hand: the workflow fires it
        return None
    return partial(ship_by_action, services, order_pk, ticket.id, action)


def ship_by_action(services: Services, order_pk: int, instance_id: int, action: str, payload: dict[str, Any], *,
                   actor: str, role: str | None, idempotency_key: str | None) -> dict[str, Any]:
    """Ship order ``order_pk`` as the press of ``action`` on its ticket ``instance_id`` asks
    (see the module docstring); the ticket after the action, as the workflow answers one."""
    with services.db.session() as session:
        if idempotency_key:
            first = _first_answer(session, instance_id, idempotency_key, action)
            if first is not None:
                return first
        inst = load_ticket(session, instance_id)
        if inst is None:
            raise NotFound(f"ticket {instance_id} does not exist", code="unknown_instance")
        compiled = registry_of(services).compiled(session, inst.ruleset, inst.ruleset_version, inst.machine)
        decision = compiled.check_action(inst.state, action, payload, data=inst.data, instance_id=inst.id,
                                         via="user", role=role)
        if isinstance(decision, Refusal):
            raise ActionRefused.of(decision)
    request = read_request({k: payload[k] for k in SHIP_FIELDS if k in payload})
    # the ticket keeps the courier by its name and the tracking number as it was shipped
    pressed = {**payload, "courier": request.carrier.name, "tracking_no": request.tracking_no}
    press = TicketPress(instance_id, action, pressed, role, idempotency_key)
    result = ship_order(services, order_pk, request, via="machine", actor=actor, press=press)
    assert result.ticket is not None  # ship_order fires the pressed action or raises
    return result.ticket


def _first_answer(session: Session, instance_id: int, key: str, action: str) -> dict[str, Any] | None:
    prior = session.execute(select(WorkflowTransition.action, WorkflowTransition.result).where(
        WorkflowTransition.instance_id == instance_id, WorkflowTransition.idempotency_key == key)).first()
    if prior is None:
        return None
    if prior.action != action:
        raise Conflict(f"Idempotency-Key {key} was already used for action {prior.action}",
                       code="idempotency_key_reused")
    result = prior.result
    return dict(result) if isinstance(result, Mapping) else {}
