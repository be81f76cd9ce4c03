"""The staffing heatmap: orders per weekday × hour (Asia/Shanghai) in a date range, in total and
per channel, and the orders behind one cell.

Owns these two queries. Counting reads the per (day, hour, channel) counters of
:mod:`engine.analytics.hour_counts` for the range (one ``GROUP BY`` weekday × hour × channel over
at most days × 24 × channels rows) plus what the orders changed since the counters' cursor add
and take away (an index range over ``ix_orders_changed``): exact, and bounded by the range's
days rather than its orders (a store never counted reads its orders: one ``GROUP BY`` over the
``ix_orders_analytics`` index). Python only lays the at most 7 × 24 × channels counts out. An
order counts at its creation time (the store's ``created_at``: created, else paid, else version
time); orders a cleaning dropped (test orders) do not count. The drill-down of a cell reads the
one-hour intervals that make it up (one per week of the range), each an index range.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.analytics.hour_counts import HourCount, pending_since_cursor
from engine.analytics.orders_list import listed, page_of_orders
from engine.analytics.ranges import DateRange
from engine.analytics.sql_time import local_hour, local_weekday, shanghai_midnight
from engine.orders.model import Order

__all__ = ["WEEKDAYS", "cell_orders", "hourly_heatmap"]

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _filtered(stmt: Any, rng: DateRange, channels: Sequence[str]) -> Any:
    stmt = stmt.where(Order.created_at >= rng.start, Order.created_at < rng.end, Order.dropped_by.is_(None))
    if channels:
        stmt = stmt.where(Order.channel.in_(list(channels)))
    return stmt


def _matrix() -> list[list[int]]:
    return [[0] * 24 for _ in range(7)]


def hourly_heatmap(session: Session, rng: DateRange, channels: Sequence[str]) -> dict[str, Any]:
    """``{"range", "channels", "total", "weekdays", "matrix", "by_channel", "peak"}``: ``matrix[d][h]``
    is the orders of weekday ``d + 1`` (1 Monday) at hour ``h``."""
    dialect = session.get_bind().dialect.name
    chosen = list(channels)
    pending = pending_since_cursor(session, rng.first, rng.last, chosen)
    if pending is None:  # never counted (a new store): the orders themselves
        weekday, hour = local_weekday(Order.created_at, dialect), local_hour(Order.created_at, dialect)
        counted = _filtered(select(weekday.label("weekday"), hour.label("hour"), Order.channel,
                                   func.count().label("n")), rng, channels).group_by(weekday, hour, Order.channel)
        pending = {}
    else:
        counted = select(HourCount.weekday, HourCount.hour, HourCount.channel,
                         func.sum(HourCount.orders).label("n")).where(HourCount.day >= rng.first,
                                                                       HourCount.day <= rng.last)
        if chosen:
            counted = counted.where(HourCount.channel.in_(chosen))
        counted = counted.group_by(HourCount.weekday, HourCount.hour, HourCount.channel)
    cells = dict(pending)
    for row in session.execute(counted):
        key = (int(row.weekday), int(row.hour), row.channel)
        cells[key] = cells.get(key, 0) + int(row.n)
    total = 0
    matrix = _matrix()
    by_channel: dict[str, dict[str, Any]] = {}
    for (day_of_week, hour_of_day, channel), n in sorted(cells.items()):
        if not n:
            continue
        total += n
        matrix[day_of_week - 1][hour_of_day] += n
        entry = by_channel.setdefault(channel, {"total": 0, "matrix": _matrix()})
        entry["total"] += n
        entry["matrix"][day_of_week - 1][hour_of_day] += n
    peak = None
    if total:
        n, d, h = max((matrix[d][h], -d, -h) for d in range(7) for h in range(24))
        peak = {"weekday": 1 - d, "weekday_label": WEEKDAYS[-d], "hour": -h, "orders": n}
    return {"range": rng.as_json(), "channels": list(channels), "total": total, "weekdays": list(WEEKDAYS),
            "matrix": matrix, "by_channel": dict(sorted(by_channel.items())), "peak": peak}


def cell_orders(session: Session, rng: DateRange, channels: Sequence[str], *, weekday: int, hour: int,
                cursor: str | None, limit: int) -> dict[str, Any]:
    """The orders counted in one cell of the heatmap, newest first, a page at a time."""
    intervals = []
    day = rng.first + timedelta(days=(weekday - 1 - rng.first.weekday()) % 7)
    while day <= rng.last:
        start = shanghai_midnight(day) + timedelta(hours=hour)
        intervals.append((Order.created_at >= start) & (Order.created_at < start + timedelta(hours=1)))
        day += timedelta(days=7)
    if not intervals:
        return {"items": [], "next_cursor": None}
    stmt = _filtered(listed(), rng, channels).where(or_(*intervals))
    return page_of_orders(session, stmt, cursor=cursor, limit=limit)
