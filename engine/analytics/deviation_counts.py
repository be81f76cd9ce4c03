"""Fulfillment deviation kept as counters, so its figures read at most channels × days × 24 rows
instead of every order promised in the range.

Owns three tables (migration ``0021_analytics_deviation``) and what keeps them:

- ``analytics_deviation_orders``: per counted order (promised a ship time, not cancelled, not
  dropped by a cleaning) its channel, promise, Asia/Shanghai day and hour of promise, ship time
  (our first shipment, else the platform's ``shipped_at`` once its status says shipped),
  deviation in seconds and whether it shipped late under the counted threshold;
- ``analytics_deviation_counts``: per (day, hour of promise, channel) the orders due, shipped
  and shipped late, and the same added up per (day, channel) in ``analytics_deviation_days`` and
  per (month, hour, channel) in ``analytics_deviation_months`` (migration ``0026``), moved together;
- ``analytics_deviation_threshold``: the threshold the ``late`` flags and counts were derived
  with.

:func:`refresh_orders` is called in the same transaction as every write that can change those
facts (a shipment made, a platform version stored): it re-reads the orders (locking them on
PostgreSQL), compares with their stored rows and moves the counters by the difference, so a
crash keeps both or neither. An order not shipped is late once the clock passes its promise by
more than the threshold; that depends on ``now``, so it is never counted ahead: readers add an
index range over the unshipped orders past promise + threshold (partial index
``ix_deviation_orders_open``). :func:`rebuild` derives everything from the orders with one
``INSERT … SELECT`` and one ``GROUP BY`` (the migration's back-fill); :func:`ensure_threshold`
re-derives flags and counters when the published threshold changes. :func:`reconcile_changed`
(the worker's safety net for a writer outside those two paths, e.g. a status set by hand) passes
:func:`refresh_orders` over the orders changed since its cursor (``ix_orders_changed``; the loop,
shared with the presale counters, is :mod:`engine.analytics.changed_orders`), so such a change is
counted within a minute instead of never. This module decides what counts; the report that reads
it is :mod:`engine.analytics.deviation`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from engine.analytics.changed_orders import pass_changed_orders, start_after_newest_change
from engine.analytics.counter_sql import StatementCache, add_counts, delete_items, replace_rows, write_changes
from engine.analytics.sql_time import SHANGHAI, local_date, local_hour, seconds_between
from engine.clock import utc
from engine.orders.model import Order
from engine.orders.order_status import SHIPPED_STATUSES
from engine.orders.pipeline_model import OrderShipment
from engine.storage.models import Base
from engine.storage.types import UTCDateTime

__all__ = ["DEFAULT_THRESHOLD_S", "SHIPPED_STATUSES", "DeviationCount", "DeviationOrder", "DeviationThreshold",
           "counted_threshold", "ensure_threshold", "rebuild", "reconcile_changed", "refresh_orders"]

DEFAULT_THRESHOLD_S = 2 * 3600
STATE = "deviation"
CURSOR = "deviation"  # its row in analytics_count_cursor
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class DeviationOrder(Base):
    __tablename__ = "analytics_deviation_orders"
    __table_args__ = (
        Index("ix_deviation_orders_promised", "promised_at", "order_pk"),
        # the orders still to ship (late once past promise + threshold; grouped from the index alone)
        # and those shipped late
        Index("ix_deviation_orders_open", "promised_at", "order_pk", "channel", "day", "hour",
              sqlite_where=text("shipped_at IS NULL"), postgresql_where=text("shipped_at IS NULL")),
        Index("ix_deviation_orders_late", "promised_at", "order_pk",
              sqlite_where=text("late = 1"), postgresql_where=text("late")),
        # the shipped orders by deviation: those between a query's threshold and the counted one
        Index("ix_deviation_orders_band", "deviation_s", "promised_at", "channel", "day", "hour",
              sqlite_where=text("shipped_at IS NOT NULL"), postgresql_where=text("shipped_at IS NOT NULL")),
    )

    order_pk: Mapped[int] = mapped_column(_BigId, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    promised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deviation_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class _Figures:
    """The figures every deviation counter holds (a mixin: each table gets its own columns)."""

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    due: Mapped[int] = mapped_column(Integer)
    shipped: Mapped[int] = mapped_column(Integer)
    late: Mapped[int] = mapped_column(Integer)


class DeviationCount(_Figures, Base):
    __tablename__ = "analytics_deviation_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)


class DeviationDay(_Figures, Base):
    """The counters of a day, all hours together (the report's per-day figures)."""

    __tablename__ = "analytics_deviation_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class DeviationMonth(_Figures, Base):
    """The counters of a month per hour of promise (the per-channel and per-hour figures)."""

    __tablename__ = "analytics_deviation_months"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)


