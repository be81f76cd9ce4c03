"""Fulfillment deviation: per order, the time it shipped minus the time its ship was promised;
late when that exceeds a threshold (default 2 hours). Late rates per channel, per day and per
hour of promise (Asia/Shanghai), with the late orders listed.

Owns this report; what counts is :mod:`engine.analytics.deviation_counts` (orders promised in the
range, not cancelled, not dropped; the ship time is our first shipment, else the platform's
``shipped_at``). An order shipped is late when its deviation exceeds the threshold; an order not
shipped yet is late once ``now`` is past its promise by more than the threshold (its deviation so
far), and on time before. The figures read the counters of the range: per channel and hour of
promise the monthly ones (``analytics_deviation_months``) of its whole months, the hourly ones of
its other days; per day the daily ones (``analytics_deviation_days``). A counter whose hours of
promise ended before ``now`` − threshold adds its unshipped orders (due − shipped) to its late
ones, so only the unshipped orders of the hour holding that instant are read one by one
(``ix_deviation_orders_open``). The counters hold lateness under the published threshold; a
query asking another one also reads the shipped orders whose deviation lies between the two
(``ix_deviation_orders_band``), which move into or out of late. The late list is two index ranges
(shipped late: ``ix_deviation_orders_late``; not shipped: the open index) merged by promise time,
a page at a time. Python only adds up groups (at most channels × days × 24 rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from engine.analytics.deviation_counts import (
    DEFAULT_THRESHOLD_S,
    DeviationCount,
    DeviationDay,
    DeviationMonth,
    DeviationOrder,
    counted_threshold,
)
from engine.analytics.grid import share_bp
from engine.analytics.ranges import DateRange, month_of, whole_months
from engine.analytics.sql_time import SHANGHAI
from engine.api.cursors import decode_cursor, encode_cursor
from engine.clock import utc
from engine.orders.model import Order

__all__ = ["DEFAULT_THRESHOLD_S", "deviation_report"]

_D = DeviationOrder


def _in_range(stmt: Any, rng: DateRange, channels: Sequence[str], *, before: datetime | None = None,
              since: datetime | None = None) -> Any:
    end = rng.end if before is None else min(rng.end, before)
    start = rng.start if since is None else max(rng.start, since)
    stmt = stmt.where(_D.promised_at >= start, _D.promised_at < end)
    return stmt.where(_D.channel.in_(list(channels))) if channels else stmt


def _late_with(model: Any, past: Any) -> Any:
    """The late orders of counter rows: shipped late, plus the unshipped ones of rows ``past``."""
    return func.sum(model.late + case((past, model.due - model.shipped), else_=0))


def _counter_rows(session: Session, rng: DateRange, channels: Sequence[str], cutoff: datetime,
                  by: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """``(*by, orders, late)`` from the counters, ``by`` either ``("channel", "hour")`` or
    ``("day",)``. A counter whose hours of promise all ended before ``cutoff`` (local time) adds
    its unshipped orders to its late ones. Per day: the daily counters, but the cutoff's day from
    its hours. Per channel and hour: the monthly counters of the whole months before the
    cutoff's month, the hourly ones of the other days."""
    c = DeviationCount
    cut_day = cutoff.date()
    hour_past = or_(c.day < cut_day, and_(c.day == cut_day, c.hour < cutoff.hour))

    def chosen(stmt: Any, model: Any) -> Any:
        return stmt.where(model.channel.in_(list(channels))) if channels else stmt

    parts = []
    if by == ("day",):
        d = DeviationDay
        parts.append(chosen(select(d.day, func.sum(d.due), _late_with(d, d.day < cut_day))
                            .where(d.day >= rng.first, d.day <= rng.last, d.day != cut_day), d).group_by(d.day))
        if rng.first <= cut_day <= rng.last:
            parts.append(chosen(select(c.day, func.sum(c.due), _late_with(c, hour_past)).where(c.day == cut_day), c)
                         .group_by(c.day))
    else:
        keys = [getattr(c, k) for k in by]
        months = whole_months(rng.first, rng.last)
        end = min(months[1], month_of(cut_day)) if months else None
        if months and end is not None and months[0] < end:
            m = DeviationMonth
            parts.append(chosen(select(*[getattr(m, k) for k in by], func.sum(m.due),
                                       func.sum(m.late + m.due - m.shipped))
                                .where(m.month >= months[0], m.month < end), m).group_by(*[getattr(m, k) for k in by]))
            days = or_(and_(c.day >= rng.first, c.day < months[0]), and_(c.day >= end, c.day <= rng.last))
        else:
            days = and_(c.day >= rng.first, c.day <= rng.last)
        parts.append(chosen(select(*keys, func.sum(c.due), _late_with(c, hour_past)).where(days), c).group_by(*keys))
    return [tuple(r) for part in parts for r in session.execute(part)]


