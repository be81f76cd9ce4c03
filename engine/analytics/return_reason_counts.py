"""Return reasons kept as counters, so the weekly report reads at most days × channels × reasons
rows instead of every after-sales ticket in the range.

Owns two tables (migration ``0024_analytics_return_reasons``) and what keeps them:

- ``analytics_reason_tickets``: per counted after-sales ticket (``order_tickets`` of kind
  ``refund`` whose order no cleaning dropped) its Asia/Shanghai day of opening, its order's
  channel and its reason as the report reads it (the ticket's ``reason``, ``未注明`` when it has
  none);
- ``analytics_reason_counts``: per (day, channel, reason) the tickets counted.

A ticket counts exactly as :mod:`engine.analytics.return_reasons` counted it with one
``GROUP BY`` over the tickets: the reason is read with the same SQL expression, so both back
ends give what they gave. :func:`refresh_tickets` brings the rows and counters of some tickets to
what they say now, in the caller's transaction; it is called by every write that changes those
facts: the ticket stage opening refund tickets (one by one, or a pipeline batch's with its rows,
after the batch's own steps), a step that changes a ticket's ``reason``
(:func:`engine.workflow.service.fire_in`, a deadline's effects) and a platform version that drops
or restores a test order (:mod:`engine.orders.store`). A ticket's day and its order's channel
never change, so no other write moves a ticket and no catch-up pass is needed; a change written
around those paths (by hand in SQL) is repaired by :func:`rebuild`. On PostgreSQL it locks the
tickets' ``order_tickets`` rows first, then reads, so two writers of one ticket take turns.
:func:`rebuild` derives everything with one ``INSERT … SELECT`` and one ``GROUP BY`` (the
migration's back-fill). This module decides what counts and keeps it; it answers no report (that
is :mod:`engine.analytics.return_reasons`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from engine.analytics.counter_sql import StatementCache, add_counts, delete_items, replace_rows, write_changes
from engine.analytics.sql_time import SHANGHAI, local_date
from engine.clock import utc
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderTicket
from engine.storage.models import Base
from engine.workflow.models import WorkflowInstance

__all__ = ["REFUND_KIND", "UNSTATED", "ReasonCount", "ReasonTicket", "reason_changed", "reason_of", "rebuild",
           "refresh_instances", "refresh_order_tickets", "refresh_tickets"]

UNSTATED = "未注明"
REFUND_KIND = "refund"
CHUNK = 500
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class ReasonTicket(Base):
    __tablename__ = "analytics_reason_tickets"

    ticket_pk: Mapped[int] = mapped_column(_BigId, ForeignKey("order_tickets.id", ondelete="CASCADE"),
                                           primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String)


class ReasonCount(Base):
    __tablename__ = "analytics_reason_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String, primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer)


_ROWS: Any = ReasonTicket.__table__
_COUNTS: Any = ReasonCount.__table__
_TICKETS: Any = OrderTicket.__table__
Bucket = tuple[date, str, str]


def reason_of(dialect: str) -> Any:
    """A ticket's reason as the report reads it: its data's ``reason``, ``未注明`` without one."""
    if dialect == "postgresql":
        return func.coalesce(literal_column("(workflow_instances.data ->> 'reason')"), UNSTATED)
    return func.coalesce(func.json_extract(WorkflowInstance.data, "$.reason"), UNSTATED)


def reason_changed(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    """Whether a step moved a ticket's ``reason`` (then its counted bucket may move)."""
    return (before or {}).get("reason") != (after or {}).get("reason")


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _build(dialect: str, name: str) -> Any:
    """The statements of :func:`refresh_tickets`."""
    by_ticket = _TICKETS.c.id.in_(bindparam("pks", expanding=True))
    refunds = _TICKETS.c.kind == REFUND_KIND
    if name == "by_instance":
        return select(_TICKETS.c.id).where(_TICKETS.c.instance_id.in_(bindparam("ids", expanding=True)), refunds)
    if name == "by_order":
        return select(_TICKETS.c.id).where(_TICKETS.c.order_pk.in_(bindparam("pks", expanding=True)), refunds)
    if name == "lock":
        return select(_TICKETS.c.id).where(by_ticket).order_by(_TICKETS.c.id).with_for_update()
    if name == "read":
        return (select(_TICKETS.c.id, _TICKETS.c.created_at, Order.channel,
                       Order.dropped_by, reason_of(dialect).label("reason"))
                .select_from(_TICKETS.join(WorkflowInstance, WorkflowInstance.id == _TICKETS.c.instance_id)
                             .join(Order, Order.id == _TICKETS.c.order_pk))
                .where(by_ticket))
    if name == "stored":
        return select(_ROWS).where(_ROWS.c.ticket_pk.in_(bindparam("pks", expanding=True)))
    if name == "rows":
        return replace_rows(dialect, _ROWS, ["ticket_pk"], ["day", "channel", "reason"])
    if name == "counts":
        return add_counts(dialect, _COUNTS, ["day", "channel", "reason"], ["tickets"])
    if name == "gone":
        return delete_items(_ROWS, "ticket_pk")
    raise ValueError(name)


