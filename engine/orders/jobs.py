"""Periodic jobs of the orders area, found by :func:`engine.scheduler.load_periodic_jobs`.

* ``orders.pull`` (a 5 s tick, in every process): pulls each published source whose ``pull
  orders every …`` is due (:func:`engine.orders.pulling.pull_due_sources`); each source's own
  SQL lease keeps it to one puller across processes, so the tick itself is not a singleton.

Registering the jobs also registers the push-intake outbox handler in this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.orders.pulling import pull_due_sources
from engine.orders.push import register_order_handlers

if TYPE_CHECKING:
    from engine.scheduler import JobRun, Scheduler

PULL_TICK_SECONDS = 5


def register_periodic_jobs(scheduler: Scheduler) -> None:
    register_order_handlers(scheduler.services)

    def pull(run: JobRun) -> None:
        pull_due_sources(run.services, now=run.now, holder=scheduler.holder)

    scheduler.every("orders.pull", PULL_TICK_SECONDS, pull, singleton=False)
