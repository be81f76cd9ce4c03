"""Xiaohongshu order client over real HTTP against the fake shop: a 30-minute window is read
from its last page to its first, each order fetched in detail with its receiver as
ciphertext plus masked forms; pushes verify the header MD5 sign (the platform's own example
vector), the timestamp and the app; refusals are classified (rate limit retryable)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.fakes.order_scenario import OrderScenario
from connectors.fakes.order_shop import decipher
from connectors.fakes.xiaohongshu_orders import order_id_of
from connectors.fakes.xiaohongshu_stock import API_PATH, FakeXiaohongshuStock
from connectors.outbound import ConnectorError
from connectors.platform_stock import RateLimited
from connectors.xiaohongshu_orders import XiaohongshuOrderClient, build, push_sign
from connectors.xiaohongshu_stock import XiaohongshuStockConnector
from engine.orders.ports import PushRefused
from tests.connectors.order_support import Clock, PushedRequest, PushReceiver

APP_ID, SECRET, TOKEN = "21d6a1b2748be8de0", "429aa3aee9ef9e4a858210", "token-67aba019fbb44eb9a9e6f2f4022799aa"
PUSH_PATH = "/api/v1/sources/xiaohongshu/push"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(clock: Clock) -> Iterator[FakeXiaohongshuStock]:
    with FakeXiaohongshuStock(APP_ID, SECRET, TOKEN, scenario=OrderScenario(seed=5, now=clock), page_limit=2,
                              now=clock) as fake:
        yield fake  # type: ignore[misc]


def client(fake: FakeXiaohongshuStock, clock: Clock, push_url: str = PUSH_PATH) -> XiaohongshuOrderClient:
    gateway = XiaohongshuStockConnector(app_key=APP_ID, app_secret=SECRET, access_token=TOKEN, base_url=fake.url,
                                        clock=clock)
    return XiaohongshuOrderClient(gateway, push_url=push_url, clock=clock)


def methods(fake: FakeXiaohongshuStock) -> list[tuple[str, int | None]]:
    return [(r.json["method"], r.json.get("pageNo")) for r in fake.requests if r.path == API_PATH]


def test_push_sign_matches_the_platforms_own_example() -> None:
    # 041 应用消息推送: url /open_api/msg?canshu=test, app-key xhs, timestamp 1625475843,
    # app-secret 9a539709cafc1efc9ef05838be468a28 → a7b7430de338783293443133ab9b9357
    params = {"canshu": "test", "app-key": "xhs", "timestamp": "1625475843"}
    assert push_sign("/open_api/msg", params, "9a539709cafc1efc9ef05838be468a28") == "a7b7430de338783293443133ab9b9357"


def test_a_window_is_read_from_its_last_page_to_its_first_with_details_and_receivers(
        shop: FakeXiaohongshuStock, clock: Clock) -> None:
    start = clock.at()
    made = [shop.scenario.create([("LIP-01", 1), ("TEA-LJ-250", 2)], freight=600)]
    clock.advance(10)
    made += [shop.scenario.create([("TSHIRT-W-M", 1)]) for _ in range(3)]
    unpaid = shop.scenario.create([("TSHIRT-W-L", 1)], paid=False)
    clock.advance(10)
    xhs = client(shop, clock)
    pages = list(xhs.pages(start, clock.at()))
    assert [p.page_no for p in pages] == [3, 2, 1] and {p.total for p in pages} == {5}
    listed = [o["orderId"] for p in pages for o in p.orders]
    assert sorted(listed) == sorted(order_id_of(o) for o in [*made, unpaid])
    assert [m for m in methods(shop) if m[0] == "order.getOrderList"] == [
        ("order.getOrderList", 1), ("order.getOrderList", 3), ("order.getOrderList", 2), ("order.getOrderList", 1)]
    list_call = next(r.json for r in shop.requests if r.json["method"] == "order.getOrderList")
    assert list_call["timeType"] == 2 and list_call["endTime"] - list_call["startTime"] == 20
    orders = {o["orderId"]: o for p in pages for o in p.orders}
    first = orders[order_id_of(made[0])]
    assert first["totalPayAmount"] == made[0].paid_amount and first["totalShippingFree"] == 600
    assert [s["erpcode"] for s in first["skuList"]] == ["LIP-01", "TEA-LJ-250"]
    assert first["orderStatus"] == 4 and first["paidTime"] > first["createdTime"] > 0
    buyer = made[0].buyer
    assert decipher(first["receiverInfo"]["receiverPhone"]) == buyer.phone
    assert first["receiverPhone"] == buyer.phone[:3] + "****" + buyer.phone[-4:]
    assert first["receiverName"] == buyer.name[0] + "*" * (len(buyer.name) - 1)
    assert buyer.phone not in json.dumps(first, ensure_ascii=False)
    # an unpaid order has no receiver from the platform: the region only
    assert orders[order_id_of(unpaid)]["receiverPhone"] is None
    assert orders[order_id_of(unpaid)]["receiverProvinceName"] == unpaid.buyer.province
    # one receiver call and one desensitise call per page, not per order
    assert sum(m[0] == "order.getOrderReceiverInfo" for m in methods(shop)) == 3
    assert sum(m[0] == "data.batchDesensitise" for m in methods(shop)) == 3


def test_detail_and_a_status_change(shop: FakeXiaohongshuStock, clock: Clock) -> None:
    order = shop.scenario.create([("LIP-02", 1)])
    clock.advance(5)
    shop.scenario.cancel(order.number)
    detail = client(shop, clock).order_detail(order_id_of(order))
    assert detail["orderStatus"] == 8 and detail["cancelTime"] == int(clock.now) * 1000
    with pytest.raises(ConnectorError, match="error_code 5: 订单不存在"):
        client(shop, clock).order_detail("P1")


def test_windows_over_thirty_minutes_are_refused_before_calling(shop: FakeXiaohongshuStock, clock: Clock) -> None:
    with pytest.raises(ConnectorError, match="wider than 30 minutes") as info:
        list(client(shop, clock).pages(clock.at() - timedelta(minutes=31), clock.at()))
    assert info.value.permanent and not shop.requests


def test_rate_limit_is_retryable(clock: Clock) -> None:
    with FakeXiaohongshuStock(APP_ID, SECRET, TOKEN, now=clock) as fake:
        fake.limit_orders(1, 1.0)
        xhs = client(fake, clock)
        fake.scenario.create([("LIP-01", 1)])
        with pytest.raises(RateLimited, match="HTTP 429") as info:
            list(xhs.pages(clock.at() - timedelta(minutes=5), clock.at() + timedelta(seconds=5)))
        assert info.value.retry_after == 1.0 and not info.value.permanent
        fake.answer_next({"success": False, "error_code": 1002, "error_msg": "接口调用触发限流", "data": None})
        clock.advance(2)
        with pytest.raises(RateLimited, match="触发限流"):
            xhs.order_detail("P1")


@pytest.fixture
def receiver(shop: FakeXiaohongshuStock, clock: Clock) -> Iterator[PushReceiver]:
    xhs = client(shop, clock, PUSH_PATH + "?shop=1")
    with PushReceiver(xhs.parse_push, xhs.push_ack) as fake:
        shop.push.push_to(fake.url + PUSH_PATH + "?shop=1")
        yield fake  # type: ignore[misc]


def test_pushes_verify_and_name_the_order(shop: FakeXiaohongshuStock, receiver: PushReceiver, clock: Clock) -> None:
    order = shop.scenario.create([("LIP-01", 1)])
    clock.advance(60)
    shop.scenario.ship(order.number)
    shop.scenario.refund(order.number)
    shop.push.drain()
    assert [(e.event, e.order_id, e.raw["data"].get("orderStatus")) for e in receiver.events] == [
        ("msg_fulfillment_status_change", order_id_of(order), 1),
        ("msg_fulfillment_status_change", order_id_of(order), 4),
        ("msg_fulfillment_status_change", order_id_of(order), 6),
        ("msg_after_sale_create", order_id_of(order), None)]
    assert {answer["success"] for answer in shop.push.answers} == {True} and not receiver.refusals


def test_bad_sign_wrong_app_stale_timestamp_and_replay(shop: FakeXiaohongshuStock, clock: Clock) -> None:
    xhs = client(shop, clock)
    shop.push.url = "http://127.0.0.1:9" + PUSH_PATH  # where the platform would post (no sender started)
    order = shop.scenario.create([("LIP-01", 1)], paid=False)
    body = shop.push.encode(shop.push_messages(order, "created")[0])
    message = PushedRequest(shop.push_headers(body), body)
    events = xhs.parse_push(message.headers, message.body)
    assert [e.order_id for e in events] == [order_id_of(order)]
    assert xhs.parse_push(message.headers, message.body)[0].message_id == events[0].message_id  # a replay
    with pytest.raises(PushRefused, match="does not verify"):
        xhs.parse_push({**message.headers, "sign": "0" * 32}, message.body)
    with pytest.raises(PushRefused, match="does not verify"):  # signed for another URL
        client(shop, clock, "/other/push").parse_push(message.headers, message.body)
    with pytest.raises(PushRefused, match="not our appId"):
        xhs.parse_push({**message.headers, "app-key": "someone"}, message.body)
    clock.advance(601)
    with pytest.raises(PushRefused, match="more than 600 s"):
        xhs.parse_push(message.headers, message.body)
    with pytest.raises(PushRefused, match="without a sign"):
        xhs.parse_push({}, message.body)
    assert xhs.parse_push({}, b'{"test":true}') == []  # the console's probe


def test_build_defaults_the_push_path_to_the_sources_route() -> None:
    creds = {"app_key": APP_ID, "app_secret": SECRET, "access_token": TOKEN}
    assert build("xiaohongshu", creds).push_path == "/api/v1/sources/xiaohongshu/push"
    assert build("xiaohongshu", {**creds, "source": "xhs_main"}).push_path == "/api/v1/sources/xhs_main/push"
    custom = build("xiaohongshu", {**creds, "push_url": "https://op.example.com/op/api/v1/sources/x/push?k=1"})
    assert custom.push_path == "/op/api/v1/sources/x/push" and custom.push_query == {"k": "1"}
    assert custom.max_window == timedelta(minutes=30)
