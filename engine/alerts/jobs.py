"""The alerts' background job: counts new events into the measures and evaluates the alerts,
every :data:`EVERY_SECONDS` (windows roll over with time alone) and woken when orders, refund
tickets, ticket transitions or stock moves commit (the same wake-on-commit machinery as the pipeline's:
an in-process signal on SQLite, ``pg_notify`` on a per-schema channel on PostgreSQL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.alerts.service import run_alerts
from engine.logs import get_logger
from engine.outbox.wake import OutboxWake, install_once
from engine.scheduler import JobRun, Scheduler, WakeOn

if TYPE_CHECKING:
    from engine.storage.db import Database

log = get_logger(__name__)

EVERY_SECONDS = 60
SPACING_SECONDS = 1.0
ALERTS_FLAG = "orderpulse_alerts_written"
# stock moves wake it too: a stock level alert looks at the figures they leave
MARKS = ("INSERT INTO orders ", "INSERT INTO order_tickets", "INSERT INTO workflow_transitions",
         "INSERT INTO inventory_ledger")
CHANNEL_SQL = "'orderpulse_alerts_' || left(md5(current_schema()), 16)"
NOTIFY_SQL = f"SELECT pg_notify({CHANNEL_SQL}, '')"



def alerts_wake(db: Database) -> OutboxWake:
    """This process's wake for ``db`` (hooked once per engine)."""
    return install_once(db, flag=ALERTS_FLAG, marks=MARKS, notify_sql=NOTIFY_SQL)


def run_alerts_job(run: JobRun) -> None:
    result = run_alerts(run.services, run.now)
    if result.rows_read or result.outcomes or result.backfilled:
        log.info("alerts ran", rows=result.rows_read, backfilled=result.backfilled,
                 outcomes=[(o.alert, o.group, o.action) for o in result.outcomes])


def register_periodic_jobs(scheduler: Scheduler) -> None:
    services = scheduler.services
    scheduler.every("alerts.measures", EVERY_SECONDS, run_alerts_job,
                    wake=WakeOn(alerts_wake(services.db), CHANNEL_SQL, SPACING_SECONDS))
