"""Fulfillment deviation: per order, the time it shipped minus the time its ship was promised;
late when that exceeds a threshold (default 2 hours). Late rates per channel, per day and per
hour of promise (Asia/Shanghai), with the late orders listed.

Owns this query. The orders are those promised in the range (``ix_orders_promised_ship``), not
cancelled and not dropped. The ship time is our first shipment (``order_shipments.at``), else the
platform's ``shipped_at`` on the order; an order not shipped yet counts as late once ``now`` is
past its promise by more than the threshold (its deviation so far), and as on time before. The
deviation, the lateness and the counts per (channel, day, hour) are computed in SQL; Python
only adds up those groups (at most channels × days × 24 rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from engine.analytics.grid import share_bp
from engine.analytics.ranges import DateRange
from engine.analytics.sql_time import local_date, local_hour, seconds_between
from engine.api.cursors import decode_cursor, encode_cursor
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderShipment

__all__ = ["DEFAULT_THRESHOLD_S", "deviation_report"]

DEFAULT_THRESHOLD_S = 2 * 3600
SHIPPED_STATUSES = ("partially_shipped", "shipped", "delivered", "completed")


def _shipped_at(dialect: str) -> Any:
    first = (select(func.min(OrderShipment.at)).where(OrderShipment.order_pk == Order.id)
             .correlate(Order).scalar_subquery())
    # the document is read only for orders the platform says left the warehouse
    platform = case((Order.status.in_(SHIPPED_STATUSES), Order.doc["shipped_at"].as_string()), else_=None)
    if dialect == "postgresql":
        return func.coalesce(first, cast(platform, Order.promised_ship_at.type))
    # SQLite: both as UTC text 'YYYY-MM-DD HH:MM:SS.SSS' (an ISO time with an offset is converted)
    return func.strftime("%Y-%m-%d %H:%M:%f", func.coalesce(first, platform), type_=String)


def _per_order(dialect: str, rng: DateRange, channels: Sequence[str], threshold_s: int, now: datetime) -> Any:
    shipped = _shipped_at(dialect)
    now_value = literal(now if dialect == "postgresql" else now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "))
    deviation = case((shipped.is_not(None), seconds_between(shipped, Order.promised_ship_at, dialect)),
                     else_=seconds_between(now_value, Order.promised_ship_at, dialect))
    stmt = select(Order.id.label("id"), Order.channel.label("channel"), Order.order_id.label("order_id"),
                  Order.status.label("status"), Order.promised_ship_at.label("promised"),
                  shipped.label("shipped"), deviation.label("deviation"),
                  local_date(Order.promised_ship_at, dialect).label("day"),
                  local_hour(Order.promised_ship_at, dialect).label("hour")).where(
        Order.promised_ship_at >= rng.start, Order.promised_ship_at < rng.end, Order.dropped_by.is_(None),
        Order.status != "cancelled")
    if channels:
        stmt = stmt.where(Order.channel.in_(list(channels)))
    return stmt.subquery("per_order")


def _rate(orders: int, late: int) -> dict[str, Any]:
    return {"orders": orders, "late": late, "late_rate_bp": share_bp(late, orders)}


def deviation_report(session: Session, rng: DateRange, channels: Sequence[str], *, threshold_s: int, now: datetime,
                     cursor: str | None, limit: int) -> dict[str, Any]:
    """``{"range", "threshold_s", "totals", "by_channel", "by_day", "by_hour", "late_orders", "next_cursor"}``;
    rates in basis points (late / orders, half up)."""
    dialect = session.get_bind().dialect.name
    per = _per_order(dialect, rng, channels, threshold_s, now)
    is_late = per.c.deviation > threshold_s
    grouped = select(per.c.channel, per.c.day, per.c.hour, func.count().label("n"),
                     func.sum(cast(case((is_late, 1), else_=0), Integer)).label("late")).group_by(
        per.c.channel, per.c.day, per.c.hour)
    totals = [0, 0]
    by_channel: dict[str, list[int]] = {}
    by_day: dict[str, list[int]] = {}
    by_hour = [[0, 0] for _ in range(24)]
    for row in session.execute(grouped):
        late = int(row.late or 0)
        day = row.day if isinstance(row.day, str) else row.day.isoformat()
        for bucket in (totals, by_channel.setdefault(row.channel, [0, 0]), by_day.setdefault(day, [0, 0]),
                       by_hour[row.hour]):
            bucket[0] += row.n
            bucket[1] += late
    listed = select(per).where(is_late)
    if cursor:
        at, pk = decode_cursor(cursor)
        listed = listed.where(or_(per.c.promised > at, and_(per.c.promised == at, per.c.id > pk)))
    rows = session.execute(listed.order_by(per.c.promised, per.c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    late_orders = [{"id": r.id, "channel": r.channel, "order_id": r.order_id, "status": r.status,
                    "promised_ship_at": _iso(r.promised), "shipped_at": _iso(r.shipped),
                    "shipped": r.shipped is not None,
                    "deviation_s": int(r.deviation), "deviation": _duration(int(r.deviation))} for r in rows]
    return {"range": rng.as_json(), "channels": list(channels), "threshold_s": threshold_s,
            "totals": _rate(*totals),
            "by_channel": [{"channel": k, **_rate(*v)} for k, v in sorted(by_channel.items())],
            "by_day": [{"day": k, **_rate(*v)} for k, v in sorted(by_day.items())],
            "by_hour": [{"hour": h, **_rate(*v)} for h, v in enumerate(by_hour) if v[0]],
            "late_orders": late_orders,
            "next_cursor": encode_cursor(_aware(rows[-1].promised), rows[-1].id) if more and rows else None}


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return _aware(value).isoformat()


def _duration(seconds: int) -> str:
    """``3小时12分`` (Chinese, for people)."""
    sign = "-" if seconds < 0 else ""
    minutes = abs(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}小时{minutes}分" if hours else f"{sign}{minutes}分"
