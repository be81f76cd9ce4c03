"""Background loops: the outbox dispatcher, the order pipeline, the periodic-job scheduler and
one loop per job woken on commit.

Owns threads, signals and the pace of the loops, nothing else: ``orderpulse serve`` starts
them in-process with :func:`start_background`; ``orderpulse worker`` runs them in the
foreground with :func:`run_worker` until SIGTERM or SIGINT. Several workers may share one
PostgreSQL database; on SQLite the dispatcher's lease lets only one of them deliver.
Neither entry point migrates the database. The outbox claim lease comes from
``settings.outbox_lease_seconds`` (``ORDERPULSE_OUTBOX_LEASE_SECONDS``).

The dispatcher loop wakes when outbox rows commit (:mod:`engine.outbox.wake`: an in-process
signal on SQLite, LISTEN/NOTIFY on PostgreSQL, for which the runner keeps a listening thread)
and otherwise polls every ``interval`` seconds; ``wake_on_commit=False`` leaves only the poll.
The order pipeline's loop (:mod:`engine.orders.pipeline`) is woken the same way when orders
or stock changes commit (:mod:`engine.orders.pipeline_wake`); ``pipeline=False`` leaves it out.
A periodic job registered with a wake (:class:`engine.scheduler.WakeOn`, e.g. the stock push
relay) runs in a thread of its own (a slow job of the scheduler thread, such as an order pull,
never delays it), woken by its signal (and a listening thread on PostgreSQL) never sooner than
its spacing after its previous run ended, and at its period as the backstop; the scheduler
thread runs the others. With ``wake_on_commit=False`` every job keeps to its period alone.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from engine.logs import get_logger
from engine.orders.pipeline import Pipeline, run_pipeline_loop
from engine.orders.pipeline_wake import pipeline_listener
from engine.outbox.dispatcher import Dispatcher
from engine.outbox.wake import Listener
from engine.scheduler import PeriodicJob, Scheduler, load_periodic_jobs
from engine.services import Services

log = get_logger(__name__)

DEFAULT_INTERVAL = 1.0
DEFAULT_BATCH = 100
MAX_BACKOFF = 30.0
REQUIRED_TABLES = ("outbox", "job_leases")


class BackgroundRunner:
    """Daemon threads: one drains the outbox, one moves orders through the pipeline, one runs
    due periodic jobs, one runs each job woken on commit."""

    def __init__(
        self,
        services: Services,
        *,
        interval: float = DEFAULT_INTERVAL,
        batch: int = DEFAULT_BATCH,
        lease_seconds: float | None = None,
        job_modules: Iterable[str] | None = None,
        wake_on_commit: bool = True,
        pipeline: bool = True,
    ) -> None:
        self.services = services
        self.interval = interval
        self.batch = batch
        self.stop_event = threading.Event()
        self.wake = services.outbox_wake if wake_on_commit else None
        self.listener = Listener(services.db, self.wake) if self.wake is not None and services.db.is_postgres else None
        self.passes = 0  # dispatch passes finished (tests wait for the first one)
        self.pipeline = Pipeline(services) if pipeline else None
        self.pipeline_wake = services.pipeline_wake if wake_on_commit and pipeline else None
        self.pipeline_listener = (pipeline_listener(services.db, self.pipeline_wake)
                                  if self.pipeline_wake is not None and services.db.is_postgres else None)
        self.pipeline_passes = 0
        self.dispatcher = Dispatcher(
            services,
            lease_seconds=lease_seconds if lease_seconds is not None else services.settings.outbox_lease_seconds,
            stop_event=self.stop_event,
        )
        self.dispatcher.wake = self.wake
        self.scheduler = Scheduler(services)
        load_periodic_jobs(self.scheduler, job_modules)
        self.woken_jobs = [j for j in self.scheduler.jobs if j.wake is not None] if wake_on_commit else []
        self.job_listeners = [
            Listener(services.db, j.wake.signal, channel_sql=j.wake.channel_sql, name=f"orderpulse-{j.name}-listen")
            for j in self.woken_jobs if j.wake is not None] if services.db.is_postgres else []
        self._threads: list[threading.Thread] = []

    def start(self) -> "BackgroundRunner":
        if self._threads:
            raise RuntimeError("background runner already started")
        if self.listener is not None:
            self.listener.start()
        if self.pipeline_listener is not None:
            self.pipeline_listener.start()
        for job_listener in self.job_listeners:
            job_listener.start()
        loops = [("outbox-dispatcher", self._dispatch_loop), ("scheduler", self._schedule_loop)]
        if self.pipeline is not None:
            loops.append(("order-pipeline", self._pipeline_loop))
        for job in self.woken_jobs:
            loops.append((f"job-{job.name}", partial(self._woken_job_loop, job)))
        for name, target in loops:
            thread = threading.Thread(target=target, name=f"orderpulse-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    @property
    def periodic_jobs(self) -> list[PeriodicJob]:
        """The jobs the scheduler thread runs: all but those with a loop of their own (a job
        registered after the start, woken or not, runs on its period here)."""
        return [j for j in self.scheduler.jobs if not any(j is w for w in self.woken_jobs)]

    @property
    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loops to finish their current row or job, then wait for them."""
        self.stop_event.set()
        if self.wake is not None:
            self.wake.set()  # out of its wait now
        if self.pipeline_wake is not None:
            self.pipeline_wake.set()
        for job in self.woken_jobs:
            if job.wake is not None:
                job.wake.signal.set()
        if self.listener is not None:
            self.listener.stop()
        if self.pipeline_listener is not None:
            self.pipeline_listener.stop()
        for job_listener in self.job_listeners:
            job_listener.stop()
        for thread in self._threads:
            thread.join(timeout)
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("background threads still running after stop", threads=stuck)
        try:
            self.dispatcher.release_dispatcher_lease()
        except Exception:  # noqa: BLE001 - stopping must not fail on a lost database
            log.exception("could not release the outbox dispatcher lease")

    def _backoff(self, failures: int) -> float:
        return min(self.interval * float(2 ** min(failures, 6)), MAX_BACKOFF)

    def _dispatch_loop(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            if self.wake is not None:
                self.wake.clear()  # a commit from here on wakes the wait below
            try:
                attempted = self.dispatcher.dispatch_due(limit=self.batch)
                self.passes += 1
                failures = 0
            except Exception:  # noqa: BLE001 - keep the loop alive through database hiccups
                log.exception("outbox dispatch pass failed", consecutive_failures=failures + 1)
                self.stop_event.wait(self._backoff(failures))
                failures += 1
                continue
            if attempted < self.batch:
                (self.wake or self.stop_event).wait(self.interval)

    def _pipeline_loop(self) -> None:
        assert self.pipeline is not None

        def counted() -> None:
            self.pipeline_passes += 1

        run_pipeline_loop(self.pipeline, self.stop_event, self.pipeline_wake, self.interval, on_pass=counted)

    def _schedule_loop(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            try:
                self.scheduler.run_pending(jobs=self.periodic_jobs)
                wait = self.scheduler.seconds_until_next(jobs=self.periodic_jobs)
                failures = 0
            except Exception:  # noqa: BLE001
                log.exception("scheduler pass failed", consecutive_failures=failures + 1)
                self.stop_event.wait(self._backoff(failures))
                failures += 1
                continue
            self.stop_event.wait(self.interval if wait is None else min(max(wait, 0.05), self.interval))

    def _woken_job_loop(self, job: PeriodicJob) -> None:
        """Run ``job`` when its signal says its work committed — no sooner than its spacing
        after its previous run ended — and when its period comes (the backstop)."""
        assert job.wake is not None
        signal, spacing = job.wake.signal, job.wake.spacing
        failures = 0
        woken = False  # the first pass is its period's (a job is due at start)
        finished = time.monotonic()
        while not self.stop_event.is_set():
            if woken:
                pause = finished + spacing - time.monotonic()
                if pause > 0 and self.stop_event.wait(pause):
                    break  # commits during the pause join this run: the signal is cleared just before it
            signal.clear()
            try:
                if woken:
                    self.scheduler.run_woken(job)
                else:
                    self.scheduler.run_pending(jobs=[job])
                finished = time.monotonic()
                wait = self.scheduler.seconds_until_next(jobs=[job])
                failures = 0
            except Exception:  # noqa: BLE001 - the lease's database may be away; keep the loop alive
                log.exception("woken job pass failed", job=job.name, consecutive_failures=failures + 1)
                self.stop_event.wait(self._backoff(failures))
                failures += 1
                woken = True  # its work may have committed meanwhile
                continue
            woken = signal.wait(self.interval if wait is None else min(max(wait, 0.05), self.interval))


def start_background(services: Services, *, interval: float = DEFAULT_INTERVAL, **kwargs: Any) -> BackgroundRunner:
    """Start the dispatcher and scheduler threads in this process (used by ``serve``)."""
    runner = BackgroundRunner(services, interval=interval, **kwargs).start()
    log.info("background runner started", worker=runner.dispatcher.worker_id,
             jobs=[j.name for j in runner.scheduler.jobs])
    return runner


def check_schema(services: Services) -> None:
    """Stop with a clear message when the database has not been migrated (workers never migrate)."""
    from sqlalchemy import inspect

    with services.db.engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise SystemExit(
            f"database is not migrated (missing tables: {', '.join(missing)}); run `orderpulse db upgrade` first"
        )


def run_worker(services: Services, *, interval: float = DEFAULT_INTERVAL, **kwargs: Any) -> None:
    """Run the dispatcher and scheduler until SIGTERM/SIGINT (``orderpulse worker``)."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("worker stopping", signal=signal.Signals(signum).name)
        stop.set()

    check_schema(services)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    runner = BackgroundRunner(services, interval=interval, **kwargs)
    backend = "sqlite" if services.db.is_sqlite else "postgresql" if services.db.is_postgres else "other"
    log.info(
        "worker started",
        worker=runner.dispatcher.worker_id,
        backend=backend,
        topics=services.handlers.topics(),
        jobs=[j.name for j in runner.scheduler.jobs],
        lease_seconds=runner.dispatcher.lease.total_seconds(),
    )
    runner.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        runner.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        services.db.dispose()
        log.info("worker stopped", worker=runner.dispatcher.worker_id)
