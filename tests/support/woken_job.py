"""A periodic job woken on commit, for the runner's tests (loaded as a job module), and the
helpers the tests of woken jobs share (:func:`wait_until`, :func:`runner_with`).

``test.woken`` runs once an hour by its period and whenever a transaction that ran a statement
carrying :data:`WORK_MARK` commits (an in-process signal on SQLite, a notification on a
per-schema channel on PostgreSQL), at most once per :data:`SPACING` seconds. Each run is
recorded under its scheduler's holder in :data:`RUNS`, with the real time it started.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.outbox.wake import OutboxWake, install
from engine.runner import BackgroundRunner
from engine.scheduler import JobRun, PeriodicJob, Scheduler, WakeOn
from engine.services import Services
from engine.storage.db import Database

JOB = "test.woken"
HOUR = 3600
SPACING = 0.2
WORK_MARK = "/* test job work */"
FLAG = "orderpulse_test_job_work"
CHANNEL_SQL = "'orderpulse_test_job_' || left(md5(current_schema()), 16)"
PATIENCE = 30.0  # a bound on every wait: without its wake a job would not run again for an hour
RUNS: defaultdict[str, list[tuple[float, JobRun]]] = defaultdict(list)


def wait_until(done: Callable[[], bool], what: str, patience: float = PATIENCE) -> None:
    deadline = time.monotonic() + patience
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@contextmanager
def runner_with(services: Services, job_module: str, job_name: str) -> Iterator[PeriodicJob]:
    """The background runner (period an hour, no pipeline) with ``job_module``'s jobs; yields
    the woken job ``job_name`` once it and the dispatcher made their first pass and every
    listener listens, and stops the runner after."""
    runner = BackgroundRunner(services, interval=HOUR, job_modules=[job_module], pipeline=False).start()
    try:
        job = next(j for j in runner.scheduler.jobs if j.name == job_name)
        assert job in runner.woken_jobs
        wait_until(lambda: job.runs >= 1 and runner.passes >= 1, f"the first passes of {job_name} and the dispatcher")
        for listener in [runner.listener, *runner.job_listeners]:
            if listener is not None:
                assert listener.listening.wait(PATIENCE)
        yield job
    finally:
        runner.stop()


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
