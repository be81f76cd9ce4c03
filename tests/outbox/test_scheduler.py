"""Periodic jobs on the manual clock; singleton jobs run once per tick across processes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import leases
from engine.scheduler import JobRun, Scheduler, job_modules, load_periodic_jobs


def test_jobs_run_when_due_on_the_injected_clock(services, clock) -> None:
    runs: list[tuple[str, object]] = []
    scheduler = Scheduler(services)
    start = clock.now()
    scheduler.every("deadlines", 60, lambda run: runs.append((run.name, run.now - start)))
    scheduler.every("snapshots", 90, lambda run: runs.append((run.name, run.now - start)), singleton=False)

    assert scheduler.run_pending() == ["deadlines", "snapshots"]  # due at start
    clock.advance(59)
    assert scheduler.run_pending() == []
    assert scheduler.seconds_until_next() == 1
    clock.advance(1)
    assert scheduler.run_pending() == ["deadlines"]
    clock.advance(30)
    assert scheduler.run_pending() == ["snapshots"]
    assert runs == [
        ("deadlines", timedelta(0)),
        ("snapshots", timedelta(0)),
        ("deadlines", timedelta(seconds=60)),
        ("snapshots", timedelta(seconds=90)),
    ]


def test_a_singleton_job_runs_once_per_tick_across_two_workers(services, clock) -> None:
    ran_by: list[str] = []
    workers = [Scheduler(services, holder=f"worker-{i}") for i in (1, 2)]
    for worker in workers:
        worker.every("deadline-sweep", 60, lambda run, w=worker: ran_by.append(w.holder))
    for _ in range(5):
        for worker in workers:
            worker.run_pending()
        clock.advance(60)
    assert len(ran_by) == 5  # one run per minute, not two


def test_a_non_singleton_job_runs_in_every_worker(services, clock) -> None:
    ran_by: list[str] = []
    workers = [Scheduler(services, holder=f"worker-{i}") for i in (1, 2)]
    for worker in workers:
        worker.every("local-cache", 60, lambda run, w=worker: ran_by.append(w.holder), singleton=False)
    for worker in workers:
        worker.run_pending()
    assert sorted(ran_by) == ["worker-1", "worker-2"]


def test_singleton_job_gets_a_fencing_token_it_can_check(services, clock) -> None:
    seen: list[JobRun] = []
    scheduler = Scheduler(services, holder="w1")
    scheduler.every("reconciler", 60, seen.append)
    scheduler.run_pending()
    clock.advance(60)
    scheduler.run_pending()
    assert [r.fencing_token for r in seen] == [1, 2]
    with services.db.transaction(immediate=True) as s:
        leases.check_fence(s, seen[1].lease_name, seen[1].fencing_token)
        with pytest.raises(leases.StaleFence):
            leases.check_fence(s, seen[0].lease_name, seen[0].fencing_token)


def test_a_failing_job_does_not_stop_the_others(services, clock) -> None:
    ran: list[str] = []

    def broken(run: JobRun) -> None:
        raise RuntimeError("reconciler crashed")

    scheduler = Scheduler(services)
    scheduler.every("broken", 10, broken)
    scheduler.every("fine", 10, lambda run: ran.append(run.name))
    assert scheduler.run_pending() == ["fine"]
    assert scheduler.jobs[0].failures == 1
    clock.advance(10)
    assert scheduler.run_pending() == ["fine"]  # the broken job is tried again on its next tick
    assert scheduler.jobs[0].failures == 2


def test_duplicate_names_and_bad_intervals_are_refused(services) -> None:
    scheduler = Scheduler(services)
    scheduler.every("a", 1, lambda run: None)
    with pytest.raises(ValueError, match="already registered"):
        scheduler.every("a", 1, lambda run: None)
    with pytest.raises(ValueError, match="interval must be positive"):
        scheduler.every("b", 0, lambda run: None)


def test_areas_register_jobs_from_their_jobs_module(services, tmp_path, monkeypatch) -> None:
    module = tmp_path / "plugin_jobs_for_test.py"
    module.write_text(
        "def register_periodic_jobs(scheduler):\n"
        "    scheduler.every('plugin-job', 30, lambda run: None)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    scheduler = Scheduler(services)
    assert load_periodic_jobs(scheduler, modules=[], extra=["plugin_jobs_for_test"]) == ["plugin_jobs_for_test"]
    assert [j.name for j in scheduler.jobs] == ["plugin-job"]
    assert all(name.startswith("engine.") and name.endswith(".jobs") for name in job_modules())
