"""The in-process background runner (``serve``) and real ``orderpulse worker`` processes."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from engine.runner import start_background
from engine.storage.models import OutboxMessage
from tests.outbox.workers import enqueue_receipts, start_workers, terminate, wait_for, wait_started
from tests.support import backends
from tests.support.handlers import receipt_counts


def _statuses(services) -> dict[str, int]:
    with services.db.session() as s:
        rows = s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {status: n for status, n in rows}


def test_background_runner_delivers_runs_jobs_and_stops(services, receipts, put) -> None:
    ticks: list[str] = []
    runner = start_background(services, interval=0.05, job_modules=[])
    try:
        runner.scheduler.every("heartbeat", 60, lambda run: ticks.append(run.name))
        put("test.receipt", {"order_id": "A1"})
        wait_for(lambda: _statuses(services).get("delivered") == 1, 20, "the background delivery")
        wait_for(lambda: ticks == ["heartbeat"], 20, "the periodic job")
    finally:
        runner.stop(timeout=10)
    assert not runner.alive
    assert len(receipt_counts(services.db)) == 1


@pytest.mark.slow
@pytest.mark.skipif(backends.is_postgres_run(), reason="the single-dispatcher rule is SQLite's")
def test_two_workers_on_sqlite_one_delivers_the_other_idles_and_sigterm_stops_both(
    services, receipts, database_url, tmp_path
) -> None:
    workers = start_workers(2, database_url, tmp_path)
    try:
        wait_started(workers)
        enqueue_receipts(database_url, 300)
        wait_for(lambda: _statuses(services).get("delivered") == 300, 120, "300 deliveries")
        time.sleep(1.5)  # give the idle worker a few passes in which it must not deliver
        codes = terminate(workers)
        calls = [w.call_log() for w in workers]
        logs = [w.log_text() for w in workers]
    finally:
        for w in workers:
            w.close()
    assert codes == [0, 0], logs
    assert all('"worker stopped"' in text for text in logs)
    assert sorted(len(c) for c in calls) == [0, 300], "exactly one SQLite worker dispatches"
    counts = receipt_counts(services.db)
    assert len(counts) == 300 and set(counts.values()) == {1}
    assert sum('"outbox dispatcher idle' in text for text in logs) == 1


@pytest.mark.slow
def test_worker_stops_cleanly_on_sigterm(services, receipts, database_url, tmp_path) -> None:
    (worker,) = start_workers(1, database_url, tmp_path)
    try:
        wait_started([worker])
        enqueue_receipts(database_url, 5)
        wait_for(lambda: _statuses(services).get("delivered") == 5, 60, "5 deliveries")
        codes = terminate([worker])
        text = worker.log_text()
    finally:
        worker.close()
    assert codes == [0], text
    assert '"signal": "SIGTERM"' in text and '"worker stopped"' in text
