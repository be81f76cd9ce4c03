"""Four real ``orderpulse worker`` processes on PostgreSQL deliver 5,000 rows, each row's
effect exactly once, while one of them is killed with SIGKILL half-way, inside a handler."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from engine.storage.models import OutboxMessage
from tests.outbox.workers import enqueue_receipts, start_workers, terminate, wait_for, wait_started
from tests.support.handlers import HANG_FILE_ENV, receipt_counts

ROWS = 5000
WORKERS = 4
LEASE_SECONDS = "5"  # orphaned claims of the killed worker are retried after 5 s


def _delivered(services) -> int:
    with services.db.session() as s:
        return s.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "delivered")
        ).scalar_one()


@pytest.mark.postgres
@pytest.mark.slow
def test_four_workers_deliver_5000_rows_exactly_once_with_one_killed_half_way(
    services, receipts, database_url, tmp_path
) -> None:
    hang = tmp_path / "hang-now"
    workers = start_workers(WORKERS, database_url, tmp_path, first_env={HANG_FILE_ENV: str(hang)},
                            ORDERPULSE_OUTBOX_LEASE_SECONDS=LEASE_SECONDS)
    victim = workers[0]
    try:
        wait_started(workers)
        enqueue_receipts(database_url, ROWS)
        started = time.monotonic()
        wait_for(lambda: _delivered(services) >= ROWS // 2, 120, "half of the rows delivered", poll=0.02)
        # Kill the victim inside a handler call, holding an unexpired claim: the hardest moment.
        hang.touch()
        wait_for(lambda: any(tmp_path.glob("hang-now.*.hanging")), 30, "the victim to be inside a handler", 0.01)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        delivered_at_kill = _delivered(services)
        wait_for(lambda: _delivered(services) == ROWS, 120, "every row delivered")
        elapsed = time.monotonic() - started
        codes = terminate(workers[1:])
        logs = {w.index: w.log_text() for w in workers}
        call_logs = {w.index: w.call_log() for w in workers}
    finally:
        for w in workers:
            w.close()

    assert victim.process.returncode == -signal.SIGKILL
    assert codes == [0] * (WORKERS - 1), logs

    with services.db.session() as s:
        statuses = dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        attempts = dict(s.execute(select(OutboxMessage.delivery_id, OutboxMessage.attempts)).all())
    assert statuses == {"delivered": ROWS}  # nothing pending, nothing dead

    receipts_by_id = receipt_counts(services.db)
    assert len(receipts_by_id) == ROWS
    assert set(receipts_by_id.values()) == {1}  # every row's effect committed exactly once

    calls: Counter[str] = Counter()
    for ids in call_logs.values():
        calls.update(ids)
    assert set(calls) == set(receipts_by_id)
    assert all(len(ids) > 0 for ids in call_logs.values()), "every worker took part, the victim included"
    # Handler calls per delivery id: one each, except the row the victim was inside when it
    # was killed. That call never committed; after the 5 s lease another worker claimed the
    # row again (attempt 2) and its call committed the one receipt.
    repeated = {d: n for d, n in calls.items() if n > 1}
    assert len(repeated) == 1, repeated
    ((orphan, orphan_calls),) = repeated.items()
    assert orphan_calls == 2 and attempts[orphan] == 2
    assert call_logs[victim.index][-1] == orphan
    assert all(attempts[d] == calls[d] for d in attempts)  # every claim made exactly one call

    print(
        f"\n[outbox workers] rows={ROWS} workers={WORKERS} killed_after={delivered_at_kill} delivered "
        f"handler_calls={sum(calls.values())} receipts={sum(receipts_by_id.values())} "
        f"repeated_calls={len(repeated)} per_worker_calls={[len(v) for v in call_logs.values()]} "
        f"seconds={elapsed:.1f}"
    )
