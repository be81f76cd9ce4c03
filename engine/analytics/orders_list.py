"""The drill-down lists: the orders a figure counted, one page at a time.

Owns the shape of one listed order and the cursor paging shared by every analytics drill-down
(newest first by (created_at, id), the cursor of :mod:`engine.orders.queries`). Personal data is
not listed: an order's id, channel, shop, status, times, region and total say which order it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from engine.api.cursors import decode_cursor, encode_cursor
from engine.orders.model import Order

__all__ = ["LISTED", "page_of_orders"]

LISTED = (Order.id, Order.channel, Order.order_id, Order.shop, Order.status, Order.created_at, Order.paid_at,
          Order.promised_ship_at, Order.province, Order.city, Order.district, Order.adcode, Order.total)


def page_of_orders(session: Session, stmt: Select[*tuple[Any, ...]], *, cursor: str | None,
                   limit: int) -> dict[str, Any]:
    """One page of the orders ``stmt`` (a select of :data:`LISTED` with its filters) finds."""
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(Order.created_at < at, and_(Order.created_at == at, Order.id < pk)))
    rows = session.execute(stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{"id": r.id, "channel": r.channel, "order_id": r.order_id, "shop": r.shop, "status": r.status,
              "created_at": r.created_at.isoformat(), "paid_at": r.paid_at.isoformat() if r.paid_at else None,
              "promised_ship_at": r.promised_ship_at.isoformat() if r.promised_ship_at else None,
              "region": {"province": r.province, "city": r.city, "district": r.district, "adcode": r.adcode},
              "total": r.total} for r in rows]
    return {"items": items, "next_cursor": encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None}


def listed() -> Select[*tuple[Any, ...]]:
    return select(*LISTED)