class DeviationThreshold(Base):
    __tablename__ = "analytics_deviation_threshold"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    threshold_s: Mapped[int] = mapped_column(Integer)


_ORDERS: Any = DeviationOrder.__table__
_COUNTS: Any = DeviationCount.__table__
_DAYS: Any = DeviationDay.__table__
_MONTHS: Any = DeviationMonth.__table__
_FIGURES = ("due", "shipped", "late")
_STATE: Any = DeviationThreshold.__table__
Bucket = tuple[date, int, str]


def counted_threshold(conn: Connection, *, share: bool = False) -> int:
    """The threshold the flags and counters hold (the default before anything was derived)."""
    stmt = select(_STATE.c.threshold_s).where(_STATE.c.name == STATE)
    if share and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True)  # a re-derivation waits for this transaction
    found = conn.execute(stmt).scalar()
    return DEFAULT_THRESHOLD_S if found is None else int(found)


def _rounded(seconds: float) -> int:
    """Half away from zero, as SQL's ``round`` (the back-fill) does."""
    return int(seconds + 0.5) if seconds >= 0 else -int(-seconds + 0.5)


def _platform_shipped(status: str, doc: Any) -> datetime | None:
    if status not in SHIPPED_STATUSES or not isinstance(doc, dict) or not doc.get("shipped_at"):
        return None
    try:
        value = datetime.fromisoformat(str(doc["shipped_at"]))
    except ValueError:
        return None
    return utc(value)  # a time without an offset is UTC, as the SQL back-fill reads it


def _row_of(r: Any, threshold_s: int) -> dict[str, Any] | None:
    """The stored row an order should have now; None when it does not count."""
    if r.promised_ship_at is None or r.dropped_by is not None or r.status == "cancelled":
        return None
    promised = utc(r.promised_ship_at)
    shipped = utc(r.first_shipment) if r.first_shipment is not None else _platform_shipped(r.status, r.doc)
    deviation = _rounded((shipped - promised).total_seconds()) if shipped is not None else None
    local = promised.astimezone(SHANGHAI)
    return {"order_pk": r.id, "channel": r.channel, "promised_at": promised, "day": local.date(),
            "hour": local.hour, "shipped_at": shipped, "deviation_s": deviation,
            "late": deviation is not None and deviation > threshold_s}


def _contribution(row: Any) -> tuple[Bucket, tuple[int, int, int]]:
    day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"]))
    return (day, int(row["hour"]), row["channel"]), (1, int(row["shipped_at"] is not None), int(bool(row["late"])))


_STORED = ("channel", "promised_at", "day", "hour", "shipped_at", "deviation_s", "late")


def _build(dialect: str, name: str) -> Any:
    """The statements of :func:`refresh_orders` (it runs in every store transaction)."""
    if name == "read":
        first = (select(func.min(OrderShipment.at)).where(OrderShipment.order_pk == Order.id)
                 .correlate(Order).scalar_subquery())
        found = (select(Order.id, Order.channel, Order.status, Order.promised_ship_at, Order.dropped_by, Order.doc,
                        first.label("first_shipment"), *(_ORDERS.c[k].label(f"d_{k}") for k in _STORED),
                        _ORDERS.c.order_pk.label("d_order_pk"))
                 .select_from(Order.__table__.outerjoin(_ORDERS, _ORDERS.c.order_pk == Order.id))
                 .where(Order.id.in_(bindparam("pks", expanding=True))))
        return found.with_for_update(of=Order.__table__) if dialect == "postgresql" else found
    if name == "rows":
        return replace_rows(dialect, _ORDERS, ["order_pk"], _STORED)
    if name == "counts":
        return add_counts(dialect, _COUNTS, ["day", "hour", "channel"], _FIGURES)
    if name == "days":
        return add_counts(dialect, _DAYS, ["day", "channel"], _FIGURES)
    if name == "months":
        return add_counts(dialect, _MONTHS, ["month", "hour", "channel"], _FIGURES)
    if name == "gone":
        return delete_items(_ORDERS, "order_pk")
    raise ValueError(name)


