"""Cancelling an order by hand: the use case behind ``POST /orders/{id}/cancel`` and 预警's 取消.

A person (运营, 客服组长, 管理员) cancels an order not yet shipped, with a reason. In one
transaction (the orders row and its pipeline row locked first, as the store and the pipeline
lock them):

1. an order already ``cancelled`` is answered as it stands (a retried request changes nothing:
   no second timeline entry, no second release);
2. an order shipped in any part (``partially_shipped``, ``shipped``, ``delivered``,
   ``completed``, or stock of its reservation already shipped by a ship request in flight) is
   refused with 409 ``order_shipped``;
3. every unit still reserved for the order is released (inventory ``release`` keyed
   ``<channel/order_id>:cancel``: a retry answers the first release, the ledger says who and why);
4. the order ticket's actions bound to the platform status ``cancelled`` (the published
   ``follow … for orders`` declaration, e.g. ``status cancelled do 取消``) fire as the calling
   person with their role, the person's reason filling the fields the action requires; an
   action the machine refuses (another role, another state) is noted on the timeline and the
   order is cancelled all the same;
5. ``orders.status`` becomes ``cancelled``; any hold (a person's, a risk rule's, 缺货) is
   cleared and the pipeline row is done, so no stage runs for the order again;
6. the timeline gets one ``cancelled`` entry: who, role, why, the hold it cleared and the units
   released.

After the commit the released units are mirrored to the Redis gate when one is configured.
Nothing here speaks to a platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, null, select, update
from sqlalchemy.orm import Session

from engine.analytics.deviation_counts import refresh_orders as refresh_deviation
from engine.errors import Conflict, NotFound, Unprocessable
from engine.fulfillment.presale_counts import refresh_orders as refresh_presale
from engine.inventory.in_transaction import committed_changes, mirror_to_gate, release_in, reservation_lines
from engine.orders.model import Order, OrderEvent
from engine.orders.order_reservation import SHORT_TAG, reservation_key
from engine.orders.order_status import SHIPPED_STATUSES
from engine.orders.order_tags import write_tags
from engine.orders.order_tickets import fire_for_status
from engine.orders.pipeline import DONE
from engine.orders.pipeline_model import OrderPipeline
from engine.orders.stages import OrderRef, load_ref, record

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["MAX_REASON", "NOT_CANCELLABLE", "CancelResult", "cancel_order", "read_reason"]

MAX_REASON = 200
# shipped in any part: the goods (some of them) left the warehouse
NOT_CANCELLABLE = frozenset(SHIPPED_STATUSES)
_P = cast(Table, OrderPipeline.__table__)
_O = cast(Table, Order.__table__)


@dataclass(frozen=True)
class CancelResult:
    """What the request did: ``replayed`` when the order was already cancelled; the units
    released per SKU; the ticket actions fired or refused (timeline kinds and details)."""

    replayed: bool
    released: tuple[tuple[str, int], ...] = ()
    ticket_notes: tuple[dict[str, Any], ...] = ()


def read_reason(reason: Any) -> str:
    """The reason as given (trimmed), or 422 naming ``/reason``."""
    if not isinstance(reason, str) or not reason.strip() or len(reason.strip()) > MAX_REASON:
        raise Unprocessable(f"reason must be text of 1 to {MAX_REASON} characters",
                            details=[{"path": "/reason", "message": f"1 to {MAX_REASON} characters required"}])
    return reason.strip()


def _lock(session: Session, pk: int, postgres: bool) -> tuple[OrderRef, Any]:
    """The order (orders row locked first, as the store locks it) and its pipeline row."""
    stmt = select(_O.c.id).where(_O.c.id == pk)
    if session.execute(stmt.with_for_update(key_share=True) if postgres else stmt).first() is None:
        raise NotFound(f"order {pk} does not exist", code="order_not_found")
    ref = load_ref(session, pk)
    assert ref is not None  # locked above
    prow = select(_P).where(_P.c.order_pk == pk)
    return ref, session.execute(prow.with_for_update() if postgres else prow).first()


def cancel_order(services: Services, pk: int, reason: Any, *, actor: str, role: str) -> CancelResult:
    """Cancel order ``pk`` for ``reason`` as ``actor`` with ``role`` (see the module docstring)."""
    reason = read_reason(reason)
    now = services.clock.now()
    with services.db.transaction(immediate=True) as session:
        order, prow = _lock(session, pk, services.db.is_postgres)
        if order.status == "cancelled":
            return CancelResult(replayed=True)
        key = reservation_key(order)
        lines = reservation_lines(session, key)
        shipped_units = sum(ln.qty_shipped for ln in lines)
        if order.status in NOT_CANCELLABLE or shipped_units:
            raise Conflict(f"order {order.ref} is {order.status}; only an order not yet shipped can be cancelled",
                           code="order_shipped",
                           details=[{"path": "/status", "status": order.status, "shipped_units": shipped_units,
                                     "not_cancellable": sorted(NOT_CANCELLABLE)}])
        released: list[dict[str, Any]] = []
        if any(ln.open_qty > 0 for ln in lines):
            out = release_in(session, key, None, key=f"{key}:cancel", now=now, actor=actor,
                             reason=f"人工取消：{reason}")
            released = list(out.body["released"]) if out is not None else []
        cancelled = OrderRef(pk=order.pk, channel=order.channel, order_id=order.order_id, revision=order.revision,
                             status="cancelled", source=order.source, doc=order.doc, tags=order.tags)
        notes = fire_for_status(session, services, cancelled, "cancelled", actor=actor, payload={}, now=now,
                                role=role, reason=reason)
        hold = _clear_hold(session, pk, prow, now)
        tags = [t for t in order.tags if t != SHORT_TAG] if prow is not None and prow.short_skus else list(order.tags)
        values: dict[str, Any] = {"status": "cancelled"}
        if tags != list(order.tags):
            values["tags"] = tags
            write_tags(session.connection(), [(pk, tags)])
        session.execute(update(_O).where(_O.c.id == pk).values(**values))
        refresh_deviation(session.connection(), [pk])  # a cancelled order is no longer due
        refresh_presale(session.connection(), [pk])
        session.execute(insert(OrderEvent).values(
            order_pk=pk, revision=order.revision, kind="cancelled", at=now, actor=actor, payload_id=None, changes=[],
            detail={"message": f"人工取消：{reason}", "reason": reason, "role": role, "previous_status": order.status,
                    "hold": hold, "released": released}))
        record(session, cancelled, notes, actor=actor, now=now)
    mirror_to_gate(services.inventory, committed_changes(session))
    return CancelResult(replayed=False, released=tuple((r["sku_id"], int(r["qty"])) for r in released),
                        ticket_notes=tuple({"kind": n.kind, **n.detail} for n in notes))


def _clear_hold(session: Session, pk: int, prow: Any, now: Any) -> dict[str, Any] | None:
    """Clear any hold on the order and finish its pipeline row; the hold it cleared (or None)."""
    if prow is None:
        return None
    hold = None
    if prow.hold_reason is not None or prow.short_skus:
        hold = {"reason": prow.hold_reason, "held_by": prow.held_by, "short_skus": list(prow.short_skus or [])}
    session.execute(update(_P).where(_P.c.order_pk == pk).values(
        hold_reason=None, held_by=None, short_skus=null(), status="done", next_stage=DONE, attempts=0,
        last_error=None, due_at=now, updated_at=now))
    return hold
