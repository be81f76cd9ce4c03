"""Kuaishou order client over real HTTP against the fake shop: orders modified in a window come
back page by page by cursor, each once, in Kuaishou's field names (fen, ms, ciphertext plus
masked receiver); the detail matches; pushes decrypt only with our key and name the order;
refusals are classified (3000xx permanent, QPS and daily quota retryable with retry_after)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.fakes.kuaishou_orders import OID_BASE, encrypt_message
from connectors.fakes.kuaishou_stock import FakeKuaishouStock
from connectors.fakes.order_scenario import OrderScenario
from connectors.fakes.order_shop import decipher
from connectors.kuaishou_orders import KuaishouOrderClient, build, decrypt_message
from connectors.kuaishou_stock import KuaishouStockConnector, limit_wait
from connectors.outbound import ConnectorError
from connectors.platform_stock import RateLimited
from engine.orders.ports import PushRefused
from tests.connectors.order_support import T0, Clock, PushReceiver

APP_KEY, SECRET, TOKEN = "ks700000000001", "sign-secret-ks", "ChFvYXV0aC5hY2Nlc3NUb2tlbhJ"
MESSAGE_KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(clock: Clock) -> Iterator[FakeKuaishouStock]:
    scenario = OrderScenario(seed=3, now=clock)
    with FakeKuaishouStock(APP_KEY, SECRET, TOKEN, scenario=scenario, page_limit=2, message_key=MESSAGE_KEY,
                           now=clock) as fake:
        yield fake  # type: ignore[misc]


def client(fake: FakeKuaishouStock, clock: Clock, message_key: str | None = MESSAGE_KEY) -> KuaishouOrderClient:
    gateway = KuaishouStockConnector(app_key=APP_KEY, app_secret=SECRET, access_token=TOKEN, base_url=fake.url,
                                     clock=clock)
    return KuaishouOrderClient(gateway, message_key=message_key, clock=clock)


def oids(pages) -> list[int]:
    return [o["orderBaseInfo"]["oid"] for page in pages for o in page.orders]


def test_push_decryption_vectors_computed_with_openssl() -> None:
    # printf '{"test":true}' | openssl enc -aes-256-cbc -K 000102…1f -iv 0…0 | base64
    assert decrypt_message(b"1IOF41tC6FFIGxGciotpaQ==", MESSAGE_KEY) == b'{"test":true}'
    # AES-128: key "0123456789abcdef"; the same openssl command with -aes-128-cbc
    key128 = base64.b64encode(b"0123456789abcdef").decode()
    body = b"GUTYrYKpDWoLh7+EA8B8kunrg8hQXYx5Qtn7gYVBiy78/5SzXc3/kmF6hqfMc5W7\n"
    assert decrypt_message(body, key128) == b'{"eventId":"1_2","appKey":"ks123"}'
    assert encrypt_message(b'{"test":true}', MESSAGE_KEY) == b"1IOF41tC6FFIGxGciotpaQ=="
    with pytest.raises(PushRefused, match="does not decrypt"):
        decrypt_message(body, MESSAGE_KEY)
    with pytest.raises(PushRefused, match="not base64"):
        decrypt_message(b"{not base64}", MESSAGE_KEY)
    with pytest.raises(PushRefused, match="not an AES key") as info:  # our set-up is wrong, not the caller
        decrypt_message(body, base64.b64encode(b"short").decode())
    assert info.value.status == 503


def test_a_window_lists_every_order_modified_in_it_once_across_cursor_pages(shop: FakeKuaishouStock,
                                                                              clock: Clock) -> None:
    start = clock.at()
    two_lines = shop.scenario.create([("TEA-LJ-250", 2), ("SCARF-SILK", 1)], freight=800)
    clock.advance(60)
    singles = [shop.scenario.create([("TSHIRT-W-M", 1)]) for _ in range(3)]
    clock.advance(60)
    ks = client(shop, clock)
    pages = list(ks.pages(start, clock.at()))
    expected = {OID_BASE + two_lines.number * 100 + 1, OID_BASE + two_lines.number * 100 + 2,
                *(OID_BASE + o.number * 100 + 1 for o in singles)}
    assert sorted(oids(pages)) == sorted(expected) and len(pages) == 3  # 5 orders, 2 a page
    calls = [json.loads(r.query["param"]) for r in shop.requests if r.path == "/open/order/cursor/list"]
    assert calls[0]["cursor"] == "" and all(c["cursor"] for c in calls[1:]) and {c["queryType"] for c in calls} == {2}
    assert calls[0]["beginTime"] == int(T0 * 1000) and calls[0]["endTime"] == int((T0 + 120) * 1000)
    # the first line carries the freight; money in fen, times in ms
    first = next(o for p in pages for o in p.orders if o["orderBaseInfo"]["oid"] == min(expected))
    line = two_lines.lines[0]
    assert first["orderBaseInfo"]["totalFee"] == line.paid_amount + 800 and first["orderBaseInfo"]["expressFee"] == 800
    assert first["orderBaseInfo"]["status"] == 30 and first["orderBaseInfo"]["payTime"] == int(T0 * 1000) + 1000  # paid a second later
    assert first["orderItemInfo"]["skuNick"] == "TEA-LJ-250" and first["orderItemInfo"]["num"] == 2
    address = first["orderAddress"]
    assert decipher(address["encryptedMobile"]) == two_lines.buyer.phone
    assert address["desensitiseMobile"] == two_lines.buyer.phone[:3] + "****" + two_lines.buyer.phone[-4:]
    assert address["province"] == two_lines.buyer.province and two_lines.buyer.name not in json.dumps(first)


def test_only_orders_modified_in_the_window_and_a_status_change_moves_an_order(shop: FakeKuaishouStock,
                                                                               clock: Clock) -> None:
    old = shop.scenario.create([("MUG-01", 1)])
    clock.advance(600)
    start = clock.at()
    new = shop.scenario.create([("MUG-01", 1)])
    clock.advance(600)
    ks = client(shop, clock)
    assert oids(ks.pages(start, clock.at())) == [OID_BASE + new.number * 100 + 1]
    shop.scenario.ship(old.number)
    clock.advance(1)
    listed = [o for p in ks.pages(start, clock.at()) for o in p.orders]
    assert {o["orderBaseInfo"]["oid"]: o["orderBaseInfo"]["status"] for o in listed} == {
        OID_BASE + old.number * 100 + 1: 40, OID_BASE + new.number * 100 + 1: 30}
    detail = ks.order_detail(str(OID_BASE + old.number * 100 + 1))
    assert detail == next(o for o in listed if o["orderBaseInfo"]["oid"] == OID_BASE + old.number * 100 + 1)
    assert detail["orderLogisticsInfo"][0]["expressNo"]


def test_windows_over_seven_days_or_ninety_days_back_are_permanent(shop: FakeKuaishouStock, clock: Clock) -> None:
    ks = client(shop, clock)
    with pytest.raises(ConnectorError, match="wider than 7 days") as info:
        list(ks.pages(clock.at() - timedelta(days=8), clock.at()))
    assert info.value.permanent and not shop.requests
    with pytest.raises(ConnectorError, match="result 300005: 只能查询最近90天内的订单") as info:
        list(ks.pages(clock.at() - timedelta(days=95), clock.at() - timedelta(days=90, seconds=1)))
    assert info.value.permanent and info.value.code == 300005


def test_qps_limit_is_retryable_after_a_second_and_quota_until_beijing_midnight(clock: Clock) -> None:
    with FakeKuaishouStock(APP_KEY, SECRET, TOKEN, now=clock) as fake:
        fake.limit_orders(1, 60.0)
        ks = client(fake, clock)
        assert list(ks.pages(clock.at() - timedelta(hours=1), clock.at())) == []
        with pytest.raises(RateLimited, match="Exceed qps limit") as info:
            list(ks.pages(clock.at() - timedelta(hours=1), clock.at()))
        assert info.value.retry_after == 1.0 and not info.value.permanent and SECRET not in str(info.value)
    # 2025-12-03 00:00 UTC is 08:00 in Beijing: the quota comes back in 16 hours
    assert limit_wait("[1017] exceed quota limit,[apiId:open.order.detail;primaryUserId:3649418105]", T0) == 16 * 3600
    assert limit_wait("签名验证失败", T0) is None


def test_http_500_is_retryable_and_an_unknown_order_is_refused(shop: FakeKuaishouStock, clock: Clock) -> None:
    ks = client(shop, clock)
    shop.fail_next(1, status=502)
    with pytest.raises(ConnectorError, match="HTTP 502") as info:
        list(ks.pages(clock.at() - timedelta(hours=1), clock.at()))
    assert not info.value.permanent
    with pytest.raises(ConnectorError, match="result 3: 订单不存在"):
        ks.order_detail(str(OID_BASE + 99_900))
    with pytest.raises(ConnectorError, match="not a Kuaishou oid") as info:
        ks.order_detail("P123")
    assert info.value.permanent


@pytest.fixture
def receiver(shop: FakeKuaishouStock, clock: Clock) -> Iterator[PushReceiver]:
    ks = client(shop, clock)
    with PushReceiver(ks.parse_push, ks.push_ack) as fake:
        shop.push.push_to(fake.url + "/api/v1/sources/kuaishou/push")
        yield fake  # type: ignore[misc]


def test_pushes_decrypt_to_order_events_named_by_oid(shop: FakeKuaishouStock, receiver: PushReceiver,
                                                     clock: Clock) -> None:
    order = shop.scenario.create([("TEA-LJ-250", 1), ("TEA-PE-357", 1)], paid=False)
    clock.advance(30)
    shop.scenario.pay(order.number)
    shop.push.drain()
    first, second = OID_BASE + order.number * 100 + 1, OID_BASE + order.number * 100 + 2
    assert [(e.event, e.order_id) for e in receiver.events] == [
        ("kwaishop_order_addOrder", str(first)), ("kwaishop_order_addOrder", str(second)),
        ("kwaishop_order_paySuccess", str(first)), ("kwaishop_order_paySuccess", str(second))]
    assert all(e.order is None for e in receiver.events)  # the detail is fetched
    assert receiver.events[2].raw["info"]["status"] == 30
    assert {status for status, _ in shop.push.sent} == {200} and shop.push.answers[0] == {"result": 1}
    assert len({e.message_id for e in receiver.events}) == 4


def test_a_replayed_push_carries_the_same_message_id(shop: FakeKuaishouStock, clock: Clock) -> None:
    ks = client(shop, clock)
    shop.scenario.create([("MUG-01", 1)], paid=False)
    body = shop.push.encode(shop.push_messages(shop.scenario.orders()[-1], "created")[0])
    assert ks.parse_push({}, body) == ks.parse_push({}, body)


def test_a_push_under_another_key_app_or_too_old_is_refused(shop: FakeKuaishouStock, clock: Clock) -> None:
    ks = client(shop, clock)
    order = shop.scenario.create([("MUG-01", 1)], paid=False)
    body = shop.push.encode(shop.push_messages(order, "created")[0])
    other_key = base64.b64encode(bytes(32)).decode()
    with pytest.raises(PushRefused, match="does not decrypt") as info:
        client(shop, clock, message_key=other_key).parse_push({}, body)
    assert info.value.status == 401
    shop.app_key = "ks-someone-else"
    with pytest.raises(PushRefused, match="not ours") as info:
        ks.parse_push({}, shop.push.encode(shop.push_messages(order, "created")[0]))
    assert info.value.status == 403
    clock.advance(7 * 3600)
    with pytest.raises(PushRefused, match="older than"):
        ks.parse_push({}, body)
    with pytest.raises(PushRefused, match="no message key") as info:
        client(shop, clock, message_key=None).parse_push({}, body)
    assert info.value.status == 404


def test_the_heartbeat_is_acknowledged_without_events(shop: FakeKuaishouStock, clock: Clock) -> None:
    assert client(shop, clock).parse_push({}, encrypt_message(b'{"test":true}', MESSAGE_KEY)) == []


def test_build_reads_the_message_key_from_credentials_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    creds = {"app_key": APP_KEY, "app_secret": SECRET, "access_token": TOKEN}
    monkeypatch.delenv("KUAISHOU_MESSAGE_KEY", raising=False)
    assert build("kuaishou", creds).message_key is None
    assert build("kuaishou", {**creds, "message_key": MESSAGE_KEY}).message_key == MESSAGE_KEY
    monkeypatch.setenv("KUAISHOU_MESSAGE_KEY", "from-env")
    monkeypatch.setenv("ORDERPULSE_KUAISHOU_BASE_URL", "http://127.0.0.1:9")
    ks = build("kuaishou", creds, lambda: T0)
    assert ks.message_key == "from-env" and ks.max_window == timedelta(days=7) and ks.platform == "kuaishou"
    assert ks.gateway.base_url == "http://127.0.0.1:9" and ks.gateway.clock() == T0
