"""A platform that stalls holds up its own deliveries only: lanes of one group (the channel) take
at most half the dispatcher's threads, and a row committed while a pass waits for a slow
delivery is claimed and delivered in that pass (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import threading

from sqlalchemy import func, insert, select

from engine.outbox.dispatcher import LANE_WORKERS
from engine.outbox.registry import Delivery
from engine.outbox.service import outbox_values
from engine.runner import BackgroundRunner
from engine.storage.models import OutboxMessage
from tests.outbox.workers import wait_for

PUSH = "test.stalling_push"
WRITEBACK = "test.lane_writeback"
STALLED = 6


def _put(services, rows: list[tuple[str, dict]]) -> None:
    now = services.clock.now()
    with services.db.transaction() as s:
        s.execute(insert(OutboxMessage), [outbox_values(topic, payload, now=now) for topic, payload in rows])


def _pending(services, topic: str) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.topic == topic, OutboxMessage.status == "pending")) or 0)


def test_a_stalled_platform_holds_half_the_lanes_and_a_writeback_committed_meanwhile_goes_through(services) -> None:
    release = threading.Event()
    lock = threading.Lock()
    stalled = {"now": 0, "most": 0}
    delivered: list[str] = []

    def push(delivery: Delivery) -> None:
        with lock:
            stalled["now"] += 1
            stalled["most"] = max(stalled["most"], stalled["now"])
        try:
            assert release.wait(30), "the test never released the stalled platform"
        finally:
            with lock:
                stalled["now"] -= 1
                delivered.append(delivery.payload["sku_id"])

    def writeback(delivery: Delivery) -> None:
        with lock:
            delivered.append(delivery.payload["order_id"])

    services.handlers.register(PUSH, push, calls_out=True, ordering_key=lambda p: f"{p['channel']}/{p['sku_id']}")
    services.handlers.register(WRITEBACK, writeback, calls_out=True, claimed_first=True,
                               ordering_key=lambda p: f"{p['channel']}/{p['order_id']}")
    _put(services, [(PUSH, {"channel": "pdd", "sku_id": f"SKU-{i}"}) for i in range(STALLED)])
    # a long poll: only the commit's wake can bring the write-back in while the pass waits
    runner = BackgroundRunner(services, interval=60, job_modules=[], pipeline=False)
    runner.start()
    try:
        wait_for(lambda: stalled["now"] == LANE_WORKERS // 2, 20, "pdd's pushes stalled")
        _put(services, [(WRITEBACK, {"channel": "taobao", "order_id": "T1"})])
        wait_for(lambda: _pending(services, WRITEBACK) == 0, 20, "the write-back delivered", poll=0.01)
        assert delivered == ["T1"]  # while every pdd push still hangs
        assert stalled["now"] == stalled["most"] == LANE_WORKERS // 2  # never more than half the threads
        assert _pending(services, PUSH) == STALLED
    finally:
        release.set()
        try:
            wait_for(lambda: _pending(services, PUSH) == 0, 30, "pdd's pushes delivered once released")
        finally:
            runner.stop(timeout=30)
    assert sorted(delivered) == sorted(["T1", *(f"SKU-{i}" for i in range(STALLED))])
    assert stalled["most"] == LANE_WORKERS // 2
