"""The fake shops' order scenario: seeded histories that depend on the seed and the clock only,
exact fen, versions a platform showing whole seconds can still tell apart, refunds with the
templates' return reasons, and listeners told after the change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.fakes.order_scenario import (
    ADDRESSES,
    CANCELLED,
    DEMO_LIFECYCLE,
    SHIPPED,
    InvalidStep,
    OrderScenario,
    ScenarioOrder,
    return_reasons,
    split_by_amount,
)
from engine.clock import ManualClock


def shop(clock: ManualClock, **kwargs: object) -> OrderScenario:
    return OrderScenario(now=lambda: clock.now().timestamp(), **kwargs)  # type: ignore[arg-type]


def history(scenario: OrderScenario) -> list[tuple[int, str, int, datetime, int]]:
    return [(o.number, o.status, o.version, o.updated_at, o.paid_amount) for o in scenario.orders()]


def test_the_same_seed_and_clock_give_the_same_history_however_often_it_is_read() -> None:
    a_clock, b_clock = ManualClock(), ManualClock()
    a = shop(a_clock, seed=7, rate_per_minute=3, lifecycle=DEMO_LIFECYCLE)
    b = shop(b_clock, seed=7, rate_per_minute=3, lifecycle=DEMO_LIFECYCLE)
    for _ in range(120):  # a reads every 30 s, b once at the end
        a_clock.advance(30)
        a.advance()
    b_clock.advance(3600)
    assert history(a) == history(b)
    orders = a.orders()
    assert 120 <= len(orders) <= 300  # about 3 a minute plus bursts over an hour
    statuses = {o.status for o in orders}
    assert {"completed", "shipped", "cancelled"} <= statuses
    assert any(o.refunds and o.refunds[-1].reason_code != "ordered_by_mistake" for o in orders)
    assert history(shop(ManualClock(), seed=8, rate_per_minute=3)) != history(a)


def test_amounts_are_whole_fen_and_discounts_split_over_lines_to_the_fen() -> None:
    clock = ManualClock()
    scenario = shop(clock, seed=3)
    order = scenario.create([("TEA-LJ-250", 2), ("TSHIRT-W-M", 1), ("SCARF-SILK", 1)], freight=800,
                            platform_discount=1000, seller_discount=2000)
    assert order.goods_amount == 2 * 16800 + 8990 + 31700 == 74290
    assert [line.discount for line in order.lines] == split_by_amount(3000, [33600, 8990, 31700]) == [1357, 363, 1280]
    assert order.paid_amount == 74290 - 3000 + 800
    assert sum(line.paid_amount for line in order.lines) == 74290 - 3000
    assert (order.buyer.province, order.buyer.city, order.buyer.district) in {a[:3] for a in ADDRESSES}
    assert len(order.buyer.phone) == 11 and order.buyer.phone.startswith("1")


def test_every_change_moves_updated_at_by_at_least_a_second_and_bumps_the_version() -> None:
    clock = ManualClock(datetime(2026, 12, 1, 2, 0, 0, 500000, tzinfo=UTC))
    scenario = shop(clock)
    order = scenario.create([("TEA-PE-357", 1)], platform_discount=0, seller_discount=0)  # created, paid: one instant
    assert order.created_at == datetime(2026, 12, 1, 2, 0, 0, tzinfo=UTC)
    assert order.paid_at == order.updated_at == order.created_at + timedelta(seconds=1)
    assert order.version == 2
    shipped = scenario.ship(order.number)
    assert shipped.status == SHIPPED and shipped.courier is not None
    assert shipped.updated_at == order.updated_at + timedelta(seconds=1) and shipped.version == 3
    refunded = scenario.refund(order.number, 1, "fabric_pilling")
    assert refunded.refunds[0].reason == "面料起球" and refunded.refunds[0].amount == 23900
    done = scenario.refund(order.number, 1, status="success")
    assert done.refunds[0].status == "success" and done.refunded_amount == 23900
    with pytest.raises(InvalidStep):
        scenario.cancel(order.number)  # shipped: too late to cancel


def test_a_paid_order_cancelled_before_shipment_is_refunded_in_full() -> None:
    clock = ManualClock()
    scenario = shop(clock)
    order = scenario.create([("TSHIRT-W-L", 2)], freight=0, platform_discount=0, seller_discount=0)
    clock.advance(60)
    cancelled = scenario.cancel(order.number)
    assert cancelled.status == CANCELLED
    assert [(r.amount, r.reason, r.status) for r in cancelled.refunds] == [(17980, "拍错/不想要", "success")]
    assert scenario.modified_between(clock.now() - timedelta(seconds=1), clock.now() + timedelta(seconds=1))[0].number \
        == order.number


def test_listeners_hear_each_change_in_order_and_may_read_the_scenario() -> None:
    clock = ManualClock()
    scenario = shop(clock)
    heard: list[tuple[int, str, int]] = []

    def listener(order: ScenarioOrder, event: str) -> None:
        current = scenario.get(order.number)  # a pushing fake reads the order back: no deadlock
        assert current is not None
        heard.append((order.number, event, order.version))

    scenario.on_change(listener)
    order = scenario.create([("TEA-LJ-250", 1)])
    scenario.ship(order.number)
    assert heard == [(1, "created", 1), (1, "paid", 2), (1, "shipped", 3)]


def test_the_twelve_return_reasons_come_from_the_templates_library() -> None:
    reasons = return_reasons()
    assert len(reasons) == 12 and {"面料起球", "七天无理由"} <= {r["label"] for r in reasons}


def test_modified_between_lists_the_most_recently_changed_first() -> None:
    clock = ManualClock()
    scenario = shop(clock)
    first = scenario.create([("TEA-LJ-250", 1)])
    clock.advance(10)
    second = scenario.create([("TEA-LJ-250", 1)])
    clock.advance(10)
    scenario.ship(first.number)
    start = first.created_at
    listed = scenario.modified_between(start, clock.now() + timedelta(seconds=1))
    assert [o.number for o in listed] == [first.number, second.number]
    assert scenario.modified_between(start, first.updated_at) == []


def test_produce_starts_arrivals_from_now_at_the_given_pace() -> None:
    clock = ManualClock()
    scenario = shop(clock, seed=5)
    clock.advance(3600)
    assert scenario.orders() == []  # rate 0: nothing by itself
    scenario.produce(6, lifecycle=DEMO_LIFECYCLE)
    clock.advance(600)
    made = scenario.orders()
    assert 30 <= len(made) <= 110  # about 6 a minute for ten minutes, maybe a burst
    assert min(o.created_at for o in made) >= clock.now() - timedelta(seconds=600)
    scenario.produce(0)
    count = len(scenario.orders())
    clock.advance(600)
    assert len(scenario.orders()) == count
