"""Sample payloads for the mapping preview: the raw payloads most recently received from one
source (``order_payloads``), newest first, with the order they belong to. Read-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .model import Order, OrderPayload

__all__ = ["recent_payloads"]


def recent_payloads(session: Session, source: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Up to ``limit`` payloads received from ``source``, newest first:
    ``{"id", "order_id", "received_at" (ISO 8601 UTC), "payload"}``."""
    rows = session.execute(
        select(OrderPayload.id, Order.order_id, OrderPayload.received_at, OrderPayload.payload)
        .join(Order, Order.id == OrderPayload.order_pk)
        .where(OrderPayload.source == source)
        .order_by(OrderPayload.received_at.desc(), OrderPayload.id.desc())
        .limit(max(1, min(limit, 100)))).all()
    return [{"id": pk, "order_id": order_id, "received_at": at.isoformat(), "payload": payload}
            for pk, order_id, at, payload in rows]
