"""Orders of the Kuaishou, Xiaohongshu and mini-program fakes reach the order store through
the published ``sources_six_channels`` sources, mapping and cleaning: by pull (the scheduler's
puller, within one pull interval) and by push (the fake posts over real HTTP to OrderPulse's
``POST /api/v1/sources/{source}/push``, the message is kept and the outbox stores the order,
fetching its detail when the message carries only its id). A later status change and a
cancellation arrive too; a replayed push, a window read again and an older version change
nothing; a badly signed push is refused and stores nothing. Real HTTP both ways, the real
store (SQLite, and PostgreSQL with its variables), the services' manual clock everywhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from connectors.fakes.order_scenario import ScenarioOrder
from engine.orders.intake import intake_platform_order
from engine.orders.pull_model import OrderPullCursor, OrderPushMessage
from engine.orders.pulling import pull_source
from engine.orders.push import intake_fetched_pushes
from engine.orders.sources import order_client, order_sources
from engine.outbox.dispatcher import Dispatcher
from engine.scheduler import Scheduler
from tests.orders_in.conftest import count_orders, platform_order_id, stored
from tests.orders_in.test_pulling import scheduler, tick  # noqa: F401 - fixture
from tests.orders_in.test_push import live_url  # noqa: F401 - fixture

CHANNELS = ("kuaishou", "xiaohongshu", "miniprogram")
PULL_EVERY = 60  # sources_six_channels: pull orders every 60s


def platform_payload(fake: Any, channel: str, order: ScenarioOrder) -> dict[str, Any]:
    """The order as the platform's detail gives it now (read without a request)."""
    if channel == "kuaishou":
        return fake.render(order, order.lines[0])  # type: ignore[no-any-return]
    return fake.render(order)  # type: ignore[no-any-return]


def deliver(services: Any, fake: Any) -> None:
    """Wait for the fake's pushes to be answered, then run the outbox and the push intake once."""
    fake.push.drain()
    Dispatcher(services, worker_id="test").dispatch_due(now=services.clock.now(), limit=1000)
    intake_fetched_pushes(services)


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_order_arrives_by_pull_within_one_interval_then_its_shipment_and_a_cancellation(
        services: Any, platforms: Any, scheduler: Scheduler, channel: str) -> None:  # noqa: F811
    shop = platforms[channel].scenario
    services.clock.advance(3)
    order = shop.create([("TEA-LJ-250", 1)], freight=600, platform_discount=0, seller_discount=0)
    tick(services, scheduler, PULL_EVERY)
    row = stored(services, channel, platform_order_id(channel, order))
    assert row is not None, f"{channel} order not stored within {PULL_EVERY}s"
    assert (row.status, row.total, row.freight, row.via) == ("awaiting_shipment", 16800 + 600, 600, "pull")
    assert row.doc["lines"][0]["sku_id"] == "TEA-LJ-250" and row.province == order.buyer.province
    older = platform_payload(platforms[channel], channel, shop.get(order.number))

    services.clock.advance(7)
    shop.ship(order.number)
    cancelled = shop.create([("TSHIRT-W-M", 1)], freight=0)
    services.clock.advance(20)
    shop.cancel(cancelled.number)
    tick(services, scheduler, PULL_EVERY)
    assert stored(services, channel, platform_order_id(channel, order)).status == "shipped"
    assert stored(services, channel, platform_order_id(channel, cancelled)).status == "cancelled"
    assert count_orders(services, channel) == 2

    # the same window again, and the platform's older version arriving late: nothing changes
    with services.db.transaction() as s:
        s.get(OrderPullCursor, channel).next_start = services.clock.now() - timedelta(minutes=10)
    again = pull_source(services, channel, order_client(services, order_sources(services)[channel]))
    assert again.error is None and set(again.outcomes) == {"unchanged"}
    assert intake_platform_order(services, source=channel, payload=older, via="pull").outcome == "stale"
    assert stored(services, channel, platform_order_id(channel, order)).revision == row.revision + 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_order_arrives_by_push_a_replay_changes_nothing_and_a_forgery_is_refused(
        services: Any, platforms: Any, live_url: str, channel: str) -> None:  # noqa: F811
    fake = platforms[channel]
    url = f"{live_url}/api/v1/sources/{channel}/push"
    fake.push.push_to(url)
    services.clock.advance(3)
    order = fake.scenario.create([("SCARF-SILK", 1)], freight=0, platform_discount=0, seller_discount=0)
    deliver(services, fake)
    row = stored(services, channel, platform_order_id(channel, order))
    assert row is not None and (row.status, row.via, row.total) == ("awaiting_shipment", "push", 31700)
    assert {status for status, _ in fake.push.sent} == {200} and fake.push.answers[0] == fake_ack(channel)

    services.clock.advance(5)
    fake.scenario.cancel(order.number)
    deliver(services, fake)
    assert stored(services, channel, platform_order_id(channel, order)).status == "cancelled"

    with services.db.session() as s:
        kept = s.scalar(select(func.count()).select_from(OrderPushMessage).where(OrderPushMessage.source == channel))
    last_body = fake.push.sent[-1][1]
    replay = requests.post(url, data=last_body, headers=fake.push.sign(last_body), timeout=5)
    assert replay.status_code == 200
    forged = last_body[:-8] + (b"AAAAAAA=" if channel == "kuaishou" else b"  \n\n  ]")
    headers = fake.push.sign(last_body)
    if channel != "kuaishou":  # Kuaishou's body is its own proof; the others sign in headers
        headers = {**headers, **({"sign": "0" * 32} if channel == "xiaohongshu" else {"X-OrderPulse-Signature": "0"})}
    refused = requests.post(url, data=forged, headers=headers, timeout=5)
    assert refused.status_code in (400, 401) and refused.json()["error"]["code"] == "push_refused"
    deliver(services, fake)
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OrderPushMessage)
                        .where(OrderPushMessage.source == channel)) == kept
    assert count_orders(services, channel) == 1
    # versions stored: the shop's messages carry each version (created unpaid, paid, cancelled);
    # an id-only message fetches the order as it is on arrival (already paid, then cancelled)
    assert stored(services, channel, platform_order_id(channel, order)).revision == (3 if channel == "miniprogram" else 2)


def fake_ack(channel: str) -> dict[str, Any]:
    return {"kuaishou": {"result": 1}, "xiaohongshu": {"success": True, "error_code": 0, "error_msg": ""},
            "miniprogram": {"code": 0}}[channel]
