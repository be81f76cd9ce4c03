"""Mini-program shop order client over real HTTP against the fake backend: orders by updated
time through an opaque cursor, each once, even when one changes between pages; the detail;
signed pushes carrying the whole order (good, bad signature, stale timestamp, replay); a rate
limit answer is retryable after the time the backend names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.fakes.miniprogram_orders import out_trade_no_of
from connectors.fakes.miniprogram_stock import FakeMiniprogramStock
from connectors.fakes.order_scenario import OrderScenario
from connectors.miniprogram_orders import MiniprogramOrderClient, build
from connectors.miniprogram_stock import MiniprogramStockConnector
from connectors.outbound import ConnectorError
from connectors.platform_stock import RateLimited
from engine.orders.ports import PushRefused
from tests.connectors.order_support import T0, Clock, PushedRequest, PushReceiver

KEY, SECRET = "orderpulse", "mini-secret-1"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(clock: Clock) -> Iterator[FakeMiniprogramStock]:
    with FakeMiniprogramStock(KEY, SECRET, scenario=OrderScenario(seed=9, now=clock), page_limit=2,
                              now=clock) as fake:
        yield fake  # type: ignore[misc]


def client(fake: FakeMiniprogramStock, clock: Clock) -> MiniprogramOrderClient:
    gateway = MiniprogramStockConnector(app_key=KEY, app_secret=SECRET, base_url=fake.url, clock=clock)
    return MiniprogramOrderClient(gateway, clock=clock)


def test_a_push_signed_as_computed_with_openssl_verifies() -> None:
    # printf '1764720000.<body>' | openssl dgst -sha256 -hmac mini-secret-1
    body = b'{"event_id":"e1","event":"order.paid","order":{"out_trade_no":"MP1"}}'
    signature = "fbf0e2b2a18f273356dd1976f73c2e1111ce71d76cc19c8d8c78f3bbd93893d3"
    gateway = MiniprogramStockConnector(app_key=KEY, app_secret=SECRET, base_url="http://127.0.0.1:9", clock=lambda: T0)
    events = MiniprogramOrderClient(gateway, clock=lambda: T0).parse_push(
        {"x-orderpulse-key": KEY, "x-orderpulse-timestamp": "1764720000", "x-orderpulse-signature": signature}, body)
    assert [(e.message_id, e.order_id, e.event, e.order) for e in events] == [
        ("e1", "MP1", "order.paid", {"out_trade_no": "MP1"})]


def test_orders_come_by_updated_time_through_the_cursor_each_once(shop: FakeMiniprogramStock, clock: Clock) -> None:
    start = clock.at()
    made = []
    for _ in range(5):
        made.append(shop.scenario.create([("TEA-PE-357", 1)]))
        clock.advance(3)
    mini = client(shop, clock)
    pages = mini.pages(start, clock.at())
    first = next(pages)
    shop.scenario.ship(made[0].number)  # changes while we page: moves behind the window's end
    rest = list(pages)
    listed = [o["out_trade_no"] for p in [first, *rest] for o in p.orders]
    assert listed == [out_trade_no_of(o) for o in made] and [p.page_no for p in [first, *rest]] == [1, 2, 3]
    order = first.orders[0]
    assert order["status"] == "paid" and order["amount"]["payer_total"] == made[0].paid_amount
    assert order["items"][0]["sku"] == "TEA-PE-357" and order["updated_at"] == "2025-12-03T08:00:01+08:00"
    assert order["receiver"]["phone"] == made[0].buyer.phone
    detail = mini.order_detail(out_trade_no_of(made[0]))
    assert detail["status"] == "shipped" and detail["delivery"]["tracking_no"]


def test_a_window_over_a_day_and_an_unknown_order_are_permanent(shop: FakeMiniprogramStock, clock: Clock) -> None:
    mini = client(shop, clock)
    with pytest.raises(ConnectorError, match="wider than one day") as info:
        list(mini.pages(clock.at() - timedelta(days=2), clock.at()))
    assert info.value.permanent
    with pytest.raises(ConnectorError, match="no such order") as info:
        mini.order_detail("MP9999999999")
    assert info.value.permanent


def test_rate_limit_waits_what_the_backend_says(clock: Clock) -> None:
    with FakeMiniprogramStock(KEY, SECRET, now=clock) as fake:
        fake.limit_orders(1, 10.0)
        mini = client(fake, clock)
        assert list(mini.pages(clock.at() - timedelta(hours=1), clock.at())) == []
        with pytest.raises(RateLimited, match="rate_limited") as info:
            mini.order_detail("MP0000000001")
        assert info.value.retry_after == 1.0
    with FakeMiniprogramStock(KEY, "another-secret", now=clock) as fake:
        with pytest.raises(ConnectorError, match="bad_signature") as info:
            list(client(fake, clock).pages(clock.at() - timedelta(hours=1), clock.at()))
        assert info.value.permanent


@pytest.fixture
def receiver(shop: FakeMiniprogramStock, clock: Clock) -> Iterator[PushReceiver]:
    mini = client(shop, clock)
    with PushReceiver(mini.parse_push, mini.push_ack) as fake:
        shop.push.push_to(fake.url + "/api/v1/sources/miniprogram/push")
        yield fake  # type: ignore[misc]


def test_pushes_carry_the_whole_order(shop: FakeMiniprogramStock, receiver: PushReceiver, clock: Clock) -> None:
    order = shop.scenario.create([("SCARF-SILK", 1)])
    clock.advance(10)
    shop.scenario.cancel(order.number)
    shop.push.drain()
    assert [(e.event, e.order["status"]) for e in receiver.events] == [
        ("order.created", "unpaid"), ("order.paid", "paid"), ("order.cancelled", "refunded")]
    assert receiver.events[-1].order["refunds"][0]["amount"] == order.lines[0].paid_amount
    assert {answer["code"] for answer in shop.push.answers} == {0}


def test_bad_signature_stale_timestamp_wrong_key_and_replay(shop: FakeMiniprogramStock, clock: Clock) -> None:
    mini = client(shop, clock)
    order = shop.scenario.create([("SCARF-SILK", 1)], paid=False)
    body = shop.push.encode(shop.push_messages(order, "created")[0])
    message = PushedRequest(shop.push_headers(body), body)
    events = mini.parse_push(message.headers, message.body)
    assert [e.message_id for e in events] == [f"{out_trade_no_of(order)}:1:created"]
    assert mini.parse_push(message.headers, message.body) == events  # a replay: same id, nothing new
    tampered = message.body.replace(b'"unpaid"', b'"completed"')
    assert tampered != message.body
    with pytest.raises(PushRefused, match="does not verify"):
        mini.parse_push(message.headers, tampered)
    with pytest.raises(PushRefused, match="not the one"):
        mini.parse_push({**message.headers, "X-OrderPulse-Key": "other"}, message.body)
    clock.advance(301)
    with pytest.raises(PushRefused, match="more than 300 s") as info:
        mini.parse_push(message.headers, message.body)
    assert info.value.status == 401
    with pytest.raises(PushRefused, match="larger than") as info:
        mini.parse_push(message.headers, b" " * (1024 * 1024 + 1))
    assert info.value.status == 413
    assert json.loads(message.body)["order"]["out_trade_no"] == out_trade_no_of(order)


def test_build_needs_the_backend_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERPULSE_MINIPROGRAM_BASE_URL", raising=False)
    with pytest.raises(ConnectorError, match="base_url"):
        build("miniprogram", {"app_key": KEY, "app_secret": SECRET})
    monkeypatch.setenv("ORDERPULSE_MINIPROGRAM_BASE_URL", "http://shop.example")
    mini = build("miniprogram", {"app_key": KEY, "app_secret": SECRET})
    assert mini.max_window == timedelta(days=1) and mini.gateway.base_url == "http://shop.example"
