"""Shared pieces of the pipeline tests: storing normalized orders, stock, and reading back what
the pipeline did (pipeline row, order status and tags, timeline kinds, stock figures)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.inventory.models import ReservationLine, StockItem
from engine.orders import store
from engine.orders.model import Order, OrderEvent
from engine.orders.pipeline_model import OrderPipeline
from engine.services import Services

T0 = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


def order(order_id: str, *, channel: str = "douyin", minutes: int = 0, status: str = "awaiting_shipment",
          lines: list[tuple[str, int]] | None = None, **extra: Any) -> dict[str, Any]:
    """A normalized order (Python form) with ``lines`` as (sku, qty)."""
    body: dict[str, Any] = {
        "order_id": order_id, "channel": channel, "shop": "抖店", "status": status,
        "created_at": T0, "paid_at": T0 + timedelta(minutes=1), "updated_at": T0 + timedelta(minutes=minutes),
        "buyer_phone": "13912340000",
        "receiver": {"name": "李四", "phone": "13912340000", "province": "浙江省", "city": "杭州市",
                     "district": "西湖区", "address": "浙江省杭州市西湖区文三路90号"},
        "lines": [{"line_id": f"L{i + 1}", "sku_id": sku, "title": sku, "qty": qty, "unit_price": 5000,
                   "amount": 5000 * qty} for i, (sku, qty) in enumerate(lines or [("SKU-A", 1)])],
        "freight": 0,
    }
    body.update(extra)
    return body


def put(services: Services, *orders: dict[str, Any]) -> list[store.Stored]:
    items = [store.Incoming(o, o["channel"], "api", None, "test") for o in orders]
    return store.store_orders(services.db, items, now=services.clock.now())


def stock(services: Services, **figures: int) -> None:
    for sku, qty in figures.items():
        services.inventory.adjust(sku.replace("_", "-"), qty, "入库")


def row(services: Services, pk: int) -> OrderPipeline:
    with services.db.session() as s:
        found = s.get(OrderPipeline, pk)
        assert found is not None
        return found


def status_tags(services: Services, pk: int) -> tuple[str, list[str]]:
    with services.db.session() as s:
        o = s.get(Order, pk)
        assert o is not None
        return o.status, list(o.tags or [])


def kinds(services: Services, pk: int) -> list[str]:
    with services.db.session() as s:
        return list(s.scalars(select(OrderEvent.kind).where(OrderEvent.order_pk == pk).order_by(OrderEvent.id)))


def events(services: Services, pk: int, kind: str) -> list[OrderEvent]:
    with services.db.session() as s:
        return list(s.scalars(select(OrderEvent).where(OrderEvent.order_pk == pk, OrderEvent.kind == kind)
                              .order_by(OrderEvent.id)))


def figures(services: Services, sku: str) -> tuple[int, int]:
    """(total, reserved) of ``sku``."""
    with services.db.session() as s:
        item = s.get(StockItem, sku)
        assert item is not None
        return item.total_stock, item.reserved_stock


def reserved_lines(services: Services, ref: str) -> dict[str, tuple[int, int, int]]:
    """sku → (qty, shipped, released) of the reservation of ``ref``."""
    with services.db.session() as s:
        return {r.sku_id: (r.qty, r.qty_shipped, r.qty_released) for r in s.scalars(
            select(ReservationLine).where(ReservationLine.order_id == ref))}