def _groups(session: Session, rng: DateRange, channels: Sequence[str], threshold_s: int, now: datetime,
            held_s: int, by: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """``(*by, orders, late)`` per group of the range, ``by`` either ``("channel", "hour")`` or
    ``("day",)`` (a group may come in several rows, to be added up): from the counters, which
    hold lateness under ``held_s``, so a year comes back as a few hundred rows each."""
    # every order of an hour of promise that ended before now - threshold is late unless shipped
    # (counted from the counters); the orders of the hour holding that instant are read one by one
    overdue_before = now - timedelta(seconds=threshold_s)
    cutoff = overdue_before.astimezone(SHANGHAI)
    rows = _counter_rows(session, rng, channels, cutoff, by)
    keys = [getattr(_D, k) for k in by]
    still_open = _in_range(select(*keys, func.count()).where(_D.shipped_at.is_(None)), rng, channels,
                           before=overdue_before, since=cutoff.replace(minute=0, second=0, microsecond=0))
    rows += [(*r[:-1], 0, r[-1]) for r in session.execute(still_open.group_by(*keys))]
    if threshold_s != held_s:
        # another threshold than the counters hold: the shipped orders whose deviation lies between
        # the two move in (a lower threshold) or out (a higher one), one range of ix_deviation_orders_band
        low, high, sign = (threshold_s, held_s, 1) if threshold_s < held_s else (held_s, threshold_s, -1)
        band = _in_range(select(*keys, func.count()).where(_D.shipped_at.is_not(None), _D.deviation_s > low,
                                                           _D.deviation_s <= high), rng, channels)
        rows += [(*r[:-1], 0, sign * r[-1]) for r in session.execute(band.group_by(*keys))]
    return rows


def _late_page(session: Session, rng: DateRange, channels: Sequence[str], threshold_s: int, now: datetime,
               counted: bool, cursor: str | None, limit: int) -> list[Any]:
    """Up to ``limit + 1`` late orders after the cursor, by (promise, id)."""
    after = None
    if cursor:
        at, pk = decode_cursor(cursor)
        after = or_(_D.promised_at > at, and_(_D.promised_at == at, _D.order_pk > pk))
    shipped_late = _D.late if counted else and_(_D.shipped_at.is_not(None), _D.deviation_s > threshold_s)
    wanted = []
    for where, before in ((shipped_late, None), (_D.shipped_at.is_(None), now - timedelta(seconds=threshold_s))):
        stmt = _in_range(select(_D.order_pk, _D.channel, _D.promised_at, _D.shipped_at, _D.deviation_s)
                         .where(where), rng, channels, before=before)
        if after is not None:
            stmt = stmt.where(after)
        wanted += list(session.execute(stmt.order_by(_D.promised_at, _D.order_pk).limit(limit + 1)))
    wanted.sort(key=lambda r: (utc(r.promised_at), r.order_pk))
    return wanted[:limit + 1]


def deviation_report(session: Session, rng: DateRange, channels: Sequence[str], *, threshold_s: int, now: datetime,
                     cursor: str | None, limit: int) -> dict[str, Any]:
    """``{"range", "threshold_s", "totals", "by_channel", "by_day", "by_hour", "late_orders", "next_cursor"}``;
    rates in basis points (late / orders, half up)."""
    held_s = counted_threshold(session.connection())
    counted = held_s == threshold_s
    by_channel: dict[str, list[int]] = {}
    by_hour = [[0, 0] for _ in range(24)]
    for channel, hour, orders, late in _groups(session, rng, channels, threshold_s, now, held_s, ("channel", "hour")):
        for bucket in (by_channel.setdefault(channel, [0, 0]), by_hour[int(hour)]):
            bucket[0] += int(orders or 0)
            bucket[1] += int(late or 0)
    by_day: dict[str, list[int]] = {}
    for day, orders, late in _groups(session, rng, channels, threshold_s, now, held_s, ("day",)):
        bucket = by_day.setdefault(day if isinstance(day, str) else day.isoformat(), [0, 0])
        bucket[0] += int(orders or 0)
        bucket[1] += int(late or 0)
    totals = [sum(v[0] for v in by_hour), sum(v[1] for v in by_hour)]
    # a bucket every order has left (its counters at zero) is not listed
    by_channel = {k: v for k, v in by_channel.items() if v[0] or v[1]}
    by_day = {k: v for k, v in by_day.items() if v[0] or v[1]}
    rows = _late_page(session, rng, channels, threshold_s, now, counted, cursor, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    found = {r.id: r for r in session.execute(select(Order.id, Order.order_id, Order.status)
                                                  .where(Order.id.in_([r.order_pk for r in rows])))}
    late_orders = []
    for r in rows:
        promised = utc(r.promised_at)
        shipped = utc(r.shipped_at) if r.shipped_at is not None else None
        deviation = r.deviation_s if shipped is not None else _seconds(now - promised)
        order = found.get(r.order_pk)
        late_orders.append({"id": r.order_pk, "channel": r.channel, "order_id": order.order_id if order else None,
                            "status": order.status if order else None, "promised_ship_at": promised.isoformat(),
                            "shipped_at": shipped.isoformat() if shipped else None, "shipped": shipped is not None,
                            "deviation_s": int(deviation), "deviation": _duration(int(deviation))})
    return {"range": rng.as_json(), "channels": list(channels), "threshold_s": threshold_s,
            "totals": _rate(*totals),
            "by_channel": [{"channel": k, **_rate(*v)} for k, v in sorted(by_channel.items())],
            "by_day": [{"day": k, **_rate(*v)} for k, v in sorted(by_day.items())],
            "by_hour": [{"hour": h, **_rate(*v)} for h, v in enumerate(by_hour) if v[0]],
            "late_orders": late_orders,
            "next_cursor": encode_cursor(utc(rows[-1].promised_at), rows[-1].order_pk) if more and rows else None}


def _rate(orders: int, late: int) -> dict[str, Any]:
    return {"orders": orders, "late": late, "late_rate_bp": share_bp(late, orders)}


def _seconds(delta: timedelta) -> int:
    s = delta.total_seconds()
    return int(s + 0.5) if s >= 0 else -int(-s + 0.5)


def _duration(seconds: int) -> str:
    """``3小时12分`` (Chinese, for people)."""
    sign = "-" if seconds < 0 else ""
    minutes = abs(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}小时{minutes}分" if hours else f"{sign}{minutes}分"
