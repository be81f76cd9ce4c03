"""The pipeline's reserve stage and the reservation's follow-up of newer platform versions.

One rule, :func:`settle_reservation`, makes the order's reservation what its current state asks
for, inside the pipeline's transaction (``engine.inventory.in_transaction``: all lines or none,
keyed by the order, committed with the pipeline's step):

- paid and not yet reserved (``awaiting_shipment``, ``paid_hold``, ``partially_shipped``):
  reserve every line still wanted (the order's ``order_lines`` as they stand in this
  transaction, so gift lines the price stage added are reserved with the rest); short stock
  answers a ``short`` note that holds the order (tag 缺货, ``short_skus``) — the pipeline
  retries it when stock for those SKUs is adjusted;
- paid and reserved: release what a refund took back before shipment (a line whose refund
  succeeded for its whole paid amount);
- ``cancelled``: release whatever is still reserved;
- ``pending_payment``: nothing yet (the paid version reserves);
- shipped, delivered or completed: never reserved here; what is still reserved when the platform
  says the order shipped (it was shipped by another way than our ship use case, which ships
  the reservation itself) leaves the warehouse: reserved and total go down together.

**One lock order for everyone** (PostgreSQL): a batch settles the reservations of many orders
in one transaction, each order's SKUs sorted, but one order after another — two batches whose
orders share SKUs in opposite orders would deadlock. :func:`lock_batch_stock` therefore locks
every stock row the batch may touch (its orders' lines, their open reservations, the gifts the
published promotion may add) in one statement, in sorted SKU order, before the first order
moves; the per-order updates then only touch rows already held. Every other writer of stock
rows (the hot path, releases, ships) also goes in sorted SKU order, so no cycle can form.

The reservation is keyed by the order's ``channel/order_id`` (:func:`reservation_key`); shipping
ships it under the same key. Because the rule compares wanted with reserved, running it again
changes nothing: a retry, a replayed revision or a restart after a crash cannot reserve twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from engine.inventory.domain import InsufficientStock, InvalidLines
from engine.inventory.in_transaction import release_in, reservation_lines, reserve_in, ship_in
from engine.inventory.models import ReservationLine, StockItem
from engine.orders.model import OrderLine
from engine.orders.stages import OrderRef, StageNote

if TYPE_CHECKING:
    from engine.services import Services

__all__ = [
    "REFUND_DONE",
    "SHORT_KIND",
    "SHORT_TAG",
    "follow_reservation",
    "lock_batch_stock",
    "reservation_key",
    "reserve_stage",
    "settle_reservation",
    "wanted_units",
]

SHORT_KIND = "short"
SHORT_TAG = "缺货"
ACTOR = "pipeline"
# refund statuses (as the mappings pass them on) that mean the money went back
REFUND_DONE = frozenset({"SUCCESS", "success", "refunded", "REFUNDED", "REFUND_SUCCESS", "退款成功"})
_PAID = frozenset({"awaiting_shipment", "paid_hold", "partially_shipped"})
_SHIPPED = frozenset({"shipped", "delivered", "completed"})


def reservation_key(order: OrderRef) -> str:
    """The order id (and idempotency key) of the order's reservation: ``channel/order_id``."""
    return order.ref


