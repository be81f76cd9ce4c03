"""The SQLite writers of one process queue in arrival order (``engine.storage.write_queue``):
the lock itself, and immediate transactions of a :class:`Database` going through it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from engine.storage.db import Database
from engine.storage.write_queue import FifoLock


def _start_in_order(targets: list[Callable[[], None]], queued: Callable[[], int]) -> list[threading.Thread]:
    """Start a thread per target, each only once the one before is queued (``queued()`` grew):
    the arrival order is known."""
    threads = []
    for target in targets:
        before = queued()
        t = threading.Thread(target=target)
        t.start()
        deadline = time.monotonic() + 5
        while queued() == before and time.monotonic() < deadline:
            time.sleep(0.001)
        threads.append(t)
    return threads


def _queue_up(lock: FifoLock, names: list[str], got: list[str], *, first: bool = False) -> list[threading.Thread]:
    def take(name: str) -> None:
        lock.acquire(first=first)
        got.append(name)
        lock.release()

    return _start_in_order([lambda n=n: take(n) for n in names],
                           lambda: len(lock._first if first else lock._waiters))


def test_waiters_get_the_lock_in_the_order_they_came() -> None:
    lock, got = FifoLock(), []
    lock.acquire()
    threads = _queue_up(lock, ["a", "b", "c", "d", "e"], got)
    assert got == []
    lock.release()
    for t in threads:
        t.join(5)
    assert got == ["a", "b", "c", "d", "e"]
    assert lock.acquire(timeout=0.01)  # free again once the last one let go


def test_waiters_that_come_first_go_before_the_others_then_turns_alternate() -> None:
    lock, got = FifoLock(), []
    lock.acquire()
    threads = _queue_up(lock, ["a", "b", "c"], got)
    threads += _queue_up(lock, ["x", "y", "z", "w"], got, first=True)  # come after a, b and c, but first
    lock.release()
    for t in threads:
        t.join(5)
    # first x; then, while both kinds wait, the turns alternate (neither side starves the other)
    assert got == ["x", "a", "y", "b", "z", "c", "w"]


def test_a_waiter_that_gives_up_leaves_the_queue() -> None:
    lock, answers = FifoLock(), []
    lock.acquire()
    other = threading.Thread(target=lambda: answers.append(lock.acquire(timeout=0.05)))
    other.start()
    other.join(5)
    assert answers == [False] and len(lock._waiters) == 0
    lock.release()  # nobody is waiting: the lock is free, not handed to the one that left
    taker = threading.Thread(target=lambda: answers.append(lock.acquire(timeout=0.01)))
    taker.start()
    taker.join(5)
    assert answers == [False, True]


def test_the_holder_may_take_it_again_and_others_wait_for_its_last_release() -> None:
    lock, got = FifoLock(), []
    assert lock.acquire() and lock.acquire(timeout=0.01)  # the same thread again: no wait
    threads = _queue_up(lock, ["other"], got)
    lock.release()
    assert got == [] and threads[0].is_alive()  # one take still held
    lock.release()
    threads[0].join(5)
    assert got == ["other"]


def test_a_transaction_opened_inside_another_of_the_same_thread_before_it_wrote_goes_on(tmp_path) -> None:
    """A request that reads its signed-in user (an immediate transaction: it writes the idle
    clock) while it prepares a publish (an immediate transaction not begun yet) must not wait
    for itself: the builder's 发布 hung for the queue's 30 s."""
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    try:
        with db.transaction() as s:
            s.execute(text("CREATE TABLE marks (name TEXT)"))

        def nested() -> None:
            with db.transaction(immediate=True) as outer:
                with db.transaction(immediate=True) as inner:
                    inner.execute(text("INSERT INTO marks VALUES ('inner')"))
                outer.execute(text("INSERT INTO marks VALUES ('outer')"))

        t = threading.Thread(target=nested)
        t.start()
        t.join(10)  # a bound far below the queue's 30 s
        assert not t.is_alive()
        with db.session() as s:
            assert [r[0] for r in s.execute(text("SELECT name FROM marks"))] == ["inner", "outer"]
    finally:
        db.dispose()


def test_immediate_transactions_of_a_sqlite_database_begin_in_arrival_order(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        with db.transaction() as s:
            s.execute(text("CREATE TABLE arrivals (id INTEGER PRIMARY KEY, name TEXT)"))
        holding, release = threading.Event(), threading.Event()

        def first() -> None:
            with db.transaction(immediate=True) as s:
                s.execute(text("INSERT INTO arrivals (name) VALUES ('first')"))
                holding.set()
                release.wait(10)

        def writer(name: str) -> None:
            with db.transaction(immediate=True) as s:
                s.execute(text("INSERT INTO arrivals (name) VALUES (:n)"), {"n": name})

        t0 = threading.Thread(target=first)
        t0.start()
        assert holding.wait(5)
        queue = db._writers[1] if db._writers else None
        assert queue is not None
        names = [f"w{i}" for i in range(8)]
        threads = _start_in_order([lambda n=n: writer(n) for n in names],
                                  lambda: len(queue._waiters))
        assert len(queue._waiters) == len(names)
        release.set()
        for t in [t0, *threads]:
            t.join(10)
        with db.session() as s:
            order = [r[0] for r in s.execute(text("SELECT name FROM arrivals ORDER BY id"))]
        assert order == ["first", *names]
    finally:
        db.dispose()


def test_postgresql_has_no_process_queue(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL side of the same call")
    db = Database(database_url)
    try:
        with db.write_turn(), db.write_turn():  # no lock at all: nesting cannot block
            pass
        assert db._writers is None
    finally:
        db.dispose()
