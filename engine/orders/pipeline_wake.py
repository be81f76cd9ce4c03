"""Waking the order pipeline's loop when its work commits, instead of at its next poll.

The same machinery as the outbox's (:mod:`engine.outbox.wake`), with the pipeline's own flag,
statements and channel: a transaction that inserts or refreshes ``order_pipeline`` rows (the
store, on a new order or revision) or adds stock ledger entries (an adjustment may free
orders waiting for stock) wakes the loop when it commits — an in-process signal on SQLite,
``pg_notify`` on a per-schema channel on PostgreSQL, heard by every process's listener.
The pipeline's own transactions clear the flag (their ledger rows are not news to it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.outbox.wake import Listener, OutboxWake, install

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.storage.db import Database

__all__ = ["PIPELINE_FLAG", "install_pipeline_wake", "mark_pipeline_written", "pipeline_listener"]

PIPELINE_FLAG = "orderpulse_pipeline_written"
MARKS = ("INSERT INTO order_pipeline", "INSERT INTO inventory_ledger")
CHANNEL_SQL = "'orderpulse_pipeline_' || left(md5(current_schema()), 16)"
NOTIFY_SQL = f"SELECT pg_notify({CHANNEL_SQL}, '')"


def install_pipeline_wake(db: Database) -> OutboxWake:
    """Hook ``db``'s engine; returns this process's pipeline wake for ``db``."""
    return install(db, flag=PIPELINE_FLAG, marks=MARKS, notify_sql=NOTIFY_SQL)


def pipeline_listener(db: Database, wake: OutboxWake) -> Listener:
    """PostgreSQL: the thread that LISTENs on the pipeline's channel and sets ``wake``."""
    return Listener(db, wake, channel_sql=CHANNEL_SQL, name="orderpulse-pipeline-listen")


def mark_pipeline_written(session: Session) -> None:
    """Mark ``session``'s transaction as one that made pipeline work due (a release)."""
    session.connection().info[PIPELINE_FLAG] = True
