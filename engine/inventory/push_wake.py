"""Waking the stock push relay when push markers commit, instead of at its next period.

The same machinery as the outbox's (:mod:`engine.outbox.wake`), with the relay's own flag,
statement and channel: a transaction that upserts a SKU's marker in ``inventory_push_pending``
(:func:`engine.inventory.push.mark_changed` on every stock change, :func:`mark_all` when a
channel-wide rule changes) wakes the relay when it commits — an in-process signal on SQLite,
``pg_notify`` on a per-schema channel on PostgreSQL, heard by every process's listener (the
runner keeps one per woken job). The relay's own transactions delete markers and insert none,
so they do not wake it again. Owns the signal only; how often the relay may run when woken is
the job's spacing (:mod:`engine.inventory.jobs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.outbox.wake import OutboxWake, install

if TYPE_CHECKING:
    from engine.storage.db import Database

__all__ = ["PUSH_CHANNEL_SQL", "PUSH_FLAG", "install_push_wake"]

PUSH_FLAG = "orderpulse_stock_push_marked"
MARKS = ("INSERT INTO inventory_push_pending",)
PUSH_CHANNEL_SQL = "'orderpulse_stock_push_' || left(md5(current_schema()), 16)"
NOTIFY_SQL = f"SELECT pg_notify({PUSH_CHANNEL_SQL}, '')"


def install_push_wake(db: Database) -> OutboxWake:
    """Hook ``db``'s engine; returns this process's stock-push relay wake for ``db``."""
    return install(db, flag=PUSH_FLAG, marks=MARKS, notify_sql=NOTIFY_SQL)
