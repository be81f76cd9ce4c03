"""The presale plan: orders with a presale ship-by time (``presale_ship_by``), how many fall due
on each Asia/Shanghai day of a range (due, shipped, still to ship), the overdue ones (past their
ship-by, not shipped), and the orders behind each figure.

Owns these reads; what counts is :mod:`engine.fulfillment.presale_counts` (presale orders, not
cancelled, not test orders a cleaning dropped; "shipped" is the order's status: shipped in part or
whole, delivered, completed; every other status still has to ship). Due and shipped per day read
the per (day, channel) counters of the range. Overdue depends on ``now``: every order still to
ship of a day that ended before ``now`` is overdue (the counters' waiting), so only today's are
read one by one, as an index range over the unshipped orders of today up to ``now``
(``ix_presale_orders_open``), however large the backlog of earlier days. The orders behind a
figure are an index range over the per-order rows by ship-by time, a page at a time. Python only
adds up groups (at most channels × days rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.analytics.ranges import DateRange
from engine.analytics.sql_time import SHANGHAI, shanghai_midnight
from engine.api.cursors import decode_cursor, encode_cursor
from engine.clock import utc
from engine.fulfillment.presale_counts import SHIPPED_STATUSES, PresaleCount, PresaleOrder
from engine.fulfillment.sql import iso_text
from engine.orders.model import Order

__all__ = ["SHIPPED_STATUSES", "presale_orders", "presale_plan"]

STATES = ("due", "shipped", "waiting", "overdue")
_P = PresaleOrder


def _channels(stmt: Any, column: Any, channels: Sequence[str]) -> Any:
    return stmt.where(column.in_(list(channels))) if channels else stmt


def _in_range(stmt: Any, rng: DateRange) -> Any:
    return stmt.where(_P.ship_by >= iso_text(rng.start), _P.ship_by < iso_text(rng.end))


def _overdue(stmt: Any, now: datetime) -> Any:
    """The orders still to ship past their ship-by: the partial index ``ix_presale_orders_open``."""
    return stmt.where(~_P.shipped, _P.ship_by < iso_text(now))


def _day_text(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def presale_plan(session: Session, rng: DateRange, channels: Sequence[str], *, now: datetime,
                 overdue_limit: int = 50) -> dict[str, Any]:
    """``{"range", "channels", "totals", "by_day", "overdue", "overdue_next_cursor"}``: per day of
    the range the presale orders due (ship-by that day), shipped and waiting, of which overdue."""
    c = PresaleCount
    counted = _channels(select(c.day, c.channel, c.due, c.shipped).where(c.day >= rng.first, c.day <= rng.last),
                        c.channel, channels)
    today = now.astimezone(SHANGHAI).date()
    # overdue today: the unshipped orders from today's start up to now (earlier days: all waiting)
    overdue_today = _channels(_overdue(select(_P.channel, func.count()).where(
        _P.ship_by >= iso_text(shanghai_midnight(today))), now), _P.channel, channels).group_by(_P.channel)
    late_today = {ch: int(n) for ch, n in session.execute(overdue_today)}
    days: dict[str, dict[str, Any]] = {}
    totals = {"due": 0, "shipped": 0, "waiting": 0, "overdue": 0}
    for row in session.execute(counted.order_by(c.day, c.channel)):
        if not row.due:
            continue  # every order has left this bucket
        day = _day_text(row.day)
        entry = days.setdefault(day, {"due": 0, "shipped": 0, "waiting": 0, "overdue": 0, "by_channel": {}})
        waiting = row.due - row.shipped
        on = row.day if isinstance(row.day, date) else date.fromisoformat(day)
        overdue = waiting if on < today else late_today.get(row.channel, 0) if on == today else 0
        figures = {"due": row.due, "shipped": row.shipped, "overdue": overdue, "waiting": waiting}
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
    page = presale_orders(session, None, channels, state="overdue", now=now, cursor=None, limit=overdue_limit)
    before_today = session.scalar(_channels(select(func.sum(c.due - c.shipped)).where(c.day < today), c.channel,
                                            channels))
    count = int(before_today or 0) + sum(late_today.values())
    return {"range": rng.as_json(), "channels": list(channels), "totals": totals, "by_day": by_day,
            "overdue_total": count, "overdue": page["items"], "overdue_next_cursor": page["next_cursor"]}


def presale_orders(session: Session, day: date | None, channels: Sequence[str], *, state: str, now: datetime,
                   cursor: str | None, limit: int) -> dict[str, Any]:
    """The presale orders behind one figure: due on ``day`` (all, shipped, waiting or overdue),
    or every overdue order when ``day`` is None; by ship-by time, a page at a time."""
    stmt = _channels(select(_P.order_pk, _P.channel, _P.ship_by, _P.shipped), _P.channel, channels)
    if day is not None:
        stmt = _in_range(stmt, DateRange(day, day))
    if state == "shipped":
        stmt = stmt.where(_P.shipped)
    elif state == "waiting":
        stmt = stmt.where(~_P.shipped)
    elif state == "overdue":
        stmt = _overdue(stmt, now)
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(_P.ship_by > iso_text(at), and_(_P.ship_by == iso_text(at), _P.order_pk > pk)))
    rows = session.execute(stmt.order_by(_P.ship_by, _P.order_pk).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    found = {o.id: o for o in session.execute(
        select(Order.id, Order.order_id, Order.shop, Order.status, Order.created_at, Order.paid_at)
        .where(Order.id.in_([r.order_pk for r in rows])))} if rows else {}
    items = []
    for r in rows:
        o = found[r.order_pk]
        ship_at = utc(datetime.fromisoformat(r.ship_by))
        items.append({"id": r.order_pk, "channel": r.channel, "order_id": o.order_id, "shop": o.shop,
                      "status": o.status, "created_at": utc(o.created_at).isoformat(),
                      "paid_at": utc(o.paid_at).isoformat() if o.paid_at else None,
                      "presale_ship_by": ship_at.isoformat(),
                      "overdue_s": 0 if r.shipped else max(0, int((now - ship_at).total_seconds()))})
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(utc(datetime.fromisoformat(rows[-1].ship_by)), rows[-1].order_pk)
    return {"items": items, "next_cursor": next_cursor}
