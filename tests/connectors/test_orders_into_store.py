"""An order made in the fake Kuaishou, Xiaohongshu and mini-program shop reaches the order
store through the published ``sources_six_channels`` mapping and cleaning, by pull (the
client's pages of a window into intake) and by push (a verified push message, the order's
detail when the message carries only its id, into intake); its later status change arrives
too, and a repeat or an older version changes nothing. Real HTTP, the real store (SQLite and,
with the PostgreSQL variables, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connectors.fakes.kuaishou_orders import OID_BASE
from connectors.fakes.kuaishou_stock import FakeKuaishouStock
from connectors.fakes.miniprogram_orders import out_trade_no_of
from connectors.fakes.miniprogram_stock import FakeMiniprogramStock
from connectors.fakes.order_scenario import OrderScenario, ScenarioOrder
from connectors.fakes.xiaohongshu_orders import order_id_of
from connectors.fakes.xiaohongshu_stock import FakeXiaohongshuStock
from connectors.kuaishou_orders import KuaishouOrderClient
from connectors.kuaishou_stock import KuaishouStockConnector
from connectors.miniprogram_orders import MiniprogramOrderClient
from connectors.miniprogram_stock import MiniprogramStockConnector
from connectors.xiaohongshu_orders import XiaohongshuOrderClient
from connectors.xiaohongshu_stock import XiaohongshuStockConnector
from engine.orders.intake import intake_platform_order, intake_platform_orders
from engine.orders.model import Order, OrderLine
from engine.orders.ports import PlatformOrderClient, PushEvent
from engine.services import Services
from tests.connectors.order_support import Clock, PushReceiver

PUSH_PATH = "/api/v1/sources/{}/push"


@dataclass
class Shop:
    """One platform: its fake, the order client speaking to it, the order's platform id."""

    fake: Any  # a fake gateway with its OrderShop (scenario, push sender)
    client: PlatformOrderClient
    order_id: Callable[[ScenarioOrder], str]


def kuaishou(clock: Clock) -> Iterator[Shop]:
    with FakeKuaishouStock("ks-app", "ks-secret", "ks-token", scenario=OrderScenario(seed=1, now=clock),
                           now=clock) as fake:
        gateway = KuaishouStockConnector(app_key="ks-app", app_secret="ks-secret", access_token="ks-token",
                                         base_url=fake.url, clock=clock)
        yield Shop(fake, KuaishouOrderClient(gateway, message_key=fake.message_key, clock=clock),
                   lambda o: str(OID_BASE + o.number * 100 + 1))


def xiaohongshu(clock: Clock) -> Iterator[Shop]:
    with FakeXiaohongshuStock("xhs-app", "xhs-secret", "xhs-token", scenario=OrderScenario(seed=1, now=clock),
                              now=clock) as fake:
        gateway = XiaohongshuStockConnector(app_key="xhs-app", app_secret="xhs-secret", access_token="xhs-token",
                                            base_url=fake.url, clock=clock)
        yield Shop(fake, XiaohongshuOrderClient(gateway, push_url=PUSH_PATH.format("xiaohongshu"), clock=clock),
                   order_id_of)


def miniprogram(clock: Clock) -> Iterator[Shop]:
    with FakeMiniprogramStock("op", "mini-secret", scenario=OrderScenario(seed=1, now=clock), now=clock) as fake:
        gateway = MiniprogramStockConnector(app_key="op", app_secret="mini-secret", base_url=fake.url, clock=clock)
        yield Shop(fake, MiniprogramOrderClient(gateway, clock=clock), out_trade_no_of)


SHOPS = {"kuaishou": kuaishou, "xiaohongshu": xiaohongshu, "miniprogram": miniprogram}


@pytest.fixture
def published(services: Services) -> Services:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction() as s:
        import_template(s, "sources_six_channels", actor="admin", now=services.clock.now())
        rulesets.publish(s, "sources_six_channels", actor="admin", now=services.clock.now(), note="test")
    return services


@pytest.fixture(params=sorted(SHOPS))
def shop(request: pytest.FixtureRequest) -> Iterator[tuple[str, Shop, Clock]]:
    clock = Clock()
    for made in SHOPS[request.param](clock):
        yield request.param, made, clock


