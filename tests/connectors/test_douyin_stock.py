"""抖店 stock connector over real HTTP against the fake open API: products and their SKUs are
listed page by page (19-digit ids kept exact), each push overwrites the figure
(sku.syncStock incremental=false) with param_json sent byte for byte as signed, and Doudian's
error codes arrive as ConnectorErrors without the app secret."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from connectors import douyin_stock
from connectors.douyin_stock import DouyinStockConnector
from connectors.fakes.douyin_stock import FakeDouyinStock
from connectors.outbound import ConnectorError, MissingSetting

APP_KEY = "7000000000000000001"
SECRET = "dd-app-secret-0001"
TOKEN = "dd-access-token-0001"


@pytest.fixture
def fake() -> Iterator[FakeDouyinStock]:
    with FakeDouyinStock(app_key=APP_KEY, app_secret=SECRET, access_token=TOKEN) as server:
        yield server  # type: ignore[misc]


def connector(fake: FakeDouyinStock, secret: str = SECRET, **kwargs: object) -> DouyinStockConnector:
    return DouyinStockConnector(app_key=APP_KEY, app_secret=secret, access_token=TOKEN, base_url=fake.url,
                                **kwargs)  # type: ignore[arg-type]


def paths(fake: FakeDouyinStock, path: str) -> list[dict[str, object]]:
    return [r.json for r in fake.requests if r.path == path]


def test_sign_matches_hand_computed_vectors() -> None:
    body = douyin_stock.param_json({"page": 0, "order_id": "6912"})
    assert body == '{"order_id":"6912","page":0}'
    assert douyin_stock.sign("7000", "secret", "order.orderDetail", body, 1700000000) == \
        "419426884db18da62a8a699b2cd7c3f4afba2cc7a721c5fedff3936b90cc22dd"
    assert douyin_stock.sign("7000", "secret", "order.orderDetail", body, 1700000000, "md5") == \
        "611efad092db198310367aff136d7b65"
    update = douyin_stock.param_json({"stock_num": 7, "sku_id": 1750000000000000001,
                                      "product_id": 3600000000000000001, "incremental": False})
    assert update == '{"incremental":false,"product_id":3600000000000000001,"sku_id":1750000000000000001,"stock_num":7}'
    # HMAC-SHA256(key="secret", "secretapp_key7000methodsku.syncStockparam_json{…}timestamp1700000000v2secret")
    assert douyin_stock.sign("7000", "secret", "sku.syncStock", update, "1700000000") == \
        "9269fec31d169cbd6d22cdc00e6e7d63ea152c5cb2c8c212da2dd11f8dddc47d"
    assert douyin_stock.param_json({"b": {"z": 1, "a": "红"}, "a": []}) == '{"a":[],"b":{"a":"红","z":1}}'


def test_push_then_fetch_round_trip(fake: FakeDouyinStock) -> None:
    fake.add_sku("DY-DRESS-S", 6, item="连衣裙")
    fake.add_sku("DY-DRESS-M", 2, item="连衣裙")
    fake.add_sku("DY-HAT", 11)
    shop = connector(fake)
    assert shop.fetch_stock() == {"DY-DRESS-S": 6, "DY-DRESS-M": 2, "DY-HAT": 11}

    shop.push_stock("DY-DRESS-M", 30, version=3)
    assert shop.fetch_stock() == {"DY-DRESS-S": 6, "DY-DRESS-M": 30, "DY-HAT": 11}
    dress = fake.catalogue["DY-DRESS-M"]
    assert dress.item_id > 2**53 and dress.sku_id is not None and dress.sku_id > 2**53
    assert [(m["product_id"], m["sku_id"], m["stock_num"], m["incremental"]) for m in fake.messages] == \
        [(dress.item_id, dress.sku_id, 30, False)]
    sync = next(r for r in fake.requests if r.path == "/sku/syncStock")
    assert sync.body.decode() == douyin_stock.param_json(
        {"product_id": dress.item_id, "sku_id": dress.sku_id, "stock_num": 30, "incremental": False})
    assert sync.query["method"] == "sku.syncStock" and sync.query["v"] == "2"
    assert sync.query["sign_method"] == "hmac-sha256" and sync.headers["x-open-no-old-err-code"] == "1"
    assert abs(int(sync.query["timestamp"]) - time.time()) < 60


def test_a_push_overwrites_what_buyers_left_and_a_retry_changes_nothing(fake: FakeDouyinStock) -> None:
    fake.add_sku("DY-HAT", 10)
    shop = connector(fake)
    shop.fetch_stock()
    assert fake.sell("DY-HAT", 9) and not fake.sell("DY-HAT", 2)
    fake.show("DY-HAT", 50)  # the merchant typed a figure in the console
    shop.push_stock("DY-HAT", 5, version=2)
    shop.push_stock("DY-HAT", 5, version=2)
    assert fake.shown("DY-HAT") == 5
    assert [(m["stock_num"], m["incremental"]) for m in fake.messages] == [(5, False), (5, False)]


def test_wrong_secret_is_refused_with_isv_signature_invalid_and_never_echoed(fake: FakeDouyinStock) -> None:
    fake.add_sku("DY-HAT", 1)
    with pytest.raises(ConnectorError) as info:
        connector(fake, secret="stolen-secret-9").fetch_stock()
    assert info.value.code == 40003 and info.value.permanent
    assert "isv.signature-invalid" in str(info.value)
    assert "stolen-secret-9" not in str(info.value) and TOKEN not in str(info.value)


def test_unknown_merchant_code_lists_once_more_then_is_permanent(fake: FakeDouyinStock) -> None:
    fake.add_sku("DY-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.add_sku("DY-B", 2)
    shop.push_stock("DY-B", 9, version=1)
    assert fake.shown("DY-B") == 9
    listings = len(paths(fake, "/product/listV2"))
    with pytest.raises(ConnectorError, match="unknown merchant code 'DY-NONE'") as info:
        shop.push_stock("DY-NONE", 1, version=1)
    assert info.value.permanent
    assert len(paths(fake, "/product/listV2")) == listings + 1
    assert [m["code"] for m in fake.messages] == ["DY-B"]


def test_listing_follows_every_page(fake: FakeDouyinStock) -> None:
    fake.page_size_cap = 2
    for n in range(5):
        fake.add_sku(f"DY-{n}", n)
    fake.add_sku("DY-2-BIG", 20, item="DY-2")
    assert connector(fake).fetch_stock() == \
        {"DY-0": 0, "DY-1": 1, "DY-2": 2, "DY-2-BIG": 20, "DY-3": 3, "DY-4": 4}
    assert [p["page"] for p in paths(fake, "/product/listV2")] == [1, 2, 3]
    assert len(paths(fake, "/sku/list")) == 5


def test_http_500_is_retryable_and_the_retry_succeeds(fake: FakeDouyinStock) -> None:
    fake.add_sku("DY-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.fail_next(1, 500)
    with pytest.raises(ConnectorError, match="HTTP 500") as info:
        shop.push_stock("DY-A", 4, version=1)
    assert info.value.code == 500 and not info.value.permanent
    shop.push_stock("DY-A", 4, version=1)
    assert fake.shown("DY-A") == 4


def test_service_errors_are_retried_and_business_refusals_are_not(fake: FakeDouyinStock) -> None:
    fake.add_sku("DY-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.answer_next({"code": 20000, "msg": "系统错误", "sub_code": "isp.service-error:256",
                      "sub_msg": "服务打瞌睡了，请稍后再试", "data": None})
    with pytest.raises(ConnectorError, match="code 20000") as info:
        shop.push_stock("DY-A", 2, version=1)
    assert not info.value.permanent
    fake.answer_next({"code": 50002, "msg": "业务处理失败", "sub_code": "isv.business-failed:1",
                      "sub_msg": "系统繁忙，请稍后重试", "data": None})
    with pytest.raises(ConnectorError) as info:
        shop.push_stock("DY-A", 2, version=1)
    assert not info.value.permanent
    fake.answer_next({"code": 50002, "msg": "业务处理失败", "sub_code": "isv.business-failed:1",
                      "sub_msg": "商品已删除", "data": None})
    with pytest.raises(ConnectorError, match="商品已删除") as info:
        shop.push_stock("DY-A", 2, version=1)
    assert info.value.code == 50002 and info.value.permanent


def test_the_fake_checks_the_body_is_what_was_signed(fake: FakeDouyinStock) -> None:
    fake.add_sku("DY-A", 1)
    shop = connector(fake)
    signed = douyin_stock.param_json({"page": 1, "size": 100})
    ts = str(int(time.time()))
    query = {"app_key": APP_KEY, "method": "product.listV2", "access_token": TOKEN, "timestamp": ts, "v": "2",
             "sign_method": "hmac-sha256", "sign": douyin_stock.sign(APP_KEY, SECRET, "product.listV2", signed, ts)}
    answer = shop.post(f"{fake.url}/product/listV2", params=query, data=json.dumps({"page": 1, "size": 100}).encode(),
                       timeout=5)
    assert answer["code"] == 40003 and answer["sub_code"] == "isv.signature-invalid"
    assert shop.post(f"{fake.url}/product/listV2", params=query, data=signed.encode(), timeout=5)["code"] == 10000


def test_build_takes_the_documented_credentials(fake: FakeDouyinStock) -> None:
    fake.add_sku("DY-A", 4)
    shop = douyin_stock.build("douyin", {"app_key": APP_KEY, "app_secret": SECRET, "access_token": TOKEN,
                                         "shop": "12345"}, fake.url)
    assert shop.channel == "douyin" and shop.fetch_stock() == {"DY-A": 4}
    with pytest.raises(MissingSetting, match="app_key"):
        douyin_stock.build("douyin", {"app_secret": SECRET, "access_token": TOKEN}, fake.url)