_statement = StatementCache(_build)


def refresh_order_tickets(conn: Connection, order_pks: Iterable[int]) -> int:
    """:func:`refresh_tickets` for the refund tickets of ``order_pks``."""
    pks = sorted(set(order_pks))
    tickets: list[int] = []
    for start in range(0, len(pks), CHUNK):
        tickets += conn.execute(_statement(conn, "by_order"), {"pks": pks[start:start + CHUNK]}).scalars().all()
    return refresh_tickets(conn, tickets)


def refresh_instances(conn: Connection, instance_ids: Iterable[int]) -> int:
    """:func:`refresh_tickets` for the refund tickets run by the workflow instances ``instance_ids``."""
    ids = sorted(set(instance_ids))
    tickets: list[int] = []
    for start in range(0, len(ids), CHUNK):
        tickets += conn.execute(_statement(conn, "by_instance"), {"ids": ids[start:start + CHUNK]}).scalars().all()
    return refresh_tickets(conn, tickets)


def refresh_tickets(conn: Connection, ticket_pks: Iterable[int]) -> int:
    """Bring the rows and counters of the refund tickets ``ticket_pks`` (``order_tickets`` ids)
    up to what they say now, in the caller's transaction; how many changed bucket."""
    pks = sorted(set(ticket_pks))
    changed = 0
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start:start + CHUNK]
        if conn.dialect.name == "postgresql":
            conn.execute(_statement(conn, "lock"), {"pks": chunk}).all()
        current: dict[int, Bucket] = {}
        for r in conn.execute(_statement(conn, "read"), {"pks": chunk}):
            if r.dropped_by is None:
                day = utc(r.created_at).astimezone(SHANGHAI).date()
                current[r.id] = (day, r.channel, str(r.reason))
        stored = {r.ticket_pk: (_day(r.day), r.channel, r.reason) for r in conn.execute(_statement(conn, "stored"),
                                                                                          {"pks": chunk})}
        deltas: dict[Bucket, int] = {}
        upserts, gone = [], []
        for pk in chunk:
            old, new = stored.get(pk), current.get(pk)
            if old == new:
                continue
            changed += 1
            if old is not None:
                deltas[old] = deltas.get(old, 0) - 1
            if new is not None:
                deltas[new] = deltas.get(new, 0) + 1
                upserts.append({"ticket_pk": pk, "day": new[0], "channel": new[1], "reason": new[2]})
            else:
                gone.append(pk)
        write_changes(conn, _statement, [{"day": d, "channel": c, "reason": why, "tickets": n}
                                         for (d, c, why), n in sorted(deltas.items()) if n], gone, upserts)
    return changed


def rebuild(conn: Connection) -> int:
    """Derive every row and counter from the tickets: one ``INSERT … SELECT`` over the refund
    tickets of orders no cleaning dropped, one ``GROUP BY`` into the counters; how many count."""
    dialect = conn.dialect.name
    conn.execute(delete(_COUNTS))
    conn.execute(delete(_ROWS))
    source = (select(_TICKETS.c.id, local_date(_TICKETS.c.created_at, dialect), Order.channel, reason_of(dialect))
              .select_from(_TICKETS.join(WorkflowInstance, WorkflowInstance.id == _TICKETS.c.instance_id)
                           .join(Order, Order.id == _TICKETS.c.order_pk))
              .where(_TICKETS.c.kind == REFUND_KIND, Order.dropped_by.is_(None)))
    conn.execute(insert(_ROWS).from_select(["ticket_pk", "day", "channel", "reason"], source))
    grouped = (select(_ROWS.c.day, _ROWS.c.channel, _ROWS.c.reason, func.count())
               .group_by(_ROWS.c.day, _ROWS.c.channel, _ROWS.c.reason))
    conn.execute(insert(_COUNTS).from_select(["day", "channel", "reason", "tickets"], grouped))
    return int(conn.execute(select(func.count()).select_from(_ROWS)).scalar() or 0)
