"""Orders per (Asia/Shanghai day, hour, channel) and per (day or month, channel, district), kept by
a durable cursor consumer, so the staffing heatmap and the order map over any range read counter
rows (bounded by the range's days and months) instead of every order.

Owns five tables (migrations ``0017_fulfillment``, ``0025_analytics_districts``) and the consumer
that keeps them:

- ``analytics_hour_counts``: the orders counted in each (day, hour, channel) bucket (with its ISO
  weekday, so the heatmap groups in SQL);
- ``analytics_district_days`` and ``analytics_district_months``: the orders counted per (channel,
  day, district code) and per (channel, first day of the month, district code), and once more
  under the channel ``*`` (all channels: the unfiltered map reads a year as twelve months × its
  districts); the code is the order's ``adcode`` as stored (``''`` for none), the map decides
  which codes it can place;
- ``analytics_counted_orders``: the bucket each order is counted in (day, hour, channel, district
  code), so a newer version that moves it (another creation time or address, a test order
  dropped by cleaning) takes it out of the old one;
- ``analytics_count_cursor``: how far the consumer has read the orders, by (``changed_at``, id)
  through ``ix_orders_changed``.

:func:`count_changes` (the ``analytics.hour_counts`` job, every 10 s, one process at a time; the
cursor row is read ``FOR UPDATE`` on PostgreSQL so a second one waits) reads the orders changed
since the cursor up to ``LAG`` seconds ago, in batches, and moves counts and cursor in one
transaction per batch: a crash repeats a batch whole or not at all. Readers stay exact however far
the consumer is behind: :func:`pending_since_cursor` gives what the orders changed after the
cursor add to and take from the counters (one index range over ``ix_orders_changed``).
An order counts like in :mod:`engine.analytics.hourly` and :mod:`engine.analytics.geo`: at its
``created_at``, unless dropped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    and_,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.analytics.counter_sql import add_counts, replace_rows
from engine.analytics.ranges import month_of
from engine.analytics.sql_time import SHANGHAI
from engine.clock import utc
from engine.orders.model import Order
from engine.storage.models import Base
from engine.storage.types import UTCDateTime

__all__ = ["ALL_CHANNELS", "CountCursor", "CountedOrder", "DistrictDay", "DistrictMonth", "HourCount", "bucket_of",
           "changes_since_cursor", "count_changes", "derive_districts", "district_delta",
           "pending_since_cursor"]

CURSOR = "hourly"
ALL_CHANNELS = "*"  # the district counters' channel for every channel together
LAG = timedelta(seconds=30)  # a store transaction commits well within this after its changed_at
BATCH = 5000
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class HourCount(Base):
    __tablename__ = "analytics_hour_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    orders: Mapped[int] = mapped_column(Integer)


class DistrictDay(Base):
    __tablename__ = "analytics_district_days"
    # PostgreSQL: the map's range sums read this index alone (an index-only scan); SQLite: the key
    __table_args__ = (Index("ix_district_days_orders", "channel", "day", "adcode",
                            postgresql_include=["orders"]).ddl_if(dialect="postgresql"),)

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    adcode: Mapped[str] = mapped_column(String(12), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)


class DistrictMonth(Base):
    __tablename__ = "analytics_district_months"
    __table_args__ = (Index("ix_district_months_orders", "channel", "month", "adcode",
                            postgresql_include=["orders"]).ddl_if(dialect="postgresql"),)

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    adcode: Mapped[str] = mapped_column(String(12), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)


class CountedOrder(Base):
    __tablename__ = "analytics_counted_orders"

    order_pk: Mapped[int] = mapped_column(_BigId, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(32))
    adcode: Mapped[str] = mapped_column(String(12), default="", server_default="")


class CountCursor(Base):
    __tablename__ = "analytics_count_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    order_pk: Mapped[int] = mapped_column(_BigId, default=0)


Bucket = tuple[date, int, str, str]


def bucket_of(created_at: datetime, channel: str, adcode: str | None) -> Bucket:
    """(Asia/Shanghai day, hour, channel, district code or ``''``) of an order."""
    local = utc(created_at).astimezone(SHANGHAI)
    return local.date(), local.hour, channel, adcode or ""


def _after(cursor: CountCursor | None) -> Any:
    """Orders changed after the cursor (all orders when there is none)."""
    if cursor is None or cursor.changed_at is None:
        return true()
    # the first term is an index range on ix_orders_changed; the second only trims its first key
    return and_(Order.changed_at >= cursor.changed_at,
                or_(Order.changed_at > cursor.changed_at, Order.id > cursor.order_pk))


def _cursor(session: Session, *, lock: bool) -> CountCursor | None:
    stmt = select(CountCursor).where(CountCursor.name == CURSOR)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _add(session: Session, model: Any, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Add each row's ``orders`` to its counter (a new counter starts at the row)."""
    if rows:
        session.execute(add_counts(session.get_bind().dialect.name, model.__table__, keys, ["orders"]), rows)


