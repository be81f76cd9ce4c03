"""The dispatcher wakes when outbox rows commit, long before its poll: the runner polls once an
hour here, so a delivery that arrives at all was woken by the commit (an in-process signal on
SQLite, LISTEN/NOTIFY on PostgreSQL — also from another process's engine)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert

from engine.outbox import enqueue
from engine.outbox.registry import Delivery
from engine.outbox.service import outbox_values
from engine.runner import BackgroundRunner
from engine.services import Services
from engine.storage.models import OutboxMessage

HOUR = 3600.0
PATIENCE = 60.0  # far below the poll; only a stuck machine takes this long


class Receiver:
    def __init__(self) -> None:
        self.got: list[Any] = []
        self.arrived = threading.Event()

    def __call__(self, delivery: Delivery) -> None:
        self.got.append(delivery.payload)
        self.arrived.set()

    def wait_for(self, count: int) -> list[Any]:
        deadline = time.monotonic() + PATIENCE
        while len(self.got) < count and time.monotonic() < deadline:
            self.arrived.wait(0.05)
            self.arrived.clear()
        return self.got


@pytest.fixture
def receiver(services: Services) -> Receiver:
    found = Receiver()
    services.handlers.register("test.wake", found)
    return found


@pytest.fixture
def runner(services: Services, receiver: Receiver) -> Iterator[BackgroundRunner]:
    background = BackgroundRunner(services, interval=HOUR, job_modules=[]).start()
    deadline = time.monotonic() + PATIENCE
    while background.passes < 1 and time.monotonic() < deadline:  # its first pass is behind it
        time.sleep(0.01)
    if background.listener is not None:
        assert background.listener.listening.wait(PATIENCE)
    assert background.passes >= 1
    yield background
    background.stop()


def put(services: Services, payload: Any) -> None:
    with services.db.transaction() as s:
        enqueue(s, "test.wake", payload, now=services.clock.now())


def test_an_enqueued_row_is_delivered_on_its_commit_not_at_the_next_poll(services, runner, receiver) -> None:
    put(services, {"n": 1})
    assert receiver.wait_for(1) == [{"n": 1}]
    put(services, {"n": 2})
    with services.db.transaction() as s:  # the workflow's way: a Core insert of the row's values
        s.execute(insert(OutboxMessage), [outbox_values("test.wake", {"n": 3}, now=services.clock.now())])
    assert sorted(p["n"] for p in receiver.wait_for(3)) == [1, 2, 3]


def test_a_rolled_back_insert_signals_nothing(services, runner, receiver) -> None:
    before = services.outbox_wake.signals
    with pytest.raises(RuntimeError), services.db.transaction() as s:
        enqueue(s, "test.wake", {"n": 1}, now=services.clock.now())
        s.flush()
        raise RuntimeError("the change failed")
    put(services, {"n": 2})
    assert receiver.wait_for(1) == [{"n": 2}]
    if services.db.is_sqlite:
        assert services.outbox_wake.signals == before + 1


def test_a_replayed_dead_row_wakes_the_dispatcher(services, runner, receiver) -> None:
    from engine.outbox.admin import replay_dead

    with services.db.transaction() as s:
        row = OutboxMessage(**{**outbox_values("test.wake", {"n": 7}, now=services.clock.now()),
                               "status": "dead", "attempts": 4})
        s.add(row)
        s.flush()
        row_id = row.id
    with services.db.transaction(immediate=True) as s:
        replay_dead(s, [row_id], now=services.clock.now(), actor="admin")
    assert receiver.wait_for(1) == [{"n": 7}]


def test_postgres_a_commit_in_another_process_engine_wakes_this_dispatcher(services, settings, runner,
                                                                           receiver) -> None:
    if not services.db.is_postgres:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    other = Services.build(settings, clock=services.clock)  # its own engine and pool: only NOTIFY links them
    try:
        put(other, {"from": "another process"})
        assert receiver.wait_for(1) == [{"from": "another process"}]
    finally:
        other.db.dispose()
