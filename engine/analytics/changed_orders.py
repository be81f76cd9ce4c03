"""The safety net every set of maintained counters shares: a named cursor over the orders changed
(``ix_orders_changed``, by ``changed_at`` then id), passed batch by batch through the counters'
own refresh.

Owns the cursor loop and the cursor rows (one per consumer in ``analytics_count_cursor``); it
must not decide what counts: each consumer hands in its ``refresh(conn, order_pks)``, which moves
its rows and counters to what the orders say now, in the transaction it is given. Writers keep
the counters in step in their own transactions; this pass catches a writer outside those paths
(a status set by hand) within a job interval instead of never. An order is read once it is
``LAG`` old, so a store transaction still open at ``changed_at`` is not passed over; a batch,
its refresh and the cursor commit together, so a crash repeats a batch whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from engine.analytics.counter_sql import replace_rows
from engine.analytics.hour_counts import CountCursor
from engine.clock import utc
from engine.orders.model import Order

__all__ = ["BATCH", "LAG", "Refresh", "pass_changed_orders", "start_after_newest_change"]

LAG = timedelta(seconds=30)  # a store transaction commits well within this after its changed_at
BATCH = 2000
Refresh = Callable[[Connection, Iterable[int]], int]
_CURSOR: Any = CountCursor.__table__


def _save(conn: Connection, name: str, changed_at: datetime, order_pk: int) -> None:
    conn.execute(replace_rows(conn.dialect.name, _CURSOR, ["name"], ["changed_at", "order_pk"]),
                 [{"name": name, "changed_at": changed_at, "order_pk": order_pk}])


def start_after_newest_change(conn: Connection, name: str) -> None:
    """Set cursor ``name`` to the newest change stored, for a consumer that has just derived
    everything from the orders (the last instant is read again: harmless)."""
    newest = conn.execute(select(func.max(Order.changed_at))).scalar()
    if newest is not None:
        at = utc(newest) if isinstance(newest, datetime) else utc(datetime.fromisoformat(str(newest)))
        _save(conn, name, at, 0)


def pass_changed_orders(db: Any, name: str, refresh: Refresh, now: datetime, *, max_batches: int = 50,
                        batch: int = BATCH) -> int:
    """Pass the orders changed since cursor ``name`` (up to ``LAG`` before ``now``) through
    ``refresh``, a batch per transaction with the cursor; the sum of what ``refresh`` returned.
    On PostgreSQL the cursor row is locked (a second runner waits) and so are the batch's orders,
    so a writer's refresh of the same order commits wholly before or after this one."""
    changed = 0
    for _ in range(max_batches):
        with db.transaction(immediate=True) as session:
            conn = session.connection()
            postgres = conn.dialect.name == "postgresql"
            stmt = select(_CURSOR.c.changed_at, _CURSOR.c.order_pk).where(_CURSOR.c.name == name)
            if postgres:
                stmt = stmt.with_for_update()
            cursor = conn.execute(stmt).first()
            after: Any = Order.changed_at <= now - LAG
            if cursor is not None and cursor.changed_at is not None:
                at = utc(cursor.changed_at)
                after = and_(after, Order.changed_at >= at, or_(Order.changed_at > at, Order.id > cursor.order_pk))
            rows = conn.execute(select(Order.id, Order.changed_at).where(after)
                                .order_by(Order.changed_at, Order.id).limit(batch)).all()
            if not rows:
                return changed
            if postgres:  # a writer's refresh of one of them commits before this one reads it
                conn.execute(select(Order.id).where(Order.id.in_([r.id for r in rows])).order_by(Order.id)
                             .with_for_update())
            changed += refresh(conn, [r.id for r in rows])
            _save(conn, name, utc(rows[-1].changed_at), rows[-1].id)
        if len(rows) < batch:
            break
    return changed