def _apply(session: Session, deltas: dict[Bucket, int]) -> None:
    hours: dict[tuple[date, int, str], int] = {}
    days: dict[tuple[date, str, str], int] = {}
    months: dict[tuple[date, str, str], int] = {}
    for (d, h, c, code), n in deltas.items():
        hours[d, h, c] = hours.get((d, h, c), 0) + n
        for channel in (c, ALL_CHANNELS):
            days[d, channel, code] = days.get((d, channel, code), 0) + n
            months[month_of(d), channel, code] = months.get((month_of(d), channel, code), 0) + n
    _add(session, HourCount, ("day", "hour", "channel"),
         [{"day": d, "hour": h, "channel": c, "weekday": d.isoweekday(), "orders": n}
          for (d, h, c), n in sorted(hours.items()) if n])
    _add(session, DistrictDay, ("channel", "day", "adcode"),
         [{"day": d, "channel": c, "adcode": code, "orders": n} for (d, c, code), n in sorted(days.items()) if n])
    _add(session, DistrictMonth, ("channel", "month", "adcode"),
         [{"month": m, "channel": c, "adcode": code, "orders": n} for (m, c, code), n in sorted(months.items()) if n])


def _batch(session: Session, horizon: datetime) -> int:
    cursor = _cursor(session, lock=True)
    if cursor is None:
        cursor = CountCursor(name=CURSOR, changed_at=None, order_pk=0)
        session.add(cursor)
        session.flush()
    rows = session.execute(
        select(Order.id, Order.changed_at, Order.created_at, Order.channel, Order.adcode, Order.dropped_by)
        .where(_after(cursor), Order.changed_at <= horizon).order_by(Order.changed_at, Order.id).limit(BATCH)).all()
    if not rows:
        return 0
    counted = {c.order_pk: c for c in session.scalars(
        select(CountedOrder).where(CountedOrder.order_pk.in_([r.id for r in rows])))}
    deltas: dict[Bucket, int] = {}
    table: Any = CountedOrder.__table__
    upserts = []
    gone = []
    for r in rows:
        old = counted.get(r.id)
        new = None if r.dropped_by is not None else bucket_of(r.created_at, r.channel, r.adcode)
        old_bucket = (old.day, old.hour, old.channel, old.adcode) if old is not None else None
        if old_bucket == new:
            continue
        if old_bucket is not None:
            deltas[old_bucket] = deltas.get(old_bucket, 0) - 1
        if new is not None:
            deltas[new] = deltas.get(new, 0) + 1
            upserts.append({"order_pk": r.id, "day": new[0], "hour": new[1], "channel": new[2], "adcode": new[3]})
        else:
            gone.append(r.id)
    _apply(session, deltas)
    if upserts:
        session.execute(replace_rows(session.get_bind().dialect.name, table, ["order_pk"],
                                     ["day", "hour", "channel", "adcode"]), upserts)
    if gone:
        session.execute(delete(CountedOrder).where(CountedOrder.order_pk.in_(gone)))
    cursor.changed_at, cursor.order_pk = utc(rows[-1].changed_at), rows[-1].id
    return len(rows)


