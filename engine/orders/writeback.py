"""Writing a shipment back to the platform the order came from, through the outbox, and what
the order page shows of it.

- :func:`enqueue_writeback` (in the shipment's transaction): one ``order.writeback`` outbox
  row per shipment, made for the order's source with :func:`engine.outbox.retries.
  enqueue_for_source` (so it carries that source's declared ``retry``) and named by the
  order (``order_ref``), so its dead letter is found from the order.
- :func:`deliver_writeback` (the outbox handler, registered by
  :func:`register_writeback_handler`): builds the source's order client (the composition root
  hands the engine the connectors; this module imports none), asks it to show the shipment
  with the platform's own ship API (:class:`engine.orders.ports.ShipmentWriter`; on SQLite
  with no lock held while the platform answers: the outbox's ``calls_out``), then, in
  the delivery's transaction, marks the shipment ``accepted`` and adds ``writeback_accepted``
  to the order's timeline — so an accepted write-back is recorded exactly once. A refusal
  (5xx, time-out, a business error) raises: the dispatcher retries at the declared times and
  makes it a dead letter after the last; a replay (``POST /outbox/{id}/replay``) keeps the
  delivery id, and the client treats an order that already shows our tracking number as
  accepted, so a retry after a lost answer never ships twice.
- :func:`shipping_sections` (read by ``GET /orders/{id}``): the order's ``shipments`` with the
  state of each write-back (pending with its attempts and last error, accepted, dead) and the
  order's ``dead_letters`` (every dead outbox row about the order, with its replays).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.logs import get_logger
from engine.orders.carriers import find_carrier
from engine.orders.model import Order, OrderEvent
from engine.orders.pipeline_model import OrderShipment
from engine.orders.ports import ShipmentWriteBack, ShippedLine
from engine.orders.sources import order_client, order_sources
from engine.outbox.retries import enqueue_for_source
from engine.storage.models import OutboxMessage, OutboxReplay

if TYPE_CHECKING:
    from engine.orders.carriers import Carrier
    from engine.orders.stages import OrderRef
    from engine.outbox.registry import Delivery
    from engine.services import Services

log = get_logger(__name__)

__all__ = ["WRITEBACK_TOPIC", "deliver_writeback", "enqueue_writeback", "register_writeback_handler",
           "shipment_view", "shipping_sections"]

WRITEBACK_TOPIC = "order.writeback"


class WriteBackUnavailable(RuntimeError):
    """The order's source has no order client that can ship (missing credentials, a platform
    without a ship API here): a failed attempt, retried like any other."""


def enqueue_writeback(session: Session, order: OrderRef, shipment: OrderShipment, carrier: Carrier, *,
                      partial: bool, now: datetime) -> OutboxMessage:
    """The outbox row that writes ``shipment`` back to the order's platform (not yet sent)."""
    source = order.source or order.channel
    payload = {"shipment": shipment.id, "order_pk": order.pk, "channel": order.channel, "order_id": order.order_id,
               "source": source, "carrier": carrier.code, "tracking_no": shipment.tracking_no,
               "lines": shipment.lines, "partial": partial}
    return enqueue_for_source(session, source, WRITEBACK_TOPIC, payload, now=now, order_ref=order.ref)


def deliver_writeback(services: Services, delivery: Delivery) -> None:
    """Outbox handler of ``order.writeback`` (see the module docstring)."""
    payload = delivery.payload or {}
    session = delivery.session
    shipment = session.get(OrderShipment, int(payload["shipment"]))
    if shipment is None:
        return  # the order was deleted: nothing to show any more
    if shipment.writeback_status == "accepted":
        return  # accepted by an earlier delivery of the same shipment
    source = str(payload["source"])
    found = order_sources(services).get(source)
    client = order_client(services, found) if found else None
    writer = getattr(client, "write_back_shipment", None)
    if writer is None:
        raise WriteBackUnavailable(f"source {source!r} has no order client that can ship "
                                   "(is it published, with its credentials set?)")
    platform = found.platform if found else source
    carrier = find_carrier(str(payload["carrier"]))
    code = carrier.code_for(platform)
    lines = tuple(ShippedLine(line_id=ln.get("line_id"), sku_id=str(ln["sku_id"]),
                              platform_sku_id=ln.get("platform_sku_id"), qty=int(ln["qty"]))
                  for ln in payload.get("lines") or [])
    check_first = delivery.attempt > 1 or _replayed(session, delivery.delivery_id)
    shown = ShipmentWriteBack(order_id=str(payload["order_id"]), carrier_code=code, carrier_name=carrier.name,
                              tracking_no=str(payload["tracking_no"]), lines=lines,
                              partial=bool(payload.get("partial")), shipment_id=shipment.id, check_first=check_first)
    answer = delivery.outside(lambda: writer(shown))  # on SQLite, with no lock held while the platform answers
    now = delivery.now
    session.execute(update(OrderShipment).where(OrderShipment.id == shipment.id).values(
        writeback_status="accepted", writeback_at=now, writeback_error=None))
    revision = session.scalar(select(Order.revision).where(Order.id == shipment.order_pk)) or 0
    session.execute(insert(OrderEvent).values(
        order_pk=shipment.order_pk, revision=revision, kind="writeback_accepted", at=now, actor="outbox",
        payload_id=None, changes=[], ruleset=None, ruleset_version=None,
        detail={"shipment": shipment.id, "platform": platform, "carrier_code": code, "courier": carrier.code,
                "tracking_no": shipment.tracking_no, "attempt": delivery.attempt,
                "message": f"运单号 {shipment.tracking_no} 已回传{platform}（第 {delivery.attempt} 次尝试）"}))
    log.info("shipment written back", order=f"{payload['channel']}/{payload['order_id']}", platform=platform,
             carrier_code=code, shipment=shipment.id, attempt=delivery.attempt, answer=answer)


