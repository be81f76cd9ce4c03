"""Periodic jobs of the orders area, found by :func:`engine.scheduler.load_periodic_jobs`.

* ``orders.pull`` (a 5 s tick, in every process): pulls each published source whose ``pull
  orders every …`` is due (:func:`engine.orders.pulling.pull_due_sources`); each source's own
  SQL lease keeps it to one puller across processes, so the tick itself is not a singleton.

* ``orders.push_intake`` (every second, in every process): intake of the pushed orders whose
  detail is at hand (:func:`engine.orders.push.intake_fetched_pushes`).

Registering the jobs also registers the push-fetch and the shipment write-back outbox handlers in
this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.orders.pulling import pull_due_sources
from engine.orders.push import intake_fetched_pushes, register_order_handlers
from engine.orders.writeback import register_writeback_handler

if TYPE_CHECKING:
    from engine.scheduler import JobRun, Scheduler

PULL_TICK_SECONDS = 5
PUSH_INTAKE_SECONDS = 1


def register_periodic_jobs(scheduler: Scheduler) -> None:
    register_order_handlers(scheduler.services)
    register_writeback_handler(scheduler.services)

    def pull(run: JobRun) -> None:
        pull_due_sources(run.services, now=run.now, holder=scheduler.holder)

    def push_intake(run: JobRun) -> None:
        intake_fetched_pushes(run.services)

    scheduler.every("orders.pull", PULL_TICK_SECONDS, pull, singleton=False)
    scheduler.every("orders.push_intake", PUSH_INTAKE_SECONDS, push_intake, singleton=False)
