"""A handler registered with ``calls_out`` makes its call to a counterpart through
``delivery.outside``: on SQLite the delivery's transaction is then two phases, so the one
write lock is free while the counterpart answers (a platform timing out used to stop every
writer of the embedded default), and what the handler writes after the call still commits
with the delivery mark, exactly once. A write in the read phase is refused (it would take the
lock there, or fail to); the topics that call platforms are registered so."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, text

from engine.inventory.push import PUSH_TOPIC as STOCK_PUSH
from engine.orders.push import PUSH_TOPIC as ORDER_FETCH
from engine.orders.writeback import WRITEBACK_TOPIC
from engine.outbox.dispatcher import Dispatcher
from engine.outbox.service import enqueue
from engine.storage.models import OutboxMessage, User

TOPIC = "test.calls_out"


def _user(name: str) -> User:
    return User(username=name, role="ops", password_hash="x", created_at=datetime(2026, 11, 11, tzinfo=timezone.utc))


def _status(services: Any) -> tuple[str, int, str | None]:
    with services.db.session() as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == TOPIC)).one()
        return row.status, row.attempts, row.last_error


def _user_count(services: Any, name: str) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(text("count(*)")).select_from(User).where(User.username == name)) or 0)


def _write_elsewhere(services: Any, name: str) -> None:
    with services.db.transaction(immediate=True) as s:
        s.add(_user(name))


def test_another_writer_commits_while_the_counterpart_answers_and_the_handlers_write_lands_once(services) -> None:
    in_call, written = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def handler(delivery: Any) -> None:
        seen["before"] = _user_count(services, "writer-during-call")
        seen["first_in_line"] = getattr(services.db._first_in_line, "on", False)  # its turns go to the head of the queue

        def call() -> str:
            in_call.set()
            seen["other_writer_done"] = written.wait(10)  # the platform answers once the other writer is done
            return "ok"

        seen["answer"] = delivery.outside(call)
        delivery.session.add(_user(f"written-after-{delivery.delivery_id[:8]}"))

    services.handlers.register(TOPIC, handler, calls_out=True)
    with services.db.transaction() as s:
        enqueue(s, TOPIC, {"n": 1}, now=services.clock.now(), source="test")
    delivering = threading.Thread(target=lambda: Dispatcher(services, worker_id="test").dispatch_due(
        now=services.clock.now()))
    delivering.start()
    assert in_call.wait(10)
    _write_elsewhere(services, "writer-during-call")  # would wait for the lock on SQLite if the call held it
    written.set()
    delivering.join(20)
    assert seen == {"before": 0, "first_in_line": True, "other_writer_done": True, "answer": "ok"}
    assert _status(services) == ("delivered", 1, None)
    with services.db.session() as s:
        assert s.scalar(select(text("count(*)")).select_from(User).where(User.username.like("written-after-%"))) == 1


def test_a_failed_call_writes_nothing_and_counts_its_attempt(services) -> None:
    def handler(delivery: Any) -> None:
        def call() -> None:
            raise ConnectionError("platform timed out")

        delivery.outside(call)
        delivery.session.add(_user("never"))

    services.handlers.register(TOPIC, handler, calls_out=True)
    with services.db.transaction() as s:
        enqueue(s, TOPIC, {"n": 1}, now=services.clock.now(), source="test", retry_schedule=(30,))
    Dispatcher(services, worker_id="test").dispatch_due(now=services.clock.now())
    status, attempts, error = _status(services)
    assert (status, attempts) == ("pending", 1) and error == "ConnectionError: platform timed out"
    assert _user_count(services, "never") == 0


def test_a_write_in_the_read_phase_is_refused_on_sqlite(services) -> None:
    def handler(delivery: Any) -> None:
        delivery.session.add(_user("too-early"))
        delivery.outside(lambda: None)

    services.handlers.register(TOPIC, handler, calls_out=True)
    with services.db.transaction() as s:
        enqueue(s, TOPIC, {"n": 1}, now=services.clock.now(), source="test", retry_schedule=(30,))
    Dispatcher(services, worker_id="test").dispatch_due(now=services.clock.now())
    status, attempts, error = _status(services)
    if services.db.is_sqlite:
        assert (status, attempts) == ("pending", 1)
        assert error is not None and "write after outside()" in error
        assert _user_count(services, "too-early") == 0
    else:  # one transaction on PostgreSQL: nothing to refuse
        assert (status, attempts, error) == ("delivered", 1, None)
        assert _user_count(services, "too-early") == 1


def test_the_topics_that_call_platforms_call_out_and_the_orders_fetch_is_claimed_first(services) -> None:
    from engine.inventory.jobs import register_push_handler
    from engine.orders.push import register_order_handlers
    from engine.orders.writeback import register_writeback_handler

    register_push_handler(services)
    register_order_handlers(services)
    register_writeback_handler(services)
    assert [services.handlers.calls_out(t) for t in (STOCK_PUSH, ORDER_FETCH, WRITEBACK_TOPIC)] == [True] * 3
    # an order not yet fetched is not in OrderPulse at all: claimed before the stock pushes
    assert set(services.handlers.claimed_first_topics()) >= {ORDER_FETCH, WRITEBACK_TOPIC}
    assert STOCK_PUSH not in services.handlers.claimed_first_topics()
