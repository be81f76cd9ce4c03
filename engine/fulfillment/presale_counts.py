"""The presale plan kept as counters, so its figures read at most channels × days rows plus the
short list of overdue orders instead of every presale order of the range.

Owns two tables (migration ``0023_analytics_presale``) and what keeps them:

- ``analytics_presale_orders``: per counted order (a presale ship-by time in its document, not
  cancelled, not dropped by a cleaning) its channel, ship-by time (the document's ISO 8601 UTC
  text, as ``ix_orders_presale_ship_by`` indexes it: text order is time order), Asia/Shanghai
  ship-by day and whether it shipped (its status says shipped in part or whole, delivered or
  completed; every other status still has to ship);
- ``analytics_presale_counts``: per (ship-by day, channel) the orders due and shipped.

An order not shipped is overdue once the clock passes its ship-by; that depends on ``now``, so it
is never counted ahead: the plan takes the waiting orders of the days before today as overdue and
reads today's unshipped orders up to ``now`` (and the first page of overdue orders) through the
partial index ``ix_presale_orders_open`` (``WHERE NOT shipped``), a short walk however many
orders shipped.

:func:`refresh_orders` is called in the same transaction as every write that can change those
facts (a platform version stored, a shipment made, a person's cancel): it re-reads the orders,
compares with their stored rows and moves the counters by the difference, so a crash keeps both
or neither. :func:`rebuild` derives everything from the orders with one ``INSERT … SELECT`` and
one ``GROUP BY`` (the migration's back-fill). :func:`reconcile_changed` (the worker's
``analytics.presale_counts`` job) passes :func:`refresh_orders` over the orders changed since its
cursor (:mod:`engine.analytics.changed_orders`), so a writer outside those paths is counted
within a minute instead of never. This module decides what counts; the plan that reads it is
:mod:`engine.fulfillment.presale`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from engine.analytics.changed_orders import pass_changed_orders, start_after_newest_change
from engine.analytics.counter_sql import StatementCache, add_counts, delete_items, replace_rows, write_changes
from engine.analytics.sql_time import SHANGHAI
from engine.fulfillment.sql import ship_by_day, ship_by_text
from engine.orders.model import Order
from engine.orders.order_status import SHIPPED_STATUSES
from engine.storage.models import Base

__all__ = ["CURSOR", "SHIPPED_STATUSES", "PresaleCount", "PresaleOrder", "rebuild", "reconcile_changed",
           "refresh_orders"]

CURSOR = "presale"  # its row in analytics_count_cursor
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class PresaleOrder(Base):
    __tablename__ = "analytics_presale_orders"
    __table_args__ = (
        Index("ix_presale_orders_ship_by", "ship_by", "order_pk"),
        # the orders still to ship, overdue once past their ship-by (grouped from the index alone)
        Index("ix_presale_orders_open", "ship_by", "order_pk", "channel", "day",
              sqlite_where=text("shipped = 0"), postgresql_where=text("NOT shipped")),
    )

    order_pk: Mapped[int] = mapped_column(_BigId, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    ship_by: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    shipped: Mapped[bool] = mapped_column(Boolean)


class PresaleCount(Base):
    __tablename__ = "analytics_presale_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    due: Mapped[int] = mapped_column(Integer)
    shipped: Mapped[int] = mapped_column(Integer)


_ORDERS: Any = PresaleOrder.__table__
_COUNTS: Any = PresaleCount.__table__
_STORED = ("channel", "ship_by", "day", "shipped")
Bucket = tuple[date, str]


def _row_of(r: Any) -> dict[str, Any] | None:
    """The stored row an order should have now; None when it does not count."""
    if r.ship_by is None or r.status == "cancelled" or r.dropped_by is not None:
        return None
    ship_by = str(r.ship_by)
    try:
        at = datetime.fromisoformat(ship_by)
    except ValueError:
        return None  # not a time: the plan could not place it on a day either
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return {"order_pk": r.id, "channel": r.channel, "ship_by": ship_by, "day": at.astimezone(SHANGHAI).date(),
            "shipped": r.status in SHIPPED_STATUSES}


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _facts(row: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What a row says, comparable between a stored row and a derived one."""
    if row is None:
        return None
    return row["channel"], row["ship_by"], _day(row["day"]), bool(row["shipped"])