def derive_districts(conn: Connection) -> int:
    """Fill the district counters from the counted orders' buckets (after their ``adcode`` was
    filled): what migration ``0025_analytics_districts`` runs; how many day counters."""
    dialect = conn.dialect.name
    days: Any = DistrictDay.__table__
    months: Any = DistrictMonth.__table__
    counted: Any = CountedOrder.__table__
    conn.execute(delete(days))
    conn.execute(delete(months))
    for channel in (counted.c.channel, literal(ALL_CHANNELS, String)):
        conn.execute(insert(days).from_select(
            ["day", "channel", "adcode", "orders"],
            select(counted.c.day, channel, counted.c.adcode, func.count())
            .group_by(counted.c.day, channel, counted.c.adcode)))
    month = (func.cast(func.date_trunc("month", days.c.day), Date) if dialect == "postgresql"
             else func.date(days.c.day, "start of month"))
    conn.execute(insert(months).from_select(
        ["month", "channel", "adcode", "orders"],
        select(month, days.c.channel, days.c.adcode, func.sum(days.c.orders))
        .group_by(month, days.c.channel, days.c.adcode)))
    return int(conn.execute(select(func.count()).select_from(days)).scalar() or 0)


def count_changes(db: Any, now: datetime, *, max_batches: int = 200) -> int:
    """Count the orders changed since the cursor (up to ``LAG`` before ``now``); how many were read."""
    read = 0
    with db.session() as session:  # an idle pass reads only: no write lock every run for nothing
        cursor = _cursor(session, lock=False)
        waiting = session.scalar(select(Order.id).where(_after(cursor), Order.changed_at <= now - LAG).limit(1))
    if waiting is None:
        return 0
    for _ in range(max_batches):
        with db.transaction(immediate=True) as session:
            n = _batch(session, now - LAG)
        read += n
        if n < BATCH:
            break
    return read


Move = tuple[Bucket, int]


def changes_since_cursor(session: Session) -> list[Move] | None:
    """What the orders changed after the cursor add to (+1, their bucket now) and take from (-1,
    the bucket they are counted in) the counters; None when nothing was ever counted (read the
    orders themselves then). The changed orders are one index range on ``ix_orders_changed`` (a
    few seconds' worth when the consumer keeps up), their counted buckets primary-key reads."""
    cursor = _cursor(session, lock=False)
    if cursor is None or cursor.changed_at is None:
        return None
    rows = session.execute(select(Order.id, Order.created_at, Order.channel, Order.adcode, Order.dropped_by)
                           .where(_after(cursor))).all()
    moves: list[Move] = [(bucket_of(r.created_at, r.channel, r.adcode), 1) for r in rows if r.dropped_by is None]
    ids = [r.id for r in rows]
    for i in range(0, len(ids), 1000):
        for c in session.scalars(select(CountedOrder).where(CountedOrder.order_pk.in_(ids[i:i + 1000]))):
            moves.append(((c.day, c.hour, c.channel, c.adcode), -1))
    return moves


def pending_since_cursor(session: Session, first: date, last: date, channels: list[str]
                         ) -> dict[tuple[int, int, str], int] | None:
    """What the orders changed after the cursor add to and take from the counters of the days
    ``first``…``last``, per (weekday, hour, channel); None when nothing was ever counted."""
    moves = changes_since_cursor(session)
    if moves is None:
        return None
    chosen = set(channels)
    delta: dict[tuple[int, int, str], int] = {}
    for (day, hour, channel, _code), n in moves:
        if first <= day <= last and (not chosen or channel in chosen):
            key = (day.isoweekday(), hour, channel)
            delta[key] = delta.get(key, 0) + n
    return delta


def district_delta(moves: list[Move], first: date, last: date, channels: list[str]) -> dict[str, int]:
    """What ``moves`` (:func:`changes_since_cursor`) add to and take from the district counters of
    the days ``first``…``last``, per district code (``''``: none), for the map."""
    chosen = set(channels)
    delta: dict[str, int] = {}
    for (day, _hour, channel, code), n in moves:
        if first <= day <= last and (not chosen or channel in chosen):
            delta[code] = delta.get(code, 0) + n
    return delta
