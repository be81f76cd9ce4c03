"""The outbox row shares the caller's transaction; handler effects share the delivery mark;
a claim that expired and was taken over cannot mark the row delivered."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from engine.outbox import enqueue
from engine.outbox.dispatcher import Dispatcher
from engine.outbox.registry import Delivery
from engine.storage.models import OutboxMessage, User
from tests.support.handlers import RECEIPT_TOPIC, receipt_counts


def _outbox_count(services) -> int:
    with services.db.session() as s:
        return s.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()


def test_outbox_row_commits_with_the_callers_change(services) -> None:
    with services.db.transaction() as s:
        s.add(User(username="li_lei", role="ops", created_at=services.clock.now()))
        enqueue(s, "wecom.send", {"text": "新运营账号"}, now=services.clock.now(), source="users")
    assert _outbox_count(services) == 1


def test_outbox_row_rolls_back_with_the_callers_failed_transaction(services) -> None:
    with pytest.raises(RuntimeError, match="stock check failed"):
        with services.db.transaction() as s:
            s.add(User(username="han_meimei", role="ops", created_at=services.clock.now()))
            enqueue(s, "wecom.send", {"text": "不应发送"}, now=services.clock.now())
            s.flush()
            raise RuntimeError("stock check failed")
    assert _outbox_count(services) == 0
    with services.db.session() as s:
        assert s.execute(select(User).where(User.username == "han_meimei")).first() is None


def test_handler_writes_commit_with_the_delivery_mark(services, receipts, dispatcher, put, row) -> None:
    row_id = put(RECEIPT_TOPIC, {"order_id": "A1"})
    assert dispatcher.dispatch_due() == 1
    delivered = row(row_id)
    assert delivered.status == "delivered"
    assert receipt_counts(services.db) == {delivered.delivery_id: 1}


def test_handler_writes_roll_back_when_the_handler_fails(services, receipts, clock, dispatcher, put, row) -> None:
    attempts: list[int] = []

    def writes_then_fails(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        delivery.session.execute(
            text("INSERT INTO outbox_test_receipts (delivery_id, pid, attempt) VALUES (:d, 0, :a)"),
            {"d": delivery.delivery_id, "a": delivery.attempt},
        )
        if delivery.attempt == 1:
            raise RuntimeError("voucher service down")

    services.handlers.register("finance.voucher", writes_then_fails)
    row_id = put("finance.voucher", {"amount_fen": 4000})
    dispatcher.dispatch_due()
    assert receipt_counts(services.db) == {}
    clock.advance(30)
    dispatcher.dispatch_due()
    delivery_id = row(row_id).delivery_id
    assert attempts == [1, 2]
    assert receipt_counts(services.db) == {delivery_id: 1}
    assert row(row_id).status == "delivered"


def test_stale_claim_cannot_mark_delivered_and_its_effects_roll_back(services, receipts, clock, row, put) -> None:
    slow = Dispatcher(services, worker_id="slow", lease_seconds=60)
    fast = Dispatcher(services, worker_id="fast", lease_seconds=60)
    row_id = put(RECEIPT_TOPIC, {"order_id": "A2"})

    first = slow.claim_next(clock.now())
    assert first is not None and first.attempt == 1
    assert fast.claim_next(clock.now()) is None  # claimed rows are not offered again

    clock.advance(61)  # the slow dispatcher paused past its lease
    second = fast.claim_next(clock.now())
    assert second is not None and second.id == row_id and second.attempt == 2

    assert slow.deliver(first) == "stale"  # its conditional mark matches nothing
    assert receipt_counts(services.db) == {}  # and its receipt was rolled back
    assert row(row_id).status == "pending"

    assert fast.deliver(second) == "delivered"
    assert receipt_counts(services.db) == {row(row_id).delivery_id: 1}


def test_stale_claim_failure_does_not_overwrite_the_new_claimants_state(services, clock, row, put) -> None:
    def always_fails(delivery: Delivery) -> None:
        raise RuntimeError("boom")

    services.handlers.register("always.fails", always_fails)
    slow = Dispatcher(services, worker_id="slow", lease_seconds=10)
    fast = Dispatcher(services, worker_id="fast", lease_seconds=10)
    row_id = put("always.fails", {})
    first = slow.claim_next(clock.now())
    clock.advance(11)
    second = fast.claim_next(clock.now())
    assert first is not None and second is not None
    assert slow.deliver(first) == "stale"
    state = row(row_id)
    assert state.claim_token == second.token and state.last_error is None
    assert fast.deliver(second) == "failed"
    assert row(row_id).attempts == 2


def test_final_attempt_orphaned_by_a_stopped_dispatcher_ends_dead(services, clock, row, put) -> None:
    row_id = put("wms.outbound", {}, retry_schedule=())  # a single attempt allowed
    gone = Dispatcher(services, worker_id="gone", lease_seconds=5)
    assert gone.claim_next(clock.now()) is not None  # ... and the process is killed here
    clock.advance(6)
    assert Dispatcher(services, worker_id="next", single_on_sqlite=False).dispatch_due() == 0
    dead = row(row_id)
    assert dead.status == "dead"
    assert "claim expired during attempt 1 of 1" in (dead.last_error or "")