def _build(dialect: str, name: str) -> Any:
    """The statements of :func:`refresh_orders` (it runs in every store transaction)."""
    if name == "read":
        return (select(Order.id, Order.channel, Order.status, Order.dropped_by,
                       ship_by_text(dialect).label("ship_by"),
                       *(_ORDERS.c[k].label(f"p_{k}") for k in _STORED), _ORDERS.c.order_pk.label("p_order_pk"))
                .select_from(Order.__table__.outerjoin(_ORDERS, _ORDERS.c.order_pk == Order.id))
                .where(Order.id.in_(bindparam("pks", expanding=True))))
    if name == "rows":
        return replace_rows(dialect, _ORDERS, ["order_pk"], _STORED)
    if name == "counts":
        return add_counts(dialect, _COUNTS, ["day", "channel"], ["due", "shipped"])
    if name == "gone":
        return delete_items(_ORDERS, "order_pk")
    raise ValueError(name)


_statement = StatementCache(_build)


def refresh_orders(conn: Connection, order_pks: Iterable[int]) -> int:
    """Bring the rows and counters of ``order_pks`` up to what the orders say now, in the
    caller's transaction (which has written, so holds, those orders); how many orders changed
    what they count. An order that is not presale costs one read and no write."""
    pks = sorted(set(order_pks))
    changed = 0
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        deltas: dict[Bucket, list[int]] = {}
        upserts, gone = [], []
        for r in conn.execute(_statement(conn, "read"), {"pks": chunk}):
            old = None if r.p_order_pk is None else {k: getattr(r, f"p_{k}") for k in _STORED}
            new = _row_of(r)
            if _facts(old) == _facts(new):
                continue
            changed += 1
            for row, sign in ((old, -1), (new, 1)):
                if row is not None:
                    moved = deltas.setdefault((_day(row["day"]), row["channel"]), [0, 0])
                    moved[0] += sign
                    moved[1] += sign * int(bool(row["shipped"]))
            if new is None:
                gone.append(r.id)
            else:
                upserts.append(new)
        write_changes(conn, _statement, [{"day": d, "channel": c, "due": v[0], "shipped": v[1]}
                                         for (d, c), v in sorted(deltas.items()) if any(v)], gone, upserts)
    return changed


def rebuild(conn: Connection) -> int:
    """Derive every row and counter from the orders: one ``INSERT … SELECT`` over the presale
    orders (through ``ix_orders_presale_ship_by``), one ``GROUP BY`` into the counters; how many
    orders count."""
    dialect = conn.dialect.name
    conn.execute(delete(_COUNTS))
    conn.execute(delete(_ORDERS))
    ship_by, day = ship_by_text(dialect), ship_by_day(dialect)
    source = (select(Order.id, Order.channel, ship_by, day, Order.status.in_(SHIPPED_STATUSES))
              .where(ship_by.is_not(None), Order.status != "cancelled", Order.dropped_by.is_(None)))
    if dialect == "sqlite":
        source = source.where(day.is_not(None))  # a text that is no time (PostgreSQL refuses it instead)
    conn.execute(insert(_ORDERS).from_select(["order_pk", "channel", "ship_by", "day", "shipped"], source))
    start_after_newest_change(conn, CURSOR)  # the orders changed after now are the reconciler's
    shipped = func.sum(case((_ORDERS.c.shipped, 1), else_=0))
    grouped = select(_ORDERS.c.day, _ORDERS.c.channel, func.count(), shipped).group_by(_ORDERS.c.day, _ORDERS.c.channel)
    conn.execute(insert(_COUNTS).from_select(["day", "channel", "due", "shipped"], grouped))
    return int(conn.execute(select(func.count()).select_from(_ORDERS)).scalar() or 0)


def reconcile_changed(db: Any, now: datetime, *, max_batches: int = 50) -> int:
    """Refresh the orders changed since the cursor (up to ``changed_orders.LAG`` before ``now``), a
    batch per transaction with the cursor; how many orders it found changed in what they count."""
    return pass_changed_orders(db, CURSOR, refresh_orders, now, max_batches=max_batches)
