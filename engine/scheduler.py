"""Periodic background jobs (workflow deadlines, inventory reconciler, …) run by the runner.

Owns *when* jobs run, not what they do. ``Scheduler.every(name, seconds, fn)`` registers a
job; ``run_pending(now)`` runs the ones that are due (time from ``services.clock``, so tests
move a manual clock). A ``singleton`` job (the default) runs in only one process per tick,
however many workers share the database: before running, the process takes the SQL lease
``schedule:<name>`` for one interval and keeps it (the lease's expiry *is* the next tick).
A singleton job receives the lease's fencing token in :class:`JobRun`; a job whose run can
outlast its interval checks it in its write transaction with
``leases.check_fence(session, run.lease_name, run.fencing_token)``.

A job may also be *woken* before its period ends: ``every(..., wake=WakeOn(signal, channel_sql,
spacing))`` names the process's signal that its work committed (an
:func:`engine.outbox.wake.install` with the job's own flag and statements) and, for
PostgreSQL, the channel other processes notify. The background runner then gives the job a
thread of its own that runs it when woken — no sooner than ``spacing`` seconds after its
previous run ended, so a storm of commits shares few runs — and at its period as the backstop;
the singleton lease and its fencing token hold for woken runs as for periodic ones
(:meth:`Scheduler.run_woken`). Without a runner (tests calling :meth:`run_pending`) or with
``wake_on_commit=False`` it is a plain periodic job.

How areas add jobs: put a module ``engine/<area>/jobs.py`` defining
``register_periodic_jobs(scheduler)``; :func:`load_periodic_jobs` finds and calls every such
module (plus any extra modules named by the caller). A job function is ``fn(run: JobRun)``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine import leases
from engine.logs import get_logger

if TYPE_CHECKING:
    from engine.outbox.wake import OutboxWake
    from engine.services import Services

log = get_logger(__name__)

JOBS_MODULE = "jobs"


@dataclass(frozen=True)
class JobRun:
    """What a job is told when it runs."""

    name: str
    now: datetime
    services: "Services"
    lease_name: str | None = None
    fencing_token: int | None = None


JobFn = Callable[[JobRun], None]


@dataclass(frozen=True)
class WakeOn:
    """What wakes a job before its period ends.

    ``signal`` is set in this process when the job's work commits; on PostgreSQL the runner
    also ``LISTEN``s on ``channel_sql`` (an SQL expression naming the channel, as in
    :mod:`engine.outbox.wake`) so that commits of other processes set it. ``spacing`` is the
    least time, in seconds, from the end of one run to the start of a woken one: commits
    closer together share one run.
    """

    signal: "OutboxWake"
    channel_sql: str
    spacing: float


@dataclass
class PeriodicJob:
    name: str
    interval: timedelta
    fn: JobFn
    singleton: bool = True
    wake: WakeOn | None = None
    next_due: datetime | None = None  # None: due at the first run_pending
    runs: int = 0
    woken_runs: int = 0  # of ``runs``, those started by a wake rather than the period
    failures: int = 0
    held_elsewhere: bool = False  # the last lease attempt found another process holding it

    @property
    def lease_name(self) -> str:
        return f"schedule:{self.name}"


class Scheduler:
    """A per-process list of periodic jobs; singleton jobs are coordinated through leases."""

    def __init__(self, services: "Services", *, holder: str | None = None) -> None:
        self.services = services
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._jobs: dict[str, PeriodicJob] = {}

    def every(self, name: str, seconds: float, fn: JobFn, *, singleton: bool = True,
              wake: WakeOn | None = None) -> PeriodicJob:
        """Run ``fn`` every ``seconds`` (and when ``wake`` says its work committed, under a
        runner); a second registration under the same name is an error."""
        if name in self._jobs:
            raise ValueError(f"periodic job {name!r} is already registered")
        if seconds <= 0:
            raise ValueError(f"periodic job {name!r}: interval must be positive")
        if wake is not None and not 0 <= wake.spacing < seconds:
            raise ValueError(f"periodic job {name!r}: the spacing of woken runs must be within its interval")
        job = PeriodicJob(name=name, interval=timedelta(seconds=seconds), fn=fn, singleton=singleton, wake=wake)
        self._jobs[name] = job
        return job

    @property
    def jobs(self) -> list[PeriodicJob]:
        return list(self._jobs.values())

    def seconds_until_next(self, now: datetime | None = None, *,
                           jobs: Iterable[PeriodicJob] | None = None) -> float | None:
        """Seconds until the next of ``jobs`` (default: all) is due; None with no job."""
        now = now or self.services.clock.now()
        dues = [job.next_due for job in (self._jobs.values() if jobs is None else jobs)]
        if not dues:
            return None
        if any(d is None for d in dues):
            return 0.0
        return max(0.0, min((d - now).total_seconds() for d in dues if d is not None))

    def run_pending(self, now: datetime | None = None, *, jobs: Iterable[PeriodicJob] | None = None) -> list[str]:
        """Run every due job of ``jobs`` (default: all) once; return the names of those that ran here."""
        now = now or self.services.clock.now()
        ran: list[str] = []
        for job in list(self._jobs.values() if jobs is None else jobs):
            if job.next_due is not None and job.next_due > now:
                continue
            if self._run(job, now):
                ran.append(job.name)
        return ran

    def run_woken(self, job: PeriodicJob, now: datetime | None = None) -> bool:
        """Run ``job`` now, ahead of its period, because its work committed; True when it ran here.

        A singleton takes its lease as at a tick (the lease and the next period restart from
        ``now``). When its last attempt found the lease held by another process, this one
        leaves the wake to that holder (woken too on PostgreSQL; on its own period otherwise)
        until its next tick, rather than ask the database again for every commit.
        """
        now = now or self.services.clock.now()
        if job.singleton and job.held_elsewhere and job.next_due is not None and job.next_due > now:
            return False
        if self._run(job, now):
            job.woken_runs += 1
            return True
        return False

    def _run(self, job: PeriodicJob, now: datetime) -> bool:
        job.next_due = now + job.interval
        token: int | None = None
        if job.singleton:
            token = leases.acquire(self.services.db, job.lease_name, self.holder, job.interval, now)
            job.held_elsewhere = token is None
            if token is None:
                return False  # another process runs this tick
        run = JobRun(
            name=job.name,
            now=now,
            services=self.services,
            lease_name=job.lease_name if job.singleton else None,
            fencing_token=token,
        )
        try:
            job.fn(run)
        except Exception:  # noqa: BLE001 - one failing job must not stop the others
            job.failures += 1
            log.exception("periodic job failed", job=job.name, holder=self.holder)
            return False
        job.runs += 1
        return True


def job_modules() -> list[str]:
    """Every ``engine.<area>.jobs`` module present in the installed package, sorted."""
    import engine

    found = []
    for info in pkgutil.iter_modules(engine.__path__):
        if not info.ispkg:
            continue
        name = f"engine.{info.name}.{JOBS_MODULE}"
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            found.append(name)
    return sorted(found)


def load_periodic_jobs(scheduler: Scheduler, modules: Iterable[str] | None = None,
                       extra: Iterable[str] = ()) -> list[str]:
    """Import each job module and call its ``register_periodic_jobs(scheduler)``.

    ``modules`` defaults to :func:`job_modules`. An import error is not hidden: a worker
    with a broken job module should fail at start, not run without the job.
    """
    names = [*(job_modules() if modules is None else modules), *extra]
    for name in names:
        module = importlib.import_module(name)
        register = getattr(module, "register_periodic_jobs", None)
        if register is None:
            raise AttributeError(f"job module {name} has no register_periodic_jobs(scheduler)")
        register(scheduler)
    if names:
        log.info("periodic jobs loaded", modules=names, jobs=[j.name for j in scheduler.jobs])
    return names
