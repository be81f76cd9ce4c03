"""Periodic jobs of the orders area, found by :func:`engine.scheduler.load_periodic_jobs`.

* ``orders.pull`` (a 5 s tick, in every process): pulls each published source whose ``pull
  orders every …`` is due (:func:`engine.orders.pulling.pull_due_sources`); each source's own
  SQL lease keeps it to one puller across processes, so the tick itself is not a singleton.

* ``orders.push_intake`` (every second, in every process, and woken, in a thread of its own,
  when push messages are written: :func:`push_intake_wake`): intake of the pushed orders whose
  detail is at hand (:func:`engine.orders.push.intake_fetched_pushes`). On the scheduler's
  thread it waited behind the pulls (a platform timing out holds a pull for seconds): a 100x
  drill had 2,900 fetched orders waiting for intake. Its own writes wake it again, so it goes
  on in batches while fetched messages remain.

Registering the jobs also registers the push-fetch and the shipment write-back outbox handlers in
this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.orders.pulling import pull_due_sources
from engine.orders.push import intake_fetched_pushes, register_order_handlers
from engine.orders.writeback import register_writeback_handler
from engine.outbox.wake import OutboxWake, install_once
from engine.scheduler import WakeOn

if TYPE_CHECKING:
    from engine.scheduler import JobRun, Scheduler
    from engine.storage.db import Database

PULL_TICK_SECONDS = 5
PUSH_INTAKE_SECONDS = 1
PUSH_INTAKE_SPACING = 0.2
PUSH_INTAKE_FLAG = "orderpulse_push_messages_written"
PUSH_INTAKE_MARKS = ("INSERT INTO order_push_messages", "UPDATE order_push_messages")
PUSH_INTAKE_CHANNEL_SQL = "'orderpulse_push_intake_' || left(md5(current_schema()), 16)"
_NOTIFY_SQL = f"SELECT pg_notify({PUSH_INTAKE_CHANNEL_SQL}, '')"


def push_intake_wake(db: Database) -> OutboxWake:
    """This process's wake of the push intake for ``db`` (hooked once per engine): set when a
    transaction that writes push messages commits (a push kept, a detail fetched)."""
    return install_once(db, flag=PUSH_INTAKE_FLAG, marks=PUSH_INTAKE_MARKS, notify_sql=_NOTIFY_SQL)


def register_periodic_jobs(scheduler: Scheduler) -> None:
    register_order_handlers(scheduler.services)
    register_writeback_handler(scheduler.services)

    def pull(run: JobRun) -> None:
        pull_due_sources(run.services, now=run.now, holder=scheduler.holder)

    def push_intake(run: JobRun) -> None:
        intake_fetched_pushes(run.services)

    scheduler.every("orders.pull", PULL_TICK_SECONDS, pull, singleton=False)
    scheduler.every("orders.push_intake", PUSH_INTAKE_SECONDS, push_intake, singleton=False,
                    wake=WakeOn(push_intake_wake(scheduler.services.db), PUSH_INTAKE_CHANNEL_SQL,
                                PUSH_INTAKE_SPACING))