def stored(services: Services, channel: str, order_id: str) -> tuple[Order, list[OrderLine]] | None:
    with services.db.session() as s:
        order = s.scalar(select(Order).where(Order.channel == channel, Order.order_id == order_id))
        if order is None:
            return None
        lines = list(s.scalars(select(OrderLine).where(OrderLine.order_pk == order.id).order_by(OrderLine.line_no)))
        s.expunge_all()
        return order, lines


def pull(services: Services, source: str, client: PlatformOrderClient, clock: Clock) -> list[str]:
    """One pull of the last hour (two windows where the platform allows less): the outcomes."""
    outcomes: list[str] = []
    end = clock.at() + timedelta(seconds=1)
    start = end - timedelta(hours=1)
    while start < end:
        stop = min(end, start + client.max_window)
        for page in client.pages(start, stop):
            outcomes += [o.outcome for o in intake_platform_orders(services, source=source, payloads=page.orders,
                                                                   via="pull")]
        start = stop
    return outcomes


def test_an_order_arrives_by_pull_then_its_shipment_and_repeats_change_nothing(
        published: Services, shop: tuple[str, Shop, Clock]) -> None:
    source, made, clock = shop
    order = made.fake.scenario.create([("TEA-LJ-250", 1)], freight=600, platform_discount=0, seller_discount=0)
    clock.advance(5)
    assert pull(published, source, made.client, clock) == ["created"]
    row, lines = stored(published, source, made.order_id(order)) or pytest.fail("not stored")
    assert (row.status, row.freight, row.province, row.via) == ("awaiting_shipment", 600, order.buyer.province, "pull")
    assert [(x.sku_id, x.qty) for x in lines] == [("TEA-LJ-250", 1)]
    assert row.updated_at == order.updated_at
    old_payload = made.client.order_detail(made.order_id(order))

    made.fake.scenario.ship(order.number)
    clock.advance(5)
    assert pull(published, source, made.client, clock) == ["updated"]
    assert pull(published, source, made.client, clock) == ["unchanged"]  # the overlap of the next pull
    assert intake_platform_order(published, source=source, payload=old_payload, via="pull").outcome == "stale"
    row, _ = stored(published, source, made.order_id(order)) or pytest.fail("not stored")
    assert row.status == "shipped" and row.revision == 2


def test_an_order_arrives_by_push_and_a_replay_changes_nothing(published: Services,
                                                                 shop: tuple[str, Shop, Clock]) -> None:
    source, made, clock = shop
    outcomes: list[tuple[str, str]] = []

    def receive(headers: dict[str, str], body: bytes) -> list[PushEvent]:
        events = made.client.parse_push(headers, body)  # verified before anything is believed
        for event in events:
            payload: dict[str, Any] = event.order or made.client.order_detail(event.order_id)
            outcomes.append((event.message_id,
                             intake_platform_order(published, source=source, payload=payload, via="push").outcome))
        return events

    with PushReceiver(receive, made.client.push_ack) as receiver:  # type: ignore[attr-defined]
        made.fake.push.push_to(receiver.url + PUSH_PATH.format(source))
        order = made.fake.scenario.create([("SCARF-SILK", 1)])
        made.fake.push.drain()  # the id-only pushes fetch the detail as it is when they arrive
        clock.advance(3)
        made.fake.scenario.cancel(order.number)
        made.fake.push.drain()
    # created, paid, cancelled: one message each. A message with the order's id only fetches the
    # detail as it is on arrival (already paid: the paid message then changes nothing); the shop's
    # messages carry each version whole.
    expected = ["created", "updated", "updated"] if source == "miniprogram" else ["created", "unchanged", "updated"]
    assert not receiver.refusals and [o for _, o in outcomes] == expected
    assert len({m for m, _ in outcomes}) == 3
    row, _ = stored(published, source, made.order_id(order)) or pytest.fail("not stored")
    assert (row.status, row.via) == ("cancelled", "push")
    # the same order again (a replayed message fetches the same version): nothing changes
    again = intake_platform_order(published, source=source, payload=made.client.order_detail(made.order_id(order)),
                                  via="push")
    assert again.outcome == "unchanged"