_statement = StatementCache(_build)


def refresh_orders(conn: Connection, order_pks: Iterable[int]) -> int:
    """Bring the rows and counters of ``order_pks`` up to what the orders say now, in the
    caller's transaction; how many orders changed bucket, ship time or lateness."""
    pks = sorted(set(order_pks))
    if not pks:
        return 0
    threshold_s = counted_threshold(conn, share=True)
    changed = 0
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        current: dict[int, dict[str, Any] | None] = {}
        stored: dict[int, dict[str, Any]] = {}
        for r in conn.execute(_statement(conn, "read"), {"pks": chunk}):
            current[r.id] = _row_of(r, threshold_s)
            if r.d_order_pk is not None:
                stored[r.id] = {"order_pk": r.id, **{k: getattr(r, f"d_{k}") for k in _STORED}}
        deltas: dict[Bucket, list[int]] = {}
        upserts, gone = [], []
        for pk in chunk:
            old, new = stored.get(pk), current.get(pk)
            if _facts(old) == _facts(new):
                continue
            changed += 1
            for row, sign in ((old, -1), (new, 1)):
                if row is not None:
                    bucket, figures = _contribution(row)
                    moved = deltas.setdefault(bucket, [0, 0, 0])
                    for i, n in enumerate(figures):
                        moved[i] += sign * n
            if new is None:
                gone.append(pk)
            else:
                upserts.append(new)
        counts, days, months = _rolled_up(deltas)
        for name, rows in (("days", days), ("months", months)):
            if rows:
                conn.execute(_statement(conn, name), rows)
        write_changes(conn, _statement, counts, gone, upserts)
    return changed


def _rolled_up(deltas: dict[Bucket, list[int]]) -> tuple[list[dict[str, Any]], ...]:
    """The moves of the hourly counters, and of the daily and monthly ones they add up to."""
    days: dict[tuple[date, str], list[int]] = {}
    months: dict[tuple[date, int, str], list[int]] = {}
    for (d, h, c), v in deltas.items():
        for totals in (days.setdefault((d, c), [0, 0, 0]), months.setdefault((d.replace(day=1), h, c), [0, 0, 0])):
            for i, n in enumerate(v):
                totals[i] += n

    def rows(keys: tuple[str, ...], moved: dict[Any, list[int]]) -> list[dict[str, Any]]:
        return [{**dict(zip(keys, k, strict=True)), **dict(zip(_FIGURES, v, strict=True))}
                for k, v in sorted(moved.items()) if any(v)]

    return rows(("day", "hour", "channel"), deltas), rows(("day", "channel"), days), rows(("month", "hour", "channel"),
                                                                                           months)


