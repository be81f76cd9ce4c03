"""A periodic job that can be woken: under the background runner it runs when its work commits,
long before its period (an hour here, and the manual clock never moves), no more often than its
spacing however many commits arrive, also for commits of another process (PostgreSQL), and still
in one process per tick through its lease and fencing token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from engine import leases
from engine.outbox.wake import OutboxWake
from engine.runner import BackgroundRunner
from engine.scheduler import PeriodicJob, Scheduler, WakeOn
from engine.services import Services
from tests.support import woken_job
from tests.support.woken_job import JOB, SPACING, make_work

PATIENCE = 30.0  # far below the job's hour; only a stuck machine takes this long


def wait_until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def runner(services: Services) -> Iterator[BackgroundRunner]:
    background = BackgroundRunner(services, interval=woken_job.HOUR, job_modules=["tests.support.woken_job"]).start()
    runs = woken_job.RUNS[background.scheduler.holder]
    wait_until(lambda: len(runs) >= 1, "the job's first run (due at start)")
    for listener in background.job_listeners:
        assert listener.listening.wait(PATIENCE)
    yield background
    background.stop()
    woken_job.RUNS.pop(background.scheduler.holder, None)


def the_job(runner: BackgroundRunner) -> PeriodicJob:
    return next(j for j in runner.scheduler.jobs if j.name == JOB)


def commit_work(services: Services) -> float:
    with services.db.transaction() as s:
        make_work(s)
    return time.monotonic()


def test_a_commit_of_its_work_runs_the_job_long_before_its_period(services, clock, runner) -> None:
    job = the_job(runner)
    assert runner.woken_jobs == [job] and job not in runner.periodic_jobs  # its own loop, not the scheduler's
    runs = woken_job.RUNS[runner.scheduler.holder]
    start = clock.now()
    for _ in range(3):  # (on PostgreSQL the listener's first connection may wake it once by itself)
        committed = commit_work(services)
        wait_until(lambda c=committed: runs[-1][0] >= c, "a run started after the commit")
    assert job.woken_runs >= 2
    assert {run.now for _, run in runs} == {start}  # the clock never moved: no run was due by its period
    assert {run.fencing_token for _, run in runs} == {1}  # one holder all along: the same lease and token
    assert job.failures == 0


def test_a_storm_of_commits_shares_runs_spaced_apart(services, runner) -> None:
    runs = woken_job.RUNS[runner.scheduler.holder]
    before = len(runs)
    commits = 300
    for _ in range(commits):
        last = commit_work(services)
    wait_until(lambda: runs[-1][0] >= last, "a run started after the last commit")
    starts = [at for at, _ in runs[before - 1:]]
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= SPACING  # never sooner than the spacing after the previous run ended
    assert len(starts) - 1 < commits  # commits closer than the spacing shared a run


def test_without_wake_on_commit_it_is_a_plain_periodic_job(services) -> None:
    background = BackgroundRunner(services, job_modules=["tests.support.woken_job"], wake_on_commit=False)
    assert background.woken_jobs == [] and [j.name for j in background.periodic_jobs] == [JOB]
    assert background.job_listeners == []


def test_woken_runs_keep_to_the_lease_and_its_fencing_token(services, clock) -> None:
    seen: list[tuple[str, int | None]] = []
    first, second = Scheduler(services, holder="worker-1"), Scheduler(services, holder="worker-2")
    jobs = [s.every("relay", 2, lambda run, s=s: seen.append((s.holder, run.fencing_token)),
                    wake=WakeOn(OutboxWake(), "'relay'", 0.1)) for s in (first, second)]
    assert first.run_pending() == ["relay"]
    assert first.run_woken(jobs[0]) and first.run_woken(jobs[0])  # ahead of its tick, on its own lease
    assert not second.run_woken(jobs[1]) and jobs[1].held_elsewhere  # worker-1 holds this tick
    assert not second.run_woken(jobs[1])  # (without asking the database again until its own tick)
    assert seen == [("worker-1", 1)] * 3 and (jobs[0].runs, jobs[0].woken_runs) == (3, 2)
    clock.advance(2.5)  # worker-1 stalls past its lease; worker-2's tick takes it over
    assert second.run_pending() == ["relay"]
    assert not first.run_woken(jobs[0])  # its tick has come too: it asks, and the lease is worker-2's
    assert seen[-1] == ("worker-2", 2)
    with services.db.transaction(immediate=True) as s, pytest.raises(leases.StaleFence):
        leases.check_fence(s, jobs[0].lease_name, 1)  # what worker-1 would write with is refused


def test_a_spacing_not_shorter_than_the_period_is_refused(services) -> None:
    with pytest.raises(ValueError, match="spacing of woken runs"):
        Scheduler(services).every("relay", 1, lambda run: None, wake=WakeOn(OutboxWake(), "'relay'", 1.0))


@pytest.mark.postgres
def test_postgres_a_commit_in_another_process_engine_wakes_the_job(services, settings, runner) -> None:
    runs = woken_job.RUNS[runner.scheduler.holder]
    other = Services.build(settings, clock=services.clock)  # its own engine and pool: only NOTIFY links them
    woken_job.hook(other.db)
    try:
        for _ in range(3):  # (the listener's first connection may wake it once by itself)
            committed = commit_work(other)
            wait_until(lambda c=committed: runs[-1][0] >= c, "a run started after the other process's commit")
    finally:
        other.db.dispose()
