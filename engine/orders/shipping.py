"""Shipping an order: the use case behind ``POST /orders/{id}/ship`` and the WMS shipping
callback.

One shipment (courier, tracking number, the lines it carries — all that is still unshipped
when none are named):

1. the request is checked before anything changes (:func:`read_request`: the courier must be
   one of the carrier table's, the tracking number 4–40 letters, digits or ``-``, each line an
   order SKU with a positive quantity no larger than what is still unshipped; every problem
   is named by its JSON pointer);
2. the stock leaves the warehouse: inventory ``ship`` of the order's reservation (keyed by the
   order, see :func:`reservation_key`), idempotent by ``ship:<order>:<tracking number>``;
3. in one transaction: the ``order_shipments`` row (unique per order and tracking number, so
   the same request twice is one shipment: the second gets the first answer), the order's
   status (``shipped`` once every line is shipped, else ``partially_shipped``) and its
   tracking number, the timeline entry (who, how, courier, lines), the write-back to the
   platform as an outbox row (:mod:`engine.orders.writeback`, the source's declared retries),
   and the order ticket's 发货 action (:func:`fire_ticket_shipped`, the seam to the tickets
   area) — or, when a person pressed that action on the ticket (``via="machine"``, a
   :class:`TicketPress` from :mod:`engine.orders.ticket_ship`), that very action with its
   role, payload and idempotency key, so it fires once and moves with the shipment.

A process that dies between steps 2 and 3 leaves the stock shipped and no shipment: the same
request again (the WMS retries until answered; a person presses 发货 again) replays step 2 and
does step 3. Nothing here speaks to a platform: the outbox does, after the commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.analytics.deviation_counts import refresh_orders as refresh_deviation
from engine.errors import Conflict, NotFound, Unprocessable
from engine.fulfillment.presale_counts import refresh_orders as refresh_presale
from engine.inventory.domain import ShipRefused, UnknownOrder
from engine.inventory.service import inventory_for
from engine.logs import get_logger
from engine.orders.carriers import Carrier, UnknownCarrier, find_carrier
from engine.orders.document import STATUSES
from engine.orders.model import Order, OrderLine
from engine.orders.order_tickets import fire_for_status
from engine.orders.pipeline_model import OrderShipment
from engine.orders.stages import OrderRef, StageNote, load_ref, record
from engine.orders.writeback import enqueue_writeback, shipment_view
from engine.workflow.registry import registry_of
from engine.workflow.service import fire_in, load_ticket

if TYPE_CHECKING:
    from engine.services import Services

log = get_logger(__name__)

__all__ = ["ShipRequest", "ShipResult", "TicketPress", "fire_ticket_shipped", "read_request", "reservation_key",
           "ship_order"]

TRACKING_NO = re.compile(r"^[A-Za-z0-9-]{4,40}$")
SHIPPABLE = ("awaiting_shipment", "partially_shipped")
MAX_LINES = 500
VIAS = ("api", "wms", "machine")


@dataclass(frozen=True)
class ShipRequest:
    """A checked ship request: the carrier, the tracking number, and the SKUs and quantities
    asked for (None: everything still unshipped)."""

    carrier: Carrier
    tracking_no: str
    lines: tuple[tuple[str, int], ...] | None


@dataclass(frozen=True)
class ShipResult:
    """The shipment as stored and whether this request only found it (a replay); with a
    :class:`TicketPress`, the ticket after its action (as the workflow answers an action)."""

    shipment: dict[str, Any]
    order_status: str
    replayed: bool
    ticket: dict[str, Any] | None = None


@dataclass(frozen=True)
class TicketPress:
    """The order ticket's ship action as a person pressed it: fired in the shipment's
    transaction in place of the actions bound to ``shipped``, with the person's role, payload
    and idempotency key (its checks ran before the stock moved; they run again here)."""

    instance_id: int
    action: str
    payload: Mapping[str, Any]
    role: str | None
    idempotency_key: str | None


def reservation_key(order: OrderRef) -> str:
    """The ``order_id`` the order's stock reservation is kept under (``channel/order_id``).

    SEAM with the pipeline's reserve stage (branch ``spine``): both must key the reservation
    the same way; this is the one place shipping says how.
    """
    return order.ref


# --------------------------------------------------------------------------- the request


def read_request(body: Any) -> ShipRequest:
    """The checked form of a ship request body, or :class:`Unprocessable` listing every
    problem with its JSON pointer (nothing is changed by a refused request)."""
    if not isinstance(body, Mapping):
        raise Unprocessable("the ship request must be a JSON object", code="invalid_ship_request",
                            details=[{"path": "", "message": "not an object"}])
    problems: list[dict[str, Any]] = []
    unknown = sorted(set(body) - {"courier", "tracking_no", "lines"})
    problems += [{"path": f"/{name}", "message": "unknown field"} for name in unknown]
    carrier = None
    courier = body.get("courier")
    if not isinstance(courier, str) or not courier.strip():
        problems.append({"path": "/courier", "message": "required: the courier's code or name (e.g. SF, 顺丰)"})
    else:
        try:
            carrier = find_carrier(courier)
        except UnknownCarrier as exc:
            problems.append({"path": "/courier", "message": exc.message, "known": list(exc.known)})
    tracking = body.get("tracking_no")
    if not isinstance(tracking, str) or not TRACKING_NO.match(tracking.strip()):
        problems.append({"path": "/tracking_no",
                         "message": "required: 4 to 40 letters, digits or '-' (the courier's waybill number)"})
    lines = _read_lines(body.get("lines"), problems) if "lines" in body else None
    if problems or carrier is None:
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:4])
        raise Unprocessable(f"the ship request is invalid: {summary}", code="invalid_ship_request", details=problems)
    return ShipRequest(carrier, str(tracking).strip(), lines)


def _read_lines(raw: Any, problems: list[dict[str, Any]]) -> tuple[tuple[str, int], ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or len(raw) > MAX_LINES:
        problems.append({"path": "/lines", "message": f"a list of 1 to {MAX_LINES} {{sku_id, qty}} objects"})
        return None
    merged: dict[str, int] = {}
    for i, line in enumerate(raw):
        if not isinstance(line, Mapping):
            problems.append({"path": f"/lines/{i}", "message": "an object {sku_id, qty}"})
            continue
        sku, qty = line.get("sku_id"), line.get("qty")
        extra = sorted(set(line) - {"sku_id", "qty"})
        problems += [{"path": f"/lines/{i}/{name}", "message": "unknown field"} for name in extra]
        if not isinstance(sku, str) or not sku.strip():
            problems.append({"path": f"/lines/{i}/sku_id", "message": "required: the SKU code"})
            continue
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 1_000_000:
            problems.append({"path": f"/lines/{i}/qty", "message": "a whole number from 1"})
            continue
        merged[sku.strip()] = merged.get(sku.strip(), 0) + qty
    return tuple(merged.items())


# --------------------------------------------------------------------------- the use case


def ship_order(services: Services, order_pk: int, request: ShipRequest, *, via: str, actor: str,
               now: datetime | None = None, press: TicketPress | None = None) -> ShipResult:
    """Ship ``request`` of order ``order_pk`` (see the module docstring). Refusals:
    :class:`NotFound` (no such order), :class:`Conflict` (the order may not ship now, it has
    no reservation, or the tracking number is already another shipment's) and
    :class:`Unprocessable` (a line the order does not have, or more than it has unshipped)."""
    if via not in VIAS:
        raise ValueError(f"via must be one of {VIAS}")
    now = now or services.clock.now()
    with services.db.session() as session:
        order = load_ref(session, order_pk)
        if order is None:
            raise NotFound(f"order {order_pk} does not exist", code="order_not_found")
        first = _existing(session, order_pk, request.tracking_no)
        if first is not None:
            replayed = _replay(first, request, order.status)
            return replayed if press is None else _press_alone(services, order, press, replayed, actor=actor, now=now)
        if order.status not in SHIPPABLE:
            raise Conflict(f"order {order.ref} is {STATUSES.get(order.status, order.status)} ({order.status}): "
                           f"only orders 待发货 or 部分发货 ship", code="order_not_shippable",
                           details=[{"path": "", "status": order.status}])
        lines = _order_lines(session, order_pk)
        shipped = _shipped_so_far(session, order_pk)
    wanted = _wanted(request, lines, shipped)
    key = f"ship:{order.ref}:{request.tracking_no}"
    try:
        inventory_for(services).ship(reservation_key(order), [{"sku_id": s, "qty": q} for s, q in wanted.items()],
                                     key=key, actor=actor)
    except UnknownOrder:
        raise Conflict(f"order {order.ref} has no stock reservation: it must be reserved before it ships",
                       code="not_reserved") from None
    except ShipRefused as exc:
        raise Conflict(f"order {order.ref}: {exc.message}", code="ship_refused", details=exc.details) from None
    try:
        return _record(services, order, request, wanted, lines, shipped, via=via, actor=actor, now=now, press=press)
    except IntegrityError:  # the same request at the same time: the other one stored it
        with services.db.session() as session:
            first = _existing(session, order_pk, request.tracking_no)
            current = load_ref(session, order_pk)
        if first is None or current is None:
            raise
        return _replay(first, request, current.status)


def _existing(session: Session, order_pk: int, tracking_no: str) -> OrderShipment | None:
    found = session.scalar(select(OrderShipment).where(OrderShipment.order_pk == order_pk,
                                                       OrderShipment.tracking_no == tracking_no))
    if found is not None:
        session.expunge(found)
    return found


def _replay(first: OrderShipment, request: ShipRequest, status: str) -> ShipResult:
    asked = dict(request.lines) if request.lines is not None else None
    same_lines = asked is None or asked == {ln["sku_id"]: ln["qty"] for ln in first.lines or []}
    if first.courier != request.carrier.code or not same_lines:
        raise Conflict(f"tracking number {first.tracking_no} is already shipment {first.id} of this order "
                       f"({first.courier}); a different shipment needs its own tracking number",
                       code="tracking_no_taken", details=[{"path": "/tracking_no", "shipment": first.id}])
    return ShipResult(shipment_view(first), status, replayed=True)


def _order_lines(session: Session, order_pk: int) -> list[OrderLine]:
    rows = list(session.scalars(select(OrderLine).where(OrderLine.order_pk == order_pk).order_by(OrderLine.line_no)))
    for row in rows:
        session.expunge(row)
    return rows


def _shipped_so_far(session: Session, order_pk: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for shipment_lines in session.scalars(select(OrderShipment.lines).where(OrderShipment.order_pk == order_pk)):
        for line in shipment_lines or []:
            out[line["sku_id"]] = out.get(line["sku_id"], 0) + int(line["qty"])
    return out


def _ordered(lines: Sequence[OrderLine]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        if line.sku_id:
            out[line.sku_id] = out.get(line.sku_id, 0) + int(line.qty)
    return out


def _wanted(request: ShipRequest, lines: Sequence[OrderLine], shipped: Mapping[str, int]) -> dict[str, int]:
    ordered = _ordered(lines)
    open_qty = {sku: qty - shipped.get(sku, 0) for sku, qty in ordered.items() if qty - shipped.get(sku, 0) > 0}
    if request.lines is None:
        if not open_qty:
            raise Conflict("every line of the order is shipped already", code="nothing_to_ship")
        return open_qty
    problems = []
    for i, (sku, qty) in enumerate(request.lines):
        if sku not in ordered:
            problems.append({"path": f"/lines/{i}/sku_id", "message": f"the order has no line of SKU {sku}"})
        elif qty > open_qty.get(sku, 0):
            problems.append({"path": f"/lines/{i}/qty", "message": f"{sku}: {open_qty.get(sku, 0)} left to ship "
                             f"(ordered {ordered[sku]}, shipped {shipped.get(sku, 0)}), asked {qty}"})
    if problems:
        raise Unprocessable("the ship request asks for lines the order does not have unshipped",
                            code="invalid_ship_request", details=problems)
    return dict(request.lines)


def _shipment_lines(lines: Sequence[OrderLine], wanted: Mapping[str, int]) -> list[dict[str, Any]]:
    """The shipped quantities spread over the order's lines of each SKU (first lines first)."""
    left = dict(wanted)
    out = []
    for line in lines:
        take = min(int(line.qty), left.get(line.sku_id or "", 0))
        if take > 0:
            left[line.sku_id or ""] -= take
            out.append({"line_no": line.line_no, "line_id": line.line_id, "sku_id": line.sku_id,
                        "platform_sku_id": line.platform_sku_id, "qty": take})
    return out


def _record(services: Services, order: OrderRef, request: ShipRequest, wanted: Mapping[str, int],
            lines: Sequence[OrderLine], shipped: Mapping[str, int], *, via: str, actor: str,
            now: datetime, press: TicketPress | None = None) -> ShipResult:
    carried = _shipment_lines(lines, wanted)
    after = {sku: shipped.get(sku, 0) + wanted.get(sku, 0) for sku in _ordered(lines)}
    complete = all(after[sku] >= qty for sku, qty in _ordered(lines).items())
    status = "shipped" if complete else "partially_shipped"
    with services.db.transaction(immediate=True) as session:
        shipment = OrderShipment(order_pk=order.pk, courier=request.carrier.code, tracking_no=request.tracking_no,
                                 lines=carried, via=via, actor=actor, at=now, writeback_status="pending")
        session.add(shipment)
        session.flush()  # the unique (order, tracking number) refuses a twin here
        message = enqueue_writeback(session, order, shipment, request.carrier, partial=not complete, now=now)
        shipment.delivery_id = message.delivery_id
        _mark_order(session, order, request, status, now)
        refresh_deviation(session.connection(), [order.pk])  # the deviation and presale counters ship with it
        refresh_presale(session.connection(), [order.pk])
        notes = [StageNote(kind=status, detail={
            "shipment": shipment.id, "courier": request.carrier.code, "courier_name": request.carrier.name,
            "tracking_no": request.tracking_no, "via": via, "lines": carried,
            "message": f"{request.carrier.name} {request.tracking_no} 发货 {sum(wanted.values())} 件"
                       + ("" if complete else "（部分发货）")})]
        ticket = None
        if press is None:
            notes += fire_ticket_shipped(session, services, order, actor=actor, tracking_no=request.tracking_no,
                                         courier=request.carrier.name, now=now)
        else:  # the pressed action itself; a refusal here rolls the whole shipment back
            pressed, ticket = fire_pressed(session, services, press, actor=actor, now=now)
            notes.append(pressed)
        record(session, order, notes, actor=actor, now=now)
        view = shipment_view(shipment)
    log.info("order shipped", order=order.ref, shipment=view["id"], courier=request.carrier.code, via=via,
             status=status)
    return ShipResult(view, status, replayed=False, ticket=ticket)


def _mark_order(session: Session, order: OrderRef, request: ShipRequest, status: str, now: datetime) -> None:
    doc = dict(order.doc)
    doc["status"] = status
    doc["tracking"] = {"courier": request.carrier.name, "number": request.tracking_no}
    if not doc.get("shipped_at"):
        doc["shipped_at"] = now.isoformat()
    session.execute(update(Order).where(Order.id == order.pk).values(status=status, doc=doc, changed_at=now))


# --------------------------------------------------------------------------- the order ticket


def fire_ticket_shipped(session: Session, services: Services, order: OrderRef, *, actor: str, tracking_no: str,
                        courier: str, now: datetime) -> list[StageNote]:
    """Fire what the order ticket's declaration binds to ``shipped`` (the 发货 action) for a
    shipment we made, in this transaction."""
    return fire_for_status(session, services, order, "shipped", actor=actor,
                           payload={"tracking_no": tracking_no, "courier": courier}, now=now)


def fire_pressed(session: Session, services: Services, press: TicketPress, *, actor: str,
                 now: datetime) -> tuple[StageNote, dict[str, Any]]:
    """Fire the action a person pressed on the order ticket, in this transaction, through the
    workflow's own checks (state, role, required fields, guard) and with their idempotency key:
    the timeline note and the ticket as the workflow answers an action. Raises the workflow's
    refusal (``ActionRefused``, ``Conflict``) so the caller's transaction writes nothing."""
    inst = load_ticket(session, press.instance_id)
    if inst is None:
        raise NotFound(f"ticket {press.instance_id} does not exist", code="unknown_instance")
    compiled = registry_of(services).compiled(session, inst.ruleset, inst.ruleset_version, inst.machine)
    body = fire_in(session, services, compiled, inst, press.action, dict(press.payload), actor=actor,
                   role=press.role, via="user", idempotency_key=press.idempotency_key, now=now)
    note = StageNote("ticket_action", {"ticket": inst.id, "status": "shipped", "action": press.action,
                                       "from": body["action"]["from"], "to": body["action"]["to"], "actor": actor},
                     ruleset=inst.ruleset, ruleset_version=inst.ruleset_version)
    return note, body


def _press_alone(services: Services, order: OrderRef, press: TicketPress, replayed: ShipResult, *, actor: str,
                 now: datetime) -> ShipResult:
    """The shipment was made already (same tracking number and courier) but the ticket was not
    moved by it: the pressed action alone, with its timeline note, in one transaction."""
    with services.db.transaction(immediate=True) as session:
        note, ticket = fire_pressed(session, services, press, actor=actor, now=now)
        record(session, order, [note], actor=actor, now=now)
    return replace(replayed, ticket=ticket)
