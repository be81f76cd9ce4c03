"""Orders per (Asia/Shanghai day, hour, channel), kept by a durable cursor consumer, so the staffing
heatmap over any range reads at most days × 24 × channels counter rows instead of every order.

Owns three tables (migration ``0017_fulfillment``) and the consumer that keeps them:

- ``analytics_hour_counts``: the orders counted in each (day, hour, channel) bucket (with its ISO
  weekday, so the heatmap groups in SQL);
- ``analytics_counted_orders``: the bucket each order is counted in, so a newer version that moves
  it (another creation time, a test order dropped by cleaning) takes it out of the old one;
- ``analytics_count_cursor``: how far the consumer has read the orders, by (``changed_at``, id)
  through ``ix_orders_changed``.

:func:`count_changes` (the ``analytics.hour_counts`` job, every 10 s, one process at a time; the
cursor row is read ``FOR UPDATE`` on PostgreSQL so a second one waits) reads the orders changed
since the cursor up to ``LAG`` seconds ago, in batches, and moves counts and cursor in one
transaction per batch: a crash repeats a batch whole or not at all. Readers stay exact however far
the consumer is behind: :func:`pending_since_cursor` gives what the orders changed after the
cursor add to and take from the counters (one index range over ``ix_orders_changed``).
An order counts like in :mod:`engine.analytics.hourly`: at its ``created_at``, unless dropped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    and_,
    delete,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.analytics.sql_time import SHANGHAI
from engine.clock import utc
from engine.orders.model import Order
from engine.storage.models import Base
from engine.storage.types import UTCDateTime

__all__ = ["CountCursor", "CountedOrder", "HourCount", "bucket_of", "count_changes", "pending_since_cursor"]

CURSOR = "hourly"
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


class CountedOrder(Base):
    __tablename__ = "analytics_counted_orders"

    order_pk: Mapped[int] = mapped_column(_BigId, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(32))


class CountCursor(Base):
    __tablename__ = "analytics_count_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    order_pk: Mapped[int] = mapped_column(_BigId, default=0)


Bucket = tuple[date, int, str]


def bucket_of(created_at: datetime, channel: str) -> Bucket:
    local = utc(created_at).astimezone(SHANGHAI)
    return local.date(), local.hour, channel


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


def _apply(session: Session, deltas: dict[Bucket, int]) -> None:
    table: Any = HourCount.__table__
    insert = pg_insert(table) if session.get_bind().dialect.name == "postgresql" else sqlite_insert(table)
    rows = [{"day": d, "hour": h, "channel": c, "weekday": d.isoweekday(), "orders": n}
            for (d, h, c), n in sorted(deltas.items()) if n]
    if rows:
        session.execute(insert.on_conflict_do_update(index_elements=["day", "hour", "channel"],
                                                     set_={"orders": table.c.orders + insert.excluded.orders}), rows)


def _batch(session: Session, horizon: datetime) -> int:
    cursor = _cursor(session, lock=True)
    if cursor is None:
        cursor = CountCursor(name=CURSOR, changed_at=None, order_pk=0)
        session.add(cursor)
        session.flush()
    rows = session.execute(
        select(Order.id, Order.changed_at, Order.created_at, Order.channel, Order.dropped_by)
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
        new = None if r.dropped_by is not None else bucket_of(r.created_at, r.channel)
        old_bucket = (old.day, old.hour, old.channel) if old is not None else None
        if old_bucket == new:
            continue
        if old_bucket is not None:
            deltas[old_bucket] = deltas.get(old_bucket, 0) - 1
        if new is not None:
            deltas[new] = deltas.get(new, 0) + 1
            upserts.append({"order_pk": r.id, "day": new[0], "hour": new[1], "channel": new[2]})
        else:
            gone.append(r.id)
    _apply(session, deltas)
    if upserts:
        insert = pg_insert(table) if session.get_bind().dialect.name == "postgresql" else sqlite_insert(table)
        session.execute(insert.on_conflict_do_update(
            index_elements=["order_pk"], set_={k: insert.excluded[k] for k in ("day", "hour", "channel")}), upserts)
    if gone:
        session.execute(delete(CountedOrder).where(CountedOrder.order_pk.in_(gone)))
    cursor.changed_at, cursor.order_pk = utc(rows[-1].changed_at), rows[-1].id
    return len(rows)


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


def pending_since_cursor(session: Session, first: date, last: date, channels: list[str]
                         ) -> dict[tuple[int, int, str], int] | None:
    """What the orders changed after the cursor add to and take from the counters of the days
    ``first``…``last``, per (weekday, hour, channel); None when nothing was ever counted (read
    the orders themselves then). The changed orders are one index range on
    ``ix_orders_changed`` (a few seconds' worth when the consumer keeps up), their counted
    buckets primary-key reads."""
    cursor = _cursor(session, lock=False)
    if cursor is None or cursor.changed_at is None:
        return None
    chosen = set(channels)
    rows = session.execute(select(Order.id, Order.created_at, Order.channel, Order.dropped_by)
                           .where(_after(cursor))).all()
    delta: dict[tuple[int, int, str], int] = {}

    def add(day: date, hour: int, channel: str, n: int) -> None:
        if first <= day <= last and (not chosen or channel in chosen):
            key = (day.isoweekday(), hour, channel)
            delta[key] = delta.get(key, 0) + n

    for r in rows:
        if r.dropped_by is None:
            add(*bucket_of(r.created_at, r.channel), 1)
    ids = [r.id for r in rows]
    for i in range(0, len(ids), 1000):
        for c in session.scalars(select(CountedOrder).where(CountedOrder.order_pk.in_(ids[i:i + 1000]))):
            add(c.day, c.hour, c.channel, -1)
    return delta
