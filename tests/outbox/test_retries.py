"""Retry schedule and dead letters, driven by the manual clock (no sleeping)."""

from __future__ import annotations

from datetime import timedelta

from engine.outbox.registry import Delivery


def test_handler_failing_twice_is_retried_at_30s_then_2min_and_ends_delivered(
    services, clock, dispatcher, put, row
) -> None:
    calls: list[tuple[int, object]] = []
    start = clock.now()

    def flaky(delivery: Delivery) -> None:
        calls.append((delivery.attempt, delivery.now - start))
        if len(calls) <= 2:
            raise ConnectionError(f"wecom unreachable (call {len(calls)})")

    services.handlers.register("wecom.send", flaky)
    row_id = put("wecom.send", {"text": "订单已发货"})

    assert dispatcher.dispatch_due() == 1  # attempt 1, immediately
    assert len(calls) == 1

    clock.advance(29)
    assert dispatcher.dispatch_due() == 0  # not before +30 s
    assert len(calls) == 1
    clock.advance(1)
    assert dispatcher.dispatch_due() == 1  # attempt 2 at +30 s
    assert len(calls) == 2

    clock.advance(119)
    assert dispatcher.dispatch_due() == 0  # not before another 2 min
    assert len(calls) == 2
    clock.advance(1)
    assert dispatcher.dispatch_due() == 1  # attempt 3 at +30 s +2 min
    assert calls == [
        (1, timedelta(0)),
        (2, timedelta(seconds=30)),
        (3, timedelta(seconds=150)),
    ]

    final = row(row_id)
    assert final.status == "delivered"
    assert final.attempts == 3
    assert final.delivered_at == start + timedelta(seconds=150)
    assert final.claim_token is None
    assert "call 2" in (final.last_error or "")  # the history of the last failure is kept

    clock.advance(3600)
    assert dispatcher.dispatch_due() == 0
    assert len(calls) == 3


def test_handler_always_failing_is_dead_after_exactly_four_attempts(services, clock, dispatcher, put, row) -> None:
    calls: list[int] = []

    def broken(delivery: Delivery) -> None:
        calls.append(delivery.attempt)
        raise RuntimeError(f"WMS said 500 on attempt {delivery.attempt}")

    services.handlers.register("wms.outbound", broken)
    row_id = put("wms.outbound", {"order_id": "A1"})
    start = clock.now()
    seen_at = []
    for offset in (0, 30, 150, 450, 450 + 300, 3600, 86400):
        clock.set(start + timedelta(seconds=offset))
        if dispatcher.dispatch_due():
            seen_at.append(offset)

    assert calls == [1, 2, 3, 4]
    assert seen_at == [0, 30, 150, 450]  # +30 s, +2 min, +5 min from each previous attempt
    dead = row(row_id)
    assert dead.status == "dead"
    assert dead.attempts == 4
    assert dead.last_error == "RuntimeError: WMS said 500 on attempt 4"
    assert dead.delivered_at is None


def test_unknown_topic_is_a_failure_with_a_clear_error(dispatcher, put, row) -> None:
    row_id = put("no.such.topic", {"x": 1})
    assert dispatcher.dispatch_due() == 1
    failed = row(row_id)
    assert failed.status == "pending"
    assert failed.attempts == 1
    assert "no handler registered for outbox topic 'no.such.topic'" in (failed.last_error or "")


def test_per_row_retry_schedule_is_honoured(services, clock, dispatcher, put, row) -> None:
    calls: list[int] = []

    def broken(delivery: Delivery) -> None:
        calls.append(delivery.attempt)
        raise RuntimeError("nope")

    services.handlers.register("sms.send", broken)
    row_id = put("sms.send", {}, retry_schedule=(5,))
    assert dispatcher.dispatch_due() == 1
    clock.advance(4)
    assert dispatcher.dispatch_due() == 0
    clock.advance(1)
    assert dispatcher.dispatch_due() == 1
    assert calls == [1, 2]
    assert row(row_id).status == "dead"  # max_attempts = len(schedule) + 1 = 2


def test_one_pass_tries_each_due_row_once_even_with_a_zero_delay(services, dispatcher, put) -> None:
    calls: list[str] = []

    def broken(delivery: Delivery) -> None:
        calls.append(delivery.delivery_id)
        raise RuntimeError("still down")

    services.handlers.register("zero.delay", broken)
    put("zero.delay", {}, retry_schedule=(0, 0, 0))
    put("zero.delay", {}, retry_schedule=(0, 0, 0))
    assert dispatcher.dispatch_due() == 2
    assert len(calls) == 2 and len(set(calls)) == 2
    assert dispatcher.dispatch_due() == 2  # due again at once on the next pass


def test_delivery_carries_a_stable_delivery_id_across_attempts(services, clock, dispatcher, put, row) -> None:
    ids: list[str] = []

    def flaky(delivery: Delivery) -> None:
        ids.append(delivery.delivery_id)
        if len(ids) == 1:
            raise TimeoutError("slow platform")

    services.handlers.register("platform.writeback", flaky)
    row_id = put("platform.writeback", {"tid": "T1"})
    dispatcher.dispatch_due()
    clock.advance(30)
    dispatcher.dispatch_due()
    assert len(ids) == 2 and ids[0] == ids[1] == row(row_id).delivery_id
