"""Samples of the order store for the builder: the raw payloads most recently received from one
source (``order_payloads``, for the mapping preview) and the most recent stored orders (their
normalized documents, for 会有什么变化). Read-only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from .model import Order, OrderPayload

__all__ = ["count_recent_orders", "recent_order_batches", "recent_order_docs", "recent_payloads"]


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


def recent_order_docs(session: Session, limit: int = 1000) -> list[tuple[str, str, Any]]:
    """The last ``limit`` stored orders (by creation time, newest first) as
    ``(channel, order_id, normalized order document)``; dropped orders are left out."""
    rows = session.execute(
        select(Order.channel, Order.order_id, Order.doc)
        .where(Order.dropped_rule.is_(None))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(max(1, limit))).all()
    return [(channel, order_id, doc) for channel, order_id, doc in rows]


def count_recent_orders(session: Session, limit: int) -> int:
    """How many orders :func:`recent_order_batches` will give for ``limit``."""
    stored = session.scalar(select(func.count()).select_from(Order).where(Order.dropped_rule.is_(None))) or 0
    return min(stored, max(1, limit))


def recent_order_batches(session: Session, limit: int, batch: int = 500) -> Iterator[list[tuple[str, str, Any]]]:
    """The orders of :func:`recent_order_docs` in the same order, ``batch`` at a time, each batch
    one query that continues after the last row of the previous one (keyset), so 20,000 orders
    are never held at once."""
    left = max(1, limit)
    after: tuple[Any, int] | None = None
    while left > 0:
        query = (select(Order.channel, Order.order_id, Order.doc, Order.created_at, Order.id)
                 .where(Order.dropped_rule.is_(None))
                 .order_by(Order.created_at.desc(), Order.id.desc()).limit(min(batch, left)))
        if after is not None:
            at, pk = after
            query = query.where(or_(Order.created_at < at, and_(Order.created_at == at, Order.id < pk)))
        rows = session.execute(query).all()
        if not rows:
            return
        yield [(channel, order_id, doc) for channel, order_id, doc, _, _ in rows]
        left -= len(rows)
        after = (rows[-1][3], rows[-1][4])
