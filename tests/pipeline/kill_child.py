"""A child process for the kill -9 tests: runs the order pipeline over the database given, and
kills itself with SIGKILL at the point given (in the middle of a batch's transaction, or just
after a batch committed). Used by tests/pipeline/test_kill.py only.

``python -m tests.pipeline.kill_child URL POINT`` — POINT is ``none``, ``before:STAGE:N`` (as
the N-th call of STAGE starts), ``after:STAGE:N`` (as it returns, before the next stage),
``commit:N`` (after the N-th batch committed); STAGE is a stage name or ``follow``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from engine.clock import ManualClock
from engine.config import Settings
from engine.orders import pipeline_stages
from engine.orders.pipeline import BatchResult, Pipeline
from engine.services import Services

BATCH = 3
calls: Counter[str] = Counter()


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(name: str, fn: Any, point: str) -> Any:
    def run(*args: Any) -> Any:
        calls[name] += 1
        if point == f"before:{name}:{calls[name]}":
            _die()
        out = fn(*args)
        if point == f"after:{name}:{calls[name]}":
            _die()
        return out

    return run


class KillingPipeline(Pipeline):
    point = "none"
    batches = 0

    def run_batch(self, now: datetime | None = None, *, size: int | None = None,
                  only: int | None = None) -> BatchResult:
        result = super().run_batch(now, size=size, only=only)
        if result.claimed:
            self.batches += 1
            if self.point == f"commit:{self.batches}":
                _die()
        return result


def main() -> None:
    url, point = sys.argv[1], sys.argv[2]
    settings = Settings(database_url=url, redis_url=os.environ.get("KILL_REDIS_URL") or None,
                        redis_prefix=os.environ.get("KILL_REDIS_PREFIX", "op:kill:"), secret_key="kill")
    services = Services.build(settings, clock=ManualClock(datetime(2026, 11, 11, 3, 0, tzinfo=UTC)))
    stages = [(name, _wrap(name, fn, point)) for name, fn in pipeline_stages.STAGES]
    retry = _wrap("follow", pipeline_stages.STOCK_RETRY, point)
    follow_ups = [(after, retry if fn is pipeline_stages.STOCK_RETRY else _wrap("follow", fn, point))
                  for after, fn in pipeline_stages.FOLLOW_UPS]
    pipeline = KillingPipeline(services, stages=stages, follow_ups=follow_ups, stock_retry=retry, batch=BATCH)
    pipeline.point = point
    moved = pipeline.run_due()
    print(f"moved {moved}")
    services.db.dispose()


if __name__ == "__main__":
    main()
