"""Return reasons over time: after-sales tickets (the platform refunds a ``follow … for refunds``
opened, ``order_tickets`` of kind ``refund``) per Asia/Shanghai week (Monday to Sunday) per
reason, each week against the week before it, and the tickets behind one figure.

Owns these queries. The counting reads the counters :mod:`engine.analytics.return_reason_counts`
keeps per (Asia/Shanghai day, channel, reason) in step with the tickets (the reason in the
ticket's data, ``未注明`` when it has none; test orders a cleaning dropped are left out): one
``GROUP BY`` (week, reason) over at most days × channels × reasons rows; Python lays the at most
weeks × reasons counts out and computes the changes. The tickets behind a
figure are read from the tickets themselves, a page at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, and_, cast, extract, func, or_, select
from sqlalchemy.orm import Session

from engine.analytics.ranges import DateRange
from engine.analytics.return_reason_counts import REFUND_KIND, UNSTATED, ReasonCount, reason_of
from engine.api.cursors import decode_cursor, encode_cursor
from engine.clock import utc
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderTicket
from engine.workflow.models import WorkflowInstance

__all__ = ["UNSTATED", "change_bp", "return_reasons", "reason_tickets", "whole_weeks"]


def whole_weeks(rng: DateRange) -> DateRange:
    """From the Monday of the first day's week to the Sunday of the last day's."""
    return DateRange(rng.first - timedelta(days=rng.first.weekday()), rng.last + timedelta(days=6 - rng.last.weekday()))


def change_bp(current: int, previous: int) -> int | None:
    """Week-over-week change in basis points, half away from zero (None: nothing the week before)."""
    if previous == 0:
        return None
    diff = current - previous
    magnitude = (abs(diff) * 20000 + previous) // (2 * previous)
    return magnitude if diff >= 0 else -magnitude


def _tickets(stmt: Any, rng: DateRange, channels: Sequence[str]) -> Any:
    stmt = (stmt.select_from(OrderTicket).join(WorkflowInstance, WorkflowInstance.id == OrderTicket.instance_id)
            .join(Order, Order.id == OrderTicket.order_pk)
            .where(OrderTicket.kind == REFUND_KIND, OrderTicket.created_at >= rng.start,
                   OrderTicket.created_at < rng.end, Order.dropped_by.is_(None)))
    if channels:
        stmt = stmt.where(Order.channel.in_(list(channels)))
    return stmt


def _monday(day: Any, dialect: str) -> Any:
    """The Monday of a ``date`` column's week (a ``date`` on PostgreSQL, ``YYYY-MM-DD`` on SQLite)."""
    if dialect == "postgresql":
        return day - cast(extract("isodow", day), Integer) + 1
    return func.date(day, "weekday 0", "-6 days")


def _weekly(session: Session, counted: DateRange, channels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per reason, the tickets per week (its Monday) of ``counted`` (whole weeks)."""
    monday = _monday(ReasonCount.day, session.get_bind().dialect.name)
    stmt = (select(monday.label("week"), ReasonCount.reason, func.sum(ReasonCount.tickets).label("n"))
            .where(ReasonCount.day >= counted.first, ReasonCount.day <= counted.last)
            .group_by(monday, ReasonCount.reason))
    if channels:
        stmt = stmt.where(ReasonCount.channel.in_(list(channels)))
    counts: dict[str, dict[str, int]] = {}
    for row in session.execute(stmt):
        week = row.week if isinstance(row.week, str) else row.week.isoformat()
        counts.setdefault(row.reason, {})[week] = int(row.n)
    return counts


def return_reasons(session: Session, rng: DateRange, channels: Sequence[str]) -> dict[str, Any]:
    """``{"range", "channels", "weeks", "totals", "reasons"}``; each reason with its weekly
    returns, the week before's and the change (basis points; None when the week before had none)."""
    weeks = whole_weeks(rng)
    counted = DateRange(weeks.first - timedelta(days=7), weeks.last)  # one week more: the first's previous
    counts = _weekly(session, counted, channels)
    mondays = [(weeks.first + timedelta(days=7 * i)).isoformat() for i in range(weeks.days // 7)]
    before = (weeks.first - timedelta(days=7)).isoformat()
    reasons: list[dict[str, Any]] = []
    for name, per_week in counts.items():
        series: list[dict[str, Any]] = []
        previous = per_week.get(before, 0)
        for monday in mondays:
            current = per_week.get(monday, 0)
            series.append({"week": monday, "returns": current, "previous": previous,
                           "change_bp": change_bp(current, previous)})
            previous = current
        total = sum(s["returns"] for s in series)
        if total or any(s["previous"] for s in series):
            reasons.append({"reason": name, "total": total, "weeks": series})
    reasons.sort(key=lambda r: (-r["total"], r["reason"]))
    totals = []
    previous = sum(per_week.get(before, 0) for per_week in counts.values())
    for monday in mondays:
        current = sum(per_week.get(monday, 0) for per_week in counts.values())
        totals.append({"week": monday, "returns": current, "previous": previous,
                       "change_bp": change_bp(current, previous)})
        previous = current
    return {"range": weeks.as_json(), "channels": list(channels), "weeks": mondays, "totals": totals,
            "reasons": reasons}


def reason_tickets(session: Session, week: date, reason: str | None, channels: Sequence[str], *,
                   cursor: str | None, limit: int) -> dict[str, Any]:
    """The tickets counted in one week (the week holding ``week``), of one reason or all; newest first."""
    dialect = session.get_bind().dialect.name
    monday = week - timedelta(days=week.weekday())
    rng = DateRange(monday, monday + timedelta(days=6))
    why = reason_of(dialect)
    stmt = _tickets(select(OrderTicket.id, OrderTicket.instance_id, OrderTicket.refund_id, OrderTicket.line_id,
                           OrderTicket.created_at, OrderTicket.machine, WorkflowInstance.state, Order.id.label("pk"),
                           Order.channel, Order.order_id, why.label("reason")), rng, channels)
    if reason is not None:
        stmt = stmt.where(why == reason)
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(OrderTicket.created_at < at, and_(OrderTicket.created_at == at, OrderTicket.id < pk)))
    rows = session.execute(stmt.order_by(OrderTicket.created_at.desc(), OrderTicket.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{"ticket": r.instance_id, "machine": r.machine, "state": r.state, "refund_id": r.refund_id or None,
              "line_id": r.line_id, "reason": r.reason, "created_at": utc(r.created_at).isoformat(),
              "order": {"id": r.pk, "channel": r.channel, "order_id": r.order_id}} for r in rows]
    return {"week": monday.isoformat(), "reason": reason, "items": items,
            "next_cursor": encode_cursor(utc(rows[-1].created_at), rows[-1].id) if more and rows else None}
