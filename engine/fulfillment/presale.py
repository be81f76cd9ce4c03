"""The presale plan: orders with a presale ship-by time (``presale_ship_by``), how many fall due
on each Asia/Shanghai day of a range (due, shipped, still to ship), the overdue ones (past their
ship-by, not shipped), and the orders behind each figure.

Owns these queries. Every figure is one ``GROUP BY`` or one index range in SQL over the partial
index ``ix_orders_presale_ship_by`` (presale orders only); cancelled orders and test orders a
cleaning dropped are not counted. "Shipped" is the order's status (shipped in part or whole,
delivered, completed); every other status still has to ship.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from engine.analytics.ranges import DateRange
from engine.api.cursors import decode_cursor, encode_cursor
from engine.clock import utc
from engine.fulfillment.sql import iso_text, ship_by_day, ship_by_text
from engine.orders.model import Order

__all__ = ["SHIPPED_STATUSES", "presale_orders", "presale_plan"]

SHIPPED_STATUSES = ("partially_shipped", "shipped", "delivered", "completed")
STATES = ("due", "shipped", "waiting", "overdue")


def _base(dialect: str, channels: Sequence[str]) -> Any:
    ship_by = ship_by_text(dialect)
    stmt = select().select_from(Order).where(ship_by.is_not(None), Order.status != "cancelled",
                                              Order.dropped_by.is_(None))
    if channels:
        stmt = stmt.where(Order.channel.in_(list(channels)))
    return stmt


def _in_range(stmt: Any, dialect: str, rng: DateRange) -> Any:
    ship_by = ship_by_text(dialect)
    return stmt.where(ship_by >= iso_text(rng.start), ship_by < iso_text(rng.end))


def _day_text(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def presale_plan(session: Session, rng: DateRange, channels: Sequence[str], *, now: datetime,
                 overdue_limit: int = 50) -> dict[str, Any]:
    """``{"range", "channels", "totals", "by_day", "overdue", "overdue_next_cursor"}``: per day of
    the range the presale orders due (ship-by that day), shipped and waiting, of which overdue."""
    dialect = session.get_bind().dialect.name
    ship_by = ship_by_text(dialect)
    shipped = Order.status.in_(SHIPPED_STATUSES)
    overdue = and_(~shipped, ship_by < iso_text(now))
    day = ship_by_day(dialect)
    grouped = _in_range(_base(dialect, channels), dialect, rng).add_columns(
        day.label("day"), Order.channel, func.count().label("due"),
        func.sum(cast(case((shipped, 1), else_=0), Integer)).label("shipped"),
        func.sum(cast(case((overdue, 1), else_=0), Integer)).label("overdue")).group_by(day, Order.channel)
    days: dict[str, dict[str, Any]] = {}
    totals = {"due": 0, "shipped": 0, "waiting": 0, "overdue": 0}
    for row in session.execute(grouped):
        entry = days.setdefault(_day_text(row.day), {"due": 0, "shipped": 0, "waiting": 0, "overdue": 0,
                                                      "by_channel": {}})
        figures = {"due": row.due, "shipped": int(row.shipped or 0), "overdue": int(row.overdue or 0)}
        figures["waiting"] = figures["due"] - figures["shipped"]
        entry["by_channel"][row.channel] = figures
        for key, value in figures.items():
            entry[key] += value
            totals[key] += value
    by_day = []
    for i in range(rng.days):
        key = (rng.first + timedelta(days=i)).isoformat()
        found = days.get(key)
        if found is None and rng.days > 366:
            continue  # long ranges list the days with orders only
        by_day.append({"day": key, **(found or {"due": 0, "shipped": 0, "waiting": 0, "overdue": 0,
                                               "by_channel": {}})})
    late = presale_orders(session, None, channels, state="overdue", now=now, cursor=None, limit=overdue_limit)
    count = session.scalar(_base(dialect, channels).add_columns(func.count()).where(overdue)) or 0
    return {"range": rng.as_json(), "channels": list(channels), "totals": totals, "by_day": by_day,
            "overdue_total": count, "overdue": late["items"], "overdue_next_cursor": late["next_cursor"]}


def presale_orders(session: Session, day: date | None, channels: Sequence[str], *, state: str, now: datetime,
                   cursor: str | None, limit: int) -> dict[str, Any]:
    """The presale orders behind one figure: due on ``day`` (all, shipped, waiting or overdue),
    or every overdue order when ``day`` is None; by ship-by time, a page at a time."""
    dialect = session.get_bind().dialect.name
    ship_by = ship_by_text(dialect)
    stmt = _base(dialect, channels).add_columns(
        Order.id, Order.channel, Order.order_id, Order.shop, Order.status, Order.created_at, Order.paid_at,
        ship_by.label("ship_by"))
    if day is not None:
        stmt = _in_range(stmt, dialect, DateRange(day, day))
    if state == "shipped":
        stmt = stmt.where(Order.status.in_(SHIPPED_STATUSES))
    elif state in ("waiting", "overdue"):
        stmt = stmt.where(Order.status.not_in(SHIPPED_STATUSES))
    if state == "overdue":
        stmt = stmt.where(ship_by < iso_text(now))
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(ship_by > iso_text(at), and_(ship_by == iso_text(at), Order.id > pk)))
    rows = session.execute(stmt.order_by(ship_by, Order.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = []
    for r in rows:
        ship_at = utc(datetime.fromisoformat(r.ship_by))
        items.append({"id": r.id, "channel": r.channel, "order_id": r.order_id, "shop": r.shop, "status": r.status,
                      "created_at": utc(r.created_at).isoformat(),
                      "paid_at": utc(r.paid_at).isoformat() if r.paid_at else None,
                      "presale_ship_by": ship_at.isoformat(),
                      "overdue_s": max(0, int((now - ship_at).total_seconds()))
                      if r.status not in SHIPPED_STATUSES else 0})
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(utc(datetime.fromisoformat(rows[-1].ship_by)), rows[-1].id)
    return {"items": items, "next_cursor": next_cursor}
