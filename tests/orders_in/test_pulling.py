"""Orders pulled from the Taobao, PDD and Douyin fakes over real HTTP, driven by the scheduler
on a manual clock: an order created on the platform is stored within one pull interval, its
later status change and a cancellation follow, and reading the same window again, or an older
version of the order, changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.orders.intake import intake_platform_order
from engine.orders.pull_model import OrderPullCursor
from engine.orders.pulling import pull_source
from engine.orders.sources import order_client, order_sources
from engine.scheduler import Scheduler, load_periodic_jobs
from tests.orders_in.conftest import count_orders, platform_order_id, stored, timeline

CHANNELS = ("taobao", "pdd", "douyin")
PULL_EVERY = 60  # sources_six_channels: pull orders every 60s


@pytest.fixture
def scheduler(services: Any, platforms: Any) -> Scheduler:
    scheduler = Scheduler(services, holder="test-process")
    load_periodic_jobs(scheduler, ["engine.orders.jobs"])
    scheduler.run_pending(services.clock.now())  # the first pull: nothing there yet
    return scheduler


def tick(services: Any, scheduler: Scheduler, seconds: float) -> None:
    """Move the clock by ``seconds`` in 5 s steps, running what is due at each step."""
    steps = int(seconds // 5)
    for _ in range(steps):
        services.clock.advance(5)
        scheduler.run_pending(services.clock.now())


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_order_arrives_within_one_pull_interval_then_its_shipment_and_a_cancellation(
        services: Any, platforms: Any, scheduler: Scheduler, channel: str) -> None:
    shop = platforms[channel].scenario
    services.clock.advance(3)
    order = shop.create([("TEA-LJ-250", 2), ("SCARF-SILK", 1)], freight=800, platform_discount=500,
                        seller_discount=2000)
    order_id = platform_order_id(channel, order)
    tick(services, scheduler, PULL_EVERY)
    row = stored(services, channel, order_id)
    assert row is not None, f"{channel} order {order_id} not stored within {PULL_EVERY}s"
    assert (row.status, row.total, row.freight, row.source, row.via) == (
        "awaiting_shipment", 2 * 16800 + 31700 - 2500 + 800, 800, channel, "pull")
    assert row.doc["lines"][0]["sku_id"] == "TEA-LJ-250" and row.doc["lines"][0]["qty"] == 2
    assert row.doc["receiver"]["province"] == order.buyer.province

    services.clock.advance(7)
    shop.ship(order.number)
    cancelled = shop.create([("TSHIRT-W-M", 1)])
    services.clock.advance(20)
    shop.cancel(cancelled.number)
    tick(services, scheduler, PULL_EVERY)
    assert stored(services, channel, order_id).status == "shipped"
    closed = stored(services, channel, platform_order_id(channel, cancelled))
    assert closed is not None and closed.status == "cancelled"
    assert [e.kind for e in timeline(services, row.id)][:1] == ["created"]
    assert len(timeline(services, row.id)) == 2  # created, then the shipment: nothing else
    assert count_orders(services, channel) == 2


@pytest.mark.parametrize("channel", CHANNELS)
def test_reading_a_window_again_and_an_older_version_change_nothing(
        services: Any, platforms: Any, scheduler: Scheduler, channel: str) -> None:
    fake = platforms[channel]
    services.clock.advance(3)
    order = fake.scenario.create([("TEA-PE-357", 1)])
    older = {"taobao": lambda: fake.render_trade(order), "pdd": lambda: fake.render_order(order),
             "douyin": lambda: fake.render_order(order)}[channel]()
    services.clock.advance(10)
    fake.scenario.ship(order.number)
    tick(services, scheduler, PULL_EVERY)
    row = stored(services, channel, platform_order_id(channel, order))
    assert row is not None and row.status == "shipped"
    # the same window again (a puller that restarts from an older cursor): all unchanged
    with services.db.transaction() as s:
        s.get(OrderPullCursor, channel).next_start = services.clock.now() - timedelta(minutes=10)
    source = order_sources(services)[channel]
    again = pull_source(services, channel, order_client(services, source))
    assert again.error is None and again.orders >= 1
    assert set(again.outcomes) == {"unchanged"}
    # the platform's older version (paid, before shipment) arrives late: stale, nothing changes
    late = intake_platform_order(services, source=channel, payload=older, via="push")
    assert late.outcome == "stale"
    after = stored(services, channel, platform_order_id(channel, order))
    assert (after.status, after.revision) == ("shipped", row.revision)
    assert count_orders(services, channel) == 1


def test_the_cursor_moves_to_the_end_of_the_last_window_read(services: Any, platforms: Any,
                                                             scheduler: Scheduler) -> None:
    tick(services, scheduler, PULL_EVERY)
    with services.db.session() as s:
        cursors = {c.source: c for c in s.scalars(select(OrderPullCursor))}
    assert set(CHANNELS) <= set(cursors)
    for channel in CHANNELS:
        c = cursors[channel]
        assert c.window_end is None and c.failures == 0 and c.retry_at is None
        assert services.clock.now() - timedelta(seconds=PULL_EVERY + 5) <= c.next_start <= services.clock.now()
