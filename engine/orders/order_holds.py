"""Holding and releasing an order by hand, and what the order page shows of its pipeline.

- :func:`hold_order`: a person (运营, 客服组长, 管理员) holds a paid, unshipped order with a
  reason: ``orders.status`` becomes ``paid_hold``, the pipeline row keeps the reason and who,
  no further stage runs until released (a newer platform version is still followed: a
  cancellation still releases stock). One person's hold at a time (409 ``already_held``).
- :func:`release_order`: lifts the person's or the risk stage's hold and moves the order on at
  once (the stages not yet run; an order also waiting for stock is retried). An order held
  only as 缺货 is retried now: still short → 409 ``still_short``, nothing changed.
- :func:`pipeline_section` / :func:`reservation_section`: the ``pipeline`` and ``reservation``
  sections of ``GET /orders/{id}``.

Who and why go on the order's timeline (kinds ``held``, ``hold_released``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound, Unprocessable
from engine.inventory.in_transaction import reservation_lines
from engine.orders.model import Order, OrderEvent
from engine.orders.order_reservation import SHORT_TAG, reservation_key
from engine.orders.order_status import HOLDABLE
from engine.orders.pipeline import DONE, Pipeline
from engine.orders.pipeline_model import OrderPipeline
from engine.orders.pipeline_wake import mark_pipeline_written
from engine.orders.stages import OrderRef

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["MAX_REASON", "hold_order", "pipeline_section", "release_order", "reservation_section"]

MAX_REASON = 200
_P = cast(Table, OrderPipeline.__table__)
_O = cast(Table, Order.__table__)


def _lock(session: Session, pk: int, postgres: bool) -> tuple[Any, Any]:
    """The order and its pipeline row, locked in the store's order (orders row first)."""
    stmt = select(_O.c.id, _O.c.status, _O.c.revision, _O.c.channel, _O.c.order_id).where(_O.c.id == pk)
    order = session.execute(stmt.with_for_update(key_share=True) if postgres else stmt).first()
    if order is None:
        raise NotFound(f"order {pk} does not exist", code="order_not_found")
    prow = select(_P).where(_P.c.order_pk == pk)
    return order, session.execute(prow.with_for_update() if postgres else prow).first()


def _event(session: Session, order: Any, kind: str, actor: str, detail: dict[str, Any], now: Any) -> None:
    session.execute(insert(OrderEvent).values(order_pk=order.id, revision=order.revision, kind=kind, at=now,
                                              actor=actor, payload_id=None, changes=[], detail=detail))


def hold_order(services: Services, pk: int, reason: Any, *, actor: str, role: str) -> None:
    """Hold order ``pk`` for ``reason`` (see the module docstring)."""
    if not isinstance(reason, str) or not reason.strip() or len(reason.strip()) > MAX_REASON:
        raise Unprocessable(f"reason must be text of 1 to {MAX_REASON} characters",
                            details=[{"path": "/reason", "message": f"1 to {MAX_REASON} characters required"}])
    reason = reason.strip()
    now = services.clock.now()
    with services.db.transaction(immediate=True) as session:
        order, prow = _lock(session, pk, services.db.is_postgres)
        if order.status not in HOLDABLE:
            raise Conflict(f"order {order.channel}/{order.order_id} is {order.status}; only a paid order not yet "
                           "shipped can be held", code="order_not_holdable",
                           details=[{"path": "/status", "status": order.status, "holdable": sorted(HOLDABLE)}])
        if prow is not None and prow.hold_reason is not None:
            raise Conflict(f"order {order.channel}/{order.order_id} is already held: {prow.hold_reason} "
                           f"({prow.held_by})", code="already_held",
                           details=[{"path": "/reason", "hold_reason": prow.hold_reason, "held_by": prow.held_by}])
        if prow is None:  # an order stored before the pipeline: nothing left to run
            session.execute(insert(_P).values(order_pk=pk, next_stage=DONE, status="held", seen_revision=order.revision,
                                              due_at=now, attempts=0, hold_reason=reason, held_by=actor,
                                              updated_at=now))
        else:
            session.execute(update(_P).where(_P.c.order_pk == pk).values(
                hold_reason=reason, held_by=actor, updated_at=now,
                status="held" if prow.status in ("done", "held") else prow.status))
        session.execute(update(_O).where(_O.c.id == pk).values(status="paid_hold"))
        _event(session, order, "held", actor, {"message": f"人工挂起：{reason}", "reason": reason, "role": role}, now)


def release_order(services: Services, pk: int, *, actor: str, role: str) -> None:
    """Release order ``pk``'s hold and move it on now (see the module docstring)."""
    now = services.clock.now()
    with services.db.transaction(immediate=True) as session:
        order, prow = _lock(session, pk, services.db.is_postgres)
        if prow is None or (prow.hold_reason is None and not prow.short_skus):
            raise Conflict(f"order {order.channel}/{order.order_id} is not held", code="not_held",
                           details=[{"path": "", "status": order.status}])
        short_only = prow.hold_reason is None
        session.execute(update(_P).where(_P.c.order_pk == pk).values(
            hold_reason=None, held_by=None, status="ready", due_at=now, updated_at=now))
        if not short_only:
            _event(session, order, "hold_released", actor,
                   {"message": f"解除挂起（原因：{prow.hold_reason}）", "reason": prow.hold_reason,
                    "held_by": prow.held_by, "role": role}, now)
        mark_pipeline_written(session)
    Pipeline(services).run_order(pk, now)
    if short_only:
        with services.db.session() as session:
            after = session.execute(select(_P.c.short_skus).where(_P.c.order_pk == pk)).scalar()
        if after:
            raise Conflict(f"order {order.channel}/{order.order_id} is still short of {', '.join(after)}; "
                           "it stays held and is retried when stock arrives", code="still_short",
                           details=[{"path": "", "short_skus": list(after)}])


def pipeline_section(session: Session, pk: int) -> dict[str, Any] | None:
    """Where the order stands in its stages: ``GET /orders/{id}`` → ``pipeline``."""
    prow = session.execute(select(_P).where(_P.c.order_pk == pk)).first()
    if prow is None:
        return None
    hold = None
    if prow.hold_reason is not None or prow.short_skus:
        hold = {"reason": prow.hold_reason if prow.hold_reason is not None else SHORT_TAG,
                "held_by": prow.held_by if prow.hold_reason is not None else "pipeline:reserve",
                "short_skus": list(prow.short_skus or [])}
    return {"next_stage": prow.next_stage, "status": prow.status, "seen_revision": prow.seen_revision,
            "due_at": prow.due_at.isoformat() if prow.status == "ready" else None, "attempts": prow.attempts,
            "last_error": prow.last_error, "hold": hold, "updated_at": prow.updated_at.isoformat()}


def reservation_section(session: Session, ref: OrderRef | Any) -> dict[str, Any] | None:
    """The order's stock reservation: ``GET /orders/{id}`` → ``reservation`` (None: none yet)."""
    key = reservation_key(ref) if isinstance(ref, OrderRef) else f"{ref.channel}/{ref.order_id}"
    lines = reservation_lines(session, key)
    if not lines:
        return None
    return {"key": key, "lines": [{"sku_id": ln.sku_id, "qty": ln.qty, "shipped": ln.qty_shipped,
                                   "released": ln.qty_released, "open": ln.open_qty, "status": ln.status}
                                  for ln in lines],
            "open_units": sum(ln.open_qty for ln in lines)}