def _facts(row: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What a row says, comparable between a stored row and a derived one."""
    if row is None:
        return None
    bucket, figures = _contribution(row)
    shipped = row["shipped_at"]
    return (bucket, figures, utc(row["promised_at"]), None if shipped is None else utc(shipped), row["deviation_s"])


def _doc_shipped(dialect: str) -> Any:
    """The platform's ``shipped_at`` of a shipped order, as the column type stores a time."""
    text_value = Order.doc["shipped_at"].as_string()
    shipped = Order.status.in_(SHIPPED_STATUSES)
    if dialect == "postgresql":
        return case((shipped, cast(text_value, UTCDateTime())), else_=None)
    # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'; strftime converts an ISO time with an offset
    spelled = (func.strftime("%Y-%m-%d %H:%M:%S", text_value) + literal(".")
               + func.substr(func.strftime("%f", text_value), 4) + literal("000"))
    return case((and_(shipped, func.strftime("%f", text_value).is_not(None)), spelled), else_=None)


def rebuild(conn: Connection, threshold_s: int, *, rollups: bool = True) -> int:
    """Derive every row and counter from the orders: one ``INSERT … SELECT`` over the orders
    promised a ship time, one ``GROUP BY`` into the counters; how many orders count.
    ``rollups=False``: not the daily and monthly counters (migration ``0021`` runs before the
    revision that adds them)."""
    dialect = conn.dialect.name
    conn.execute(delete(_COUNTS))
    conn.execute(delete(_ORDERS))
    firsts = (select(OrderShipment.order_pk, func.min(OrderShipment.at).label("at"))
              .group_by(OrderShipment.order_pk).subquery("firsts"))
    shipped = func.coalesce(firsts.c.at, _doc_shipped(dialect))
    deviation = seconds_between(shipped, Order.promised_ship_at, dialect)
    source = (select(Order.id, Order.channel, Order.promised_ship_at, local_date(Order.promised_ship_at, dialect),
                     local_hour(Order.promised_ship_at, dialect), shipped, deviation,
                     case((and_(shipped.is_not(None), deviation > threshold_s), True), else_=False))
              .select_from(Order).outerjoin(firsts, firsts.c.order_pk == Order.id)
              .where(Order.promised_ship_at.is_not(None), Order.dropped_by.is_(None), Order.status != "cancelled"))
    conn.execute(insert(_ORDERS).from_select(
        ["order_pk", "channel", "promised_at", "day", "hour", "shipped_at", "deviation_s", "late"], source))
    start_after_newest_change(conn, CURSOR)  # the orders changed after now are the reconciler's
    return _recount(conn, threshold_s, rollups=rollups)


def _recount(conn: Connection, threshold_s: int, *, rollups: bool = True) -> int:
    for table in (_COUNTS, _DAYS, _MONTHS) if rollups else (_COUNTS,):
        conn.execute(delete(table))
    late = func.sum(case((_ORDERS.c.late, 1), else_=0))
    grouped = select(_ORDERS.c.day, _ORDERS.c.hour, _ORDERS.c.channel, func.count(), func.count(_ORDERS.c.shipped_at),
                     late).group_by(_ORDERS.c.day, _ORDERS.c.hour, _ORDERS.c.channel)
    conn.execute(insert(_COUNTS).from_select(["day", "hour", "channel", *_FIGURES], grouped))
    if rollups:
        derive_rollups(conn)
    conn.execute(replace_rows(conn.dialect.name, _STATE, ["name"], ["threshold_s"]),
                 [{"name": STATE, "threshold_s": threshold_s}])
    return int(conn.execute(select(func.count()).select_from(_ORDERS)).scalar() or 0)


def derive_rollups(conn: Connection) -> None:
    """The daily and monthly counters from the hourly ones (what migration ``0026`` back-fills)."""
    sums = [func.sum(_COUNTS.c[k]) for k in _FIGURES]
    conn.execute(insert(_DAYS).from_select(
        ["day", "channel", *_FIGURES],
        select(_COUNTS.c.day, _COUNTS.c.channel, *sums).group_by(_COUNTS.c.day, _COUNTS.c.channel)))
    month = (func.cast(func.date_trunc("month", _COUNTS.c.day), Date) if conn.dialect.name == "postgresql"
             else func.date(_COUNTS.c.day, "start of month"))
    conn.execute(insert(_MONTHS).from_select(
        ["month", "hour", "channel", *_FIGURES],
        select(month, _COUNTS.c.hour, _COUNTS.c.channel, *sums).group_by(month, _COUNTS.c.hour, _COUNTS.c.channel)))


def ensure_threshold(db: Any, threshold_s: int) -> bool:
    """Re-derive the ``late`` flags and the counters when ``threshold_s`` (the published one)
    is not what they hold: one ``UPDATE`` and one ``GROUP BY``; whether it had to."""
    with db.session() as session:
        if counted_threshold(session.connection()) == threshold_s:
            return False
    with db.transaction(immediate=True) as session:
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(select(_STATE.c.name).where(_STATE.c.name == STATE).with_for_update())
        if counted_threshold(conn) == threshold_s:
            return False
        conn.execute(update(_ORDERS).values(late=and_(_ORDERS.c.deviation_s.is_not(None),
                                                      _ORDERS.c.deviation_s > threshold_s)))
        _recount(conn, threshold_s)
    return True


def reconcile_changed(db: Any, now: datetime, *, max_batches: int = 50) -> int:
    """Refresh the orders changed since the cursor (up to ``changed_orders.LAG`` before ``now``), a
    batch per transaction with the cursor; how many orders it found changed in what they count."""
    return pass_changed_orders(db, CURSOR, refresh_orders, now, max_batches=max_batches)