def _replayed(session: Session, delivery_id: str) -> bool:
    """Whether the outbox row of ``delivery_id`` was replayed (its attempts start again at 1,
    but an earlier one may have been accepted with its answer lost)."""
    found = session.scalar(select(OutboxReplay.id).join(OutboxMessage, OutboxMessage.id == OutboxReplay.outbox_id)
                           .where(OutboxMessage.delivery_id == delivery_id).limit(1))
    return found is not None


def register_writeback_handler(services: Services) -> None:
    """Register the ``order.writeback`` handler in this process's registry, claimed before other
    topics: the merchant waits on the tracking number, never behind a flood of stock pushes;
    orders side by side (:func:`writeback_lane`)."""
    if services.handlers is not None:
        services.handlers.register(WRITEBACK_TOPIC, lambda delivery: deliver_writeback(services, delivery),
                                   claimed_first=True, calls_out=True, ordering_key=writeback_lane)


def writeback_lane(payload: Any) -> str:
    """What a write-back stays in order with: the same order's shipments (orders go side by side,
    so a platform that times out holds up its own write-backs, not every platform's)."""
    return f"{payload.get('channel')}/{payload.get('order_id')}"


# --------------------------------------------------------------------------- the order page


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def shipment_view(row: OrderShipment) -> dict[str, Any]:
    """A shipment as the API shows it (without the write-back's progress)."""
    return {"id": row.id, "courier": row.courier, "tracking_no": row.tracking_no, "lines": row.lines or [],
            "via": row.via, "actor": row.actor, "at": _iso(row.at), "delivery_id": row.delivery_id,
            "writeback_status": row.writeback_status}


def _writeback(shipment: OrderShipment, row: OutboxMessage | None) -> dict[str, Any]:
    if shipment.writeback_status == "accepted":
        return {"status": "accepted", "at": _iso(shipment.writeback_at),
                "attempts": row.attempts if row is not None else None, "outbox_id": row.id if row else None}
    if row is None:
        return {"status": shipment.writeback_status, "attempts": 0}
    status = "dead" if row.status == "dead" else "pending"
    return {"status": status, "outbox_id": row.id, "attempts": row.attempts, "max_attempts": row.max_attempts,
            "next_attempt_at": _iso(row.next_attempt_at) if status == "pending" else None,
            "last_error": row.last_error}


def shipping_sections(session: Session, order_pk: int, order_ref: str) -> dict[str, Any]:
    """The ``shipments`` and ``dead_letters`` sections of ``GET /orders/{id}``."""
    shipments = list(session.scalars(select(OrderShipment).where(OrderShipment.order_pk == order_pk)
                                     .order_by(OrderShipment.id)))
    ids = [s.delivery_id for s in shipments if s.delivery_id]
    rows = {r.delivery_id: r for r in session.scalars(select(OutboxMessage).where(OutboxMessage.delivery_id.in_(ids)))}
    dead = list(session.scalars(select(OutboxMessage).where(OutboxMessage.order_ref == order_ref,
                                                            OutboxMessage.status == "dead")
                                .order_by(OutboxMessage.id)))
    replays: dict[int, list[OutboxReplay]] = {r.id: [] for r in dead}
    for replay in session.scalars(select(OutboxReplay).where(OutboxReplay.outbox_id.in_(list(replays)))
                                  .order_by(OutboxReplay.id)):
        replays[replay.outbox_id].append(replay)
    return {
        "shipments": [{**shipment_view(s), "writeback": _writeback(s, rows.get(s.delivery_id or ""))}
                      for s in shipments],
        "dead_letters": [{"id": r.id, "topic": r.topic, "delivery_id": r.delivery_id, "source": r.source,
                          "attempts": r.attempts, "max_attempts": r.max_attempts, "last_error": r.last_error,
                          "created_at": _iso(r.created_at), "payload": r.payload,
                          "replays": [{"actor": p.actor, "at": _iso(p.at), "previous_attempts": p.previous_attempts}
                                      for p in replays[r.id]]}
                         for r in dead],
    }
