"""A periodic job woken on commit, for the runner's tests (loaded as a job module).

``test.woken`` runs once an hour by its period and whenever a transaction that ran a statement
carrying :data:`WORK_MARK` commits (an in-process signal on SQLite, a notification on a
per-schema channel on PostgreSQL), at most once per :data:`SPACING` seconds. Each run is
recorded under its scheduler's holder in :data:`RUNS`, with the real time it started.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.outbox.wake import OutboxWake, install
from engine.scheduler import JobRun, Scheduler, WakeOn
from engine.storage.db import Database

JOB = "test.woken"
HOUR = 3600
SPACING = 0.2
WORK_MARK = "/* test job work */"
FLAG = "orderpulse_test_job_work"
CHANNEL_SQL = "'orderpulse_test_job_' || left(md5(current_schema()), 16)"
RUNS: defaultdict[str, list[tuple[float, JobRun]]] = defaultdict(list)


def make_work(session: Session) -> None:
    """Something the job should see, in ``session``'s transaction."""
    session.execute(text(f"SELECT 1 {WORK_MARK}"))


def hook(db: Database) -> OutboxWake:
    """Make commits of work on ``db`` signal (this process) and notify (every process)."""
    return install(db, flag=FLAG, marks=(WORK_MARK,), notify_sql=f"SELECT pg_notify({CHANNEL_SQL}, '')")


def register_periodic_jobs(scheduler: Scheduler) -> None:
    signal = hook(scheduler.services.db)
    runs = RUNS[scheduler.holder]

    def job(run: JobRun) -> Any:
        runs.append((time.monotonic(), run))

    scheduler.every(JOB, HOUR, job, wake=WakeOn(signal, CHANNEL_SQL, SPACING))