def _refunded_line_ids(doc: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> set[str]:
    by_id = {str(ln.get("line_id")): ln for ln in lines if ln.get("line_id") is not None}
    out = set()
    for refund in doc.get("refunds") or ():
        if str(refund.get("status")) not in REFUND_DONE or refund.get("line_id") is None:
            continue
        line = by_id.get(str(refund["line_id"]))
        if line is None:
            continue
        paid = line.get("paid_amount") if line.get("paid_amount") is not None else line.get("amount")
        amount = refund.get("amount")
        if amount is None or paid is None or int(amount) >= int(paid):
            out.add(str(refund["line_id"]))
    return out


def wanted_units(doc: Mapping[str, Any], lines: Sequence[Mapping[str, Any]] | None = None) -> dict[str, int]:
    """Units per SKU the order still needs: its lines (``lines``, else the document's) less
    those refunded in full."""
    lines = list(doc.get("lines") or ()) if lines is None else lines
    refunded = _refunded_line_ids(doc, lines)
    wanted: dict[str, int] = {}
    for ln in lines:
        if ln.get("line_id") is not None and str(ln["line_id"]) in refunded:
            continue
        sku, qty = ln.get("sku_id"), ln.get("qty")
        if isinstance(sku, str) and sku and isinstance(qty, int) and qty > 0:
            wanted[sku] = wanted.get(sku, 0) + qty
        elif qty:
            wanted[str(sku or "")] = wanted.get(str(sku or ""), 0) + int(qty)
    return wanted


_L = cast(Table, OrderLine.__table__)
_LINES = select(_L.c.line_id, _L.c.sku_id, _L.c.qty, _L.c.amount, _L.c.paid_amount).where(
    _L.c.order_pk == bindparam("pk")).order_by(_L.c.line_no)


_S = cast(Table, StockItem.__table__)
_R = cast(Table, ReservationLine.__table__)


def batch_skus(session: Session, order_pks: Sequence[int], refs: Sequence[str]) -> list[str]:
    """Every SKU a batch of orders may reserve, release or ship, sorted: their stored lines,
    their reservations' lines and the gift SKUs of the published promotion."""
    from engine.orders.order_pricing import published_promotion

    skus = set(session.scalars(select(_L.c.sku_id).where(_L.c.order_pk.in_(list(order_pks))).distinct()))
    if refs:
        skus.update(session.scalars(select(_R.c.sku_id).where(_R.c.order_id.in_(list(refs))).distinct()))
    plan = published_promotion(session)
    if plan is not None:
        skus.update(sku for gift in plan.gifts for sku, _ in gift.items)
    return sorted(s for s in skus if isinstance(s, str) and s)


def lock_batch_stock(session: Session, order_pks: Sequence[int], refs: Sequence[str]) -> list[str]:
    """On PostgreSQL, lock the stock rows a batch of orders may touch, in sorted SKU order, in
    one statement (see the module docstring); returns the SKUs locked. Nothing on SQLite (one
    writer: the batch's ``BEGIN IMMEDIATE`` already excludes every other)."""
    if session.get_bind().dialect.name != "postgresql" or not order_pks:
        return []
    skus = batch_skus(session, order_pks, refs)
    if not skus:
        return []
    locked = session.execute(select(_S.c.sku_id).where(_S.c.sku_id.in_(skus)).order_by(_S.c.sku_id)
                             .with_for_update())
    return [r[0] for r in locked]


def order_lines(session: Session, order: OrderRef) -> list[dict[str, Any]]:
    """The order's lines as stored now (``order_lines``, read in the pipeline's transaction: a
    gift line an earlier stage added in the same step is there). A Core read on the session's
    connection (the ORM's result machinery costs more than the read); pending ORM objects are
    flushed first, as the ORM's autoflush would."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    return [dict(r._mapping) for r in session.connection().execute(_LINES, {"pk": order.pk})]


def _reserve(session: Session, services: Services, order: OrderRef, wanted: dict[str, int],
             now: datetime) -> list[StageNote]:
    key = reservation_key(order)
    try:
        outcome = reserve_in(session, services.inventory.store.hot, key,
                             [{"sku_id": s, "qty": q} for s, q in wanted.items()], key=key, now=now,
                             channel=order.channel, actor=ACTOR)
    except InsufficientStock as exc:
        skus = [s["sku_id"] for s in exc.short]
        text = "，".join(f"{s['sku_id']} 需 {s['requested']} 可用 {s.get('available') or 0}" for s in exc.short)
        return [StageNote(SHORT_KIND, {"message": f"缺货挂起：{text}", "short_skus": skus, "short": exc.short},
                          tags=(SHORT_TAG,), hold=SHORT_TAG)]
    except InvalidLines as exc:
        return [StageNote("reserve_refused", {"message": "订单行无法预占库存（缺少商家编码或数量）",
                                              "problems": exc.details}, hold="订单行无法预占库存")]
    body = outcome.body
    return [StageNote("reserved", {"message": "已预占库存", "lines": body.get("lines", []),
                                   "stock": body.get("stock", []), "replayed": outcome.replayed})]


def _skipped(message: str, reason: str) -> StageNote:
    return StageNote("reserve_skipped", {"message": message, "reason": reason})


def settle_reservation(session: Session, services: Services, order: OrderRef, now: datetime, *,
                       first: bool) -> list[StageNote]:
    """Make the reservation what the order's state asks for (see the module docstring);
    ``first`` is the reserve stage's own run (it says so when it leaves stock alone)."""
    key = reservation_key(order)
    status = order.status
    if first and status in _PAID:  # the stage's first run: reserve (a replay answers the reservation made)
        wanted = wanted_units(order.doc, order_lines(session, order))
        if wanted:
            return _reserve(session, services, order, wanted, now)
    lines = reservation_lines(session, key)
    if status == "cancelled" or (status not in _PAID and status not in _SHIPPED and status != "pending_payment"):
        if any(ln.open_qty > 0 for ln in lines):
            out = release_in(session, key, None, key=f"{key}:release@{order.revision}", now=now, actor=ACTOR,
                             reason="订单已取消")
            if out is not None:
                return [StageNote("reservation_released", {"message": "订单已取消，释放库存", "reason": "cancelled",
                                                           "released": out.body["released"]})]
        return [_skipped("订单已取消，不预占库存", status)] if first else []
    if status in _SHIPPED:
        if any(ln.open_qty > 0 for ln in lines):  # shipped by another way than ours: the goods left
            out = ship_in(session, key, key=f"{key}:ship@{order.revision}", now=now, actor=ACTOR,
                          reason="平台显示已发货")
            if out is not None:
                return [StageNote("reservation_shipped", {"message": "平台显示已发货，预占库存出库",
                                                          "reason": "shipped_elsewhere",
                                                          "shipped": out.body["shipped"]})]
        return [_skipped("订单已发货，不再预占库存", status)] if first else []
    if status == "pending_payment":
        return [StageNote("reserve_waiting", {"message": "待付款：付款后预占库存"})] if first else []
    wanted = wanted_units(order.doc, order_lines(session, order))
    if not lines:
        if not wanted:
            return [StageNote("reserve_skipped", {"message": "订单行已全部退款，不预占库存", "reason": "refunded"})]
        return _reserve(session, services, order, wanted, now)
    excess = {ln.sku_id: ln.open_qty - wanted.get(ln.sku_id, 0) for ln in lines
              if ln.open_qty > wanted.get(ln.sku_id, 0)}
    if not excess:
        return []
    out = release_in(session, key, excess, key=f"{key}:release@{order.revision}", now=now, actor=ACTOR,
                     reason="发货前退款")
    if out is None:
        return []
    return [StageNote("reservation_released", {"message": "发货前退款，释放对应库存", "reason": "refunded",
                                               "released": out.body["released"]})]


def reserve_stage(session: Session, services: Services, order: OrderRef, now: datetime) -> list[StageNote]:
    """The reserve stage: reserve the paid order's lines (all or none) keyed by the order."""
    return settle_reservation(session, services, order, now, first=True)


def follow_reservation(session: Session, services: Services, order: OrderRef, previous_doc: dict[str, Any] | None,
                       now: datetime) -> list[StageNote]:
    """A newer platform version: a cancellation or a refund before shipment releases stock; a
    payment (the reserve stage had waited) reserves it."""
    return settle_reservation(session, services, order, now, first=False)
