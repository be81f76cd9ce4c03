"""Two dispatchers on one database never deliver a row twice. On SQLite the dispatcher
lease lets only one of them work; without it (and on PostgreSQL) the claims keep them apart."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from engine.outbox import enqueue
from engine.outbox.dispatcher import DISPATCHER_LEASE, Dispatcher
from engine.outbox.registry import Delivery
from engine.storage.models import JobLease, OutboxMessage
from tests.support import backends
from tests.support.handlers import RECEIPT_TOPIC, receipt_counts, record_receipt

ROWS = 200


def _delivered(services) -> int:
    with services.db.session() as s:
        return s.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "delivered")
        ).scalar_one()


@pytest.mark.parametrize("single_on_sqlite", [True, False], ids=["with-sqlite-lease", "claims-only"])
def test_two_dispatchers_never_deliver_a_row_twice(services, receipts, single_on_sqlite) -> None:
    calls: Counter[str] = Counter()
    by_worker: Counter[str] = Counter()
    lock = threading.Lock()

    def counted(delivery: Delivery) -> None:
        with lock:
            calls[delivery.delivery_id] += 1
            by_worker[threading.current_thread().name] += 1
        record_receipt(delivery)

    services.handlers.register(RECEIPT_TOPIC, counted)
    with services.db.transaction() as s:
        for i in range(ROWS):
            enqueue(s, RECEIPT_TOPIC, {"n": i}, now=services.clock.now())

    stop = threading.Event()
    errors: list[BaseException] = []

    def work(dispatcher: Dispatcher) -> None:
        try:
            while not stop.is_set():
                if dispatcher.dispatch_due(limit=10) == 0:
                    time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(Dispatcher(services, worker_id=name, single_on_sqlite=single_on_sqlite),),
                         name=name)
        for name in ("a", "b")
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    try:
        while _delivered(services) < ROWS and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    assert not errors
    assert _delivered(services) == ROWS
    assert len(calls) == ROWS and set(calls.values()) == {1}
    receipts_by_id = receipt_counts(services.db)
    assert len(receipts_by_id) == ROWS and set(receipts_by_id.values()) == {1}
    if services.db.is_sqlite and single_on_sqlite:
        assert len(by_worker) == 1, f"both dispatchers delivered on SQLite: {dict(by_worker)}"


@pytest.mark.skipif(backends.is_postgres_run(), reason="the single-dispatcher lease applies to SQLite only")
def test_sqlite_dispatcher_lease_keeps_a_second_process_idle_until_it_expires(services, clock, put) -> None:
    delivered: list[str] = []
    services.handlers.register("t", lambda delivery: delivered.append(delivery.delivery_id))
    first = Dispatcher(services, worker_id="host:1")
    second = Dispatcher(services, worker_id="host:2")
    put("t", {})
    assert first.dispatch_due() == 1
    put("t", {})
    assert second.dispatch_due() == 0  # idles: host:1 holds the lease
    clock.advance(31)  # host:1 stopped renewing (died) and its lease ran out
    assert second.dispatch_due() == 1
    assert first.dispatch_due() == 0
    second.release_dispatcher_lease()
    assert first.dispatch_due() == 0  # nothing left, but it may dispatch again
    with services.db.session() as s:
        lease = s.get(JobLease, DISPATCHER_LEASE)
        assert lease is not None and lease.holder == "host:1" and lease.fencing_token == 3
    assert len(delivered) == 2


@pytest.mark.postgres
def test_postgres_dispatchers_do_not_take_the_sqlite_lease(services, put) -> None:
    services.handlers.register("t", lambda delivery: None)
    put("t", {})
    put("t", {})
    assert Dispatcher(services, worker_id="a").dispatch_due(limit=1) == 1
    assert Dispatcher(services, worker_id="b").dispatch_due(limit=1) == 1
    with services.db.session() as s:
        assert s.get(JobLease, DISPATCHER_LEASE) is None
