"""Reading the order store: the filtered, cursor-paginated order list, one order with its lines,
timeline and raw payloads, and the parked payloads — each as a given role may see it.

Owns the read queries only (writes live in :mod:`engine.orders.store`); masking follows
:mod:`engine.orders.visibility`. Lists are ordered newest first by (created_at, id) and paged
with an opaque cursor holding the last row's key, so a page never repeats or skips a row
while new orders arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, column, exists, or_, select, table
from sqlalchemy.orm import Session

from engine.api.cursors import decode_cursor, encode_cursor
from engine.errors import NotFound
from engine.orders.document import CHANNELS, STATUSES
from engine.orders.model import (
    Order,
    OrderEvent,
    OrderLine,
    OrderPayload,
    ParkedPayload,
)
from engine.orders.order_holds import pipeline_section, reservation_section
from engine.orders.order_pricing import price_section
from engine.orders.order_tags import FLAGGED, tag_page, tagged
from engine.orders.order_tickets import tickets_section
from engine.orders.visibility import (
    mask_changes,
    mask_order,
    mask_payload,
    visibility_for,
)
from engine.orders.writeback import shipping_sections

__all__ = ["MAX_LIMIT", "OrderFilter", "find_order_pk", "list_orders", "list_parked", "order_detail",
           "orders_page_statement"]

MAX_LIMIT = 200
_RISK_FLAGS = table("risk_flags", column("order_pk"))  # by name: the risk area imports this one


@dataclass(frozen=True)
class OrderFilter:
    channels: Sequence[str] = ()
    statuses: Sequence[str] = ()
    shop: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    paid_from: datetime | None = None
    paid_to: datetime | None = None
    q: str | None = None
    dropped: bool | None = None
    tags: Sequence[str] = ()  # every one must be on the order (缺货, 价格异常, 疑似黄牛 …)
    flagged: bool | None = None  # True: a risk rule flagged the order (风险)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _page(stmt: Select[*tuple[Any, ...]], time_col: Any, id_col: Any, cursor: str | None,
          limit: int) -> Select[*tuple[Any, ...]]:
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(time_col < at, and_(time_col == at, id_col < pk)))
    return stmt.order_by(time_col.desc(), id_col.desc()).limit(limit + 1)


_LISTED = (Order.id, Order.channel, Order.order_id, Order.shop, Order.status, Order.created_at,
           Order.paid_at, Order.updated_at, Order.promised_ship_at, Order.total, Order.buyer_phone,
           Order.province, Order.city, Order.district, Order.revision, Order.dropped_rule, Order.tags)


def _filtered(f: OrderFilter, columns: tuple[Any, ...] = _LISTED) -> Select[*tuple[Any, ...]]:
    stmt: Select[*tuple[Any, ...]] = select(*columns)
    if f.channels:
        stmt = stmt.where(Order.channel.in_(list(f.channels)))
    if f.statuses:
        stmt = stmt.where(Order.status.in_(list(f.statuses)))
    if f.shop:
        stmt = stmt.where(Order.shop == f.shop)
    if f.created_from:
        stmt = stmt.where(Order.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Order.created_at < f.created_to)
    if f.paid_from:
        stmt = stmt.where(Order.paid_at >= f.paid_from)
    if f.paid_to:
        stmt = stmt.where(Order.paid_at < f.paid_to)
    if f.dropped is not None:
        stmt = stmt.where(Order.dropped_rule.is_not(None) if f.dropped else Order.dropped_rule.is_(None))
    for tag in f.tags[1:]:  # the first tag drives the page (list_orders), the others are probes
        stmt = stmt.where(tagged(tag))
    if f.flagged is not None:
        flagged = exists().where(_RISK_FLAGS.c.order_pk == Order.id)
        stmt = stmt.where(flagged if f.flagged else ~flagged)
    if f.q:
        q = f.q.strip()
        wanted = [Order.order_id == q]
        if len(q) == 4 and q.isdigit():
            wanted.append(Order.phone_tail == q)
        stmt = stmt.where(or_(*wanted))
    return stmt


def orders_page_statement(f: OrderFilter, cursor: str | None, limit: int) -> Select[*tuple[Any, ...]]:
    """The query of one page of orders matching ``f``, newest first (``limit + 1`` rows)."""
    if f.tags:  # walk the tag's rows (index on tag, created_at, order) instead of every order
        stmt, time_col, id_col = tag_page(_filtered(f), f.tags[0])
        return _page(stmt, time_col, id_col, cursor, limit)
    if f.flagged:  # walk the flagged orders' rows (risk_flags stays the condition, probed per row)
        stmt, time_col, id_col = tag_page(_filtered(f), FLAGGED)
        return _page(stmt, time_col, id_col, cursor, limit)
    if f.flagged is not None:
        # not flagged: a probe of risk_flags per order: find the page's keys from the
        # (created_at, id) index alone, then read those orders
        keys = _page(_filtered(f, (Order.id, Order.created_at)), Order.created_at, Order.id, cursor,
                     limit).subquery("page")
        return (select(*_LISTED).join(keys, keys.c.id == Order.id)
                .order_by(keys.c.created_at.desc(), keys.c.id.desc()))
    return _page(_filtered(f), Order.created_at, Order.id, cursor, limit)


def list_orders(session: Session, f: OrderFilter, *, role: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of orders matching ``f``: ``{"items", "next_cursor"}``."""
    rows = session.execute(orders_page_statement(f, cursor, limit)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    phone_shown = visibility_for(role).phone
    items = []
    for r in rows:
        masked = mask_order({"buyer_phone": r.buyer_phone}, role) if not phone_shown else {"buyer_phone": r.buyer_phone}
        items.append({
            "id": r.id, "channel": r.channel, "channel_label": CHANNELS.get(r.channel, r.channel),
            "order_id": r.order_id, "shop": r.shop, "status": r.status,
            "status_label": STATUSES.get(r.status, r.status), "created_at": _iso(r.created_at),
            "paid_at": _iso(r.paid_at), "updated_at": _iso(r.updated_at),
            "promised_ship_at": _iso(r.promised_ship_at), "total": r.total,
            "buyer_phone": masked.get("buyer_phone"),
            "region": {"province": r.province, "city": r.city, "district": r.district},
            "revision": r.revision, "dropped": r.dropped_rule is not None, "tags": r.tags or [],
        })
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return {"items": items, "next_cursor": next_cursor}


def find_order_pk(session: Session, channel: str, order_id: str) -> int:
    pk = session.scalar(select(Order.id).where(Order.channel == channel, Order.order_id == order_id))
    if pk is None:
        raise NotFound(f"no order {order_id} from channel {channel}", code="order_not_found")
    return int(pk)


def order_detail(session: Session, pk: int, *, role: str) -> dict[str, Any]:
    """The order ``pk`` as ``role`` may see it: the order, its lines, timeline and raw payloads."""
    row = session.get(Order, pk)
    if row is None:
        raise NotFound(f"order {pk} does not exist", code="order_not_found")
    lines = session.scalars(select(OrderLine).where(OrderLine.order_pk == pk).order_by(OrderLine.line_no)).all()
    events = session.scalars(select(OrderEvent).where(OrderEvent.order_pk == pk).order_by(OrderEvent.id)).all()
    body: dict[str, Any] = {
        "id": row.id, "channel": row.channel, "order_id": row.order_id, "shop": row.shop,
        "status": row.status, "status_label": STATUSES.get(row.status, row.status), "revision": row.revision,
        "updated_at": _iso(row.updated_at), "total": row.total, "freight": row.freight,
        "source": row.source, "via": row.via, "mapping": row.mapping, "ruleset": row.ruleset,
        "ruleset_version": row.ruleset_version,
        "dropped": {"rule": row.dropped_rule, "by": row.dropped_by} if row.dropped_rule is not None else None,
        "stored_at": _iso(row.stored_at), "changed_at": _iso(row.changed_at), "tags": row.tags or [],
        "order": mask_order(row.doc, role),
        "lines": [{"line_no": ln.line_no, "line_id": ln.line_id, "sku_id": ln.sku_id,
                   "platform_sku_id": ln.platform_sku_id, "title": ln.title, "qty": ln.qty,
                   "unit_price": ln.unit_price, "amount": ln.amount, "paid_amount": ln.paid_amount} for ln in lines],
        "timeline": [{"id": e.id, "revision": e.revision, "kind": e.kind, "at": _iso(e.at), "actor": e.actor,
                      "payload_id": e.payload_id, "changes": mask_changes(e.changes or [], role),
                      "detail": e.detail or {}, "ruleset": e.ruleset, "ruleset_version": e.ruleset_version}
                     for e in events],
    }
    # what the pipeline did: where it stands (order_holds), its price (order_pricing), stock
    # reservation, tickets (order_tickets), shipments and dead letters (writeback)
    body["pipeline"] = pipeline_section(session, pk)
    body["price"] = price_section(session, pk)
    body["reservation"] = reservation_section(session, row)
    body["tickets"] = tickets_section(session, pk)
    body.update(shipping_sections(session, pk, f"{row.channel}/{row.order_id}"))
    shown, _ = mask_payload(None, role)
    if shown:
        payloads = session.scalars(select(OrderPayload).where(OrderPayload.order_pk == pk)
                                   .order_by(OrderPayload.id)).all()
        body["payloads"] = [{"id": p.id, "source": p.source, "via": p.via, "received_at": _iso(p.received_at),
                             "version_at": _iso(p.version_at), "digest": p.digest,
                             "payload": mask_payload(p.payload, role)[1]} for p in payloads]
    return body


def list_parked(session: Session, *, role: str, status: str | None, source: str | None, cursor: str | None,
                limit: int) -> dict[str, Any]:
    """Parked payloads, newest first: ``{"items", "next_cursor"}`` (payloads masked per role)."""
    stmt = select(ParkedPayload)
    if status:
        stmt = stmt.where(ParkedPayload.status == status)
    if source:
        stmt = stmt.where(ParkedPayload.source == source)
    rows = session.scalars(_page(stmt, ParkedPayload.last_attempt_at, ParkedPayload.id, cursor, limit)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = []
    for p in rows:
        shown, payload = mask_payload(p.payload, role)
        items.append({"id": p.id, "source": p.source, "via": p.via, "status": p.status, "mapping": p.mapping,
                      "error": p.error, "path": p.error_path, "line": p.error_line, "attempts": p.attempts,
                      "received_at": _iso(p.received_at), "last_attempt_at": _iso(p.last_attempt_at),
                      "order_pk": p.order_pk, "payload": payload if shown else None})
    next_cursor = encode_cursor(rows[-1].last_attempt_at, rows[-1].id) if more and rows else None
    return {"items": items, "next_cursor": next_cursor}
